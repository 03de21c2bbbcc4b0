"""Helpers that let tests speak the product's language: a team, a client's request, the mailbox."""
import base64
import json
import re
import socket
import types

from chalicelib import mailer


class Api:
    def __init__(self, client, stream_arn: str):
        self.client = client
        self.stream_arn = stream_arn
        self._reader = None
        self._mail_seen = 0

    # --- HTTP ---------------------------------------------------------------------------------------------
    def call(self, method: str, path: str, body=None, token: str | None = None, headers: dict | None = None,
             raw: bytes | None = None):
        sent = {"Content-Type": "application/json"}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        return self.client.http.request(method, path, headers=sent, body=payload)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    # --- product shortcuts ----------------------------------------------------------------------------------
    def new_team(self, name: str = "Team", admin_email: str = "admin@team.example"):
        from chalicelib import teams

        team_id, member_id = teams.create_team(name, admin_email, "Ada Admin")
        return types.SimpleNamespace(id=team_id, admin_id=member_id, token=teams.bearer_token(team_id, member_id),
                                     admin_email=admin_email)

    def add_member(self, team, member_id: str, email: str, role: str = "member") -> str:
        answer = self.put(f"/teams/{team.id}/members/{member_id}", {"email": email, "name": member_id, "role": role},
                          token=team.token)
        assert answer.status_code in (200, 201), answer.body
        from chalicelib import teams

        return teams.bearer_token(team.id, member_id)

    def new_dossier(self, team, client_email: str, title: str = "File", token: str | None = None, **extra):
        body = {"client_email": client_email, "title": title, "fields": {"name": "Client"}, **extra}
        answer = self.post(f"/teams/{team.id}/dossiers", body, token=token or team.token)
        assert answer.status_code == 201, answer.body
        return answer.json_body

    def add_document(self, team, dossier_id: str, content: bytes = b"%PDF-1.4 passport", filename="passport.pdf"):
        answer = self.post(f"/teams/{team.id}/dossiers/{dossier_id}/documents",
                           {"filename": filename, "content_base64": base64.b64encode(content).decode()},
                           token=team.token)
        assert answer.status_code == 201, answer.body
        return answer.json_body

    def submit(self, team, email: str, type_: str = "erasure", **extra):
        return self.post(f"/portal/{team.id}/privacy/requests", {"email": email, "type": type_, **extra})

    def verified_request(self, team, email: str, type_: str = "erasure", **extra) -> str:
        """A request the client submitted and verified through the emailed link; the officer's email is sent."""
        answer = self.submit(team, email, type_, **extra)
        assert answer.status_code == 202, answer.body
        self.pump()
        link = self.last_link_to(email, "/portal/privacy/verify/")
        assert self.get(link).status_code == 200
        self.pump()
        return answer.json_body["request_id"]

    # --- the stream, fed to the real handler ----------------------------------------------------------------
    def stream_records(self) -> list[dict]:
        from devtools.stack import StreamReader

        from devtools import iam

        # Lambda's event source mapping reads the stream with the stream function's role
        with iam.running("on_request_change"):
            if self._reader is None:
                self._reader = StreamReader(self.stream_arn)
            return self._reader.read()

    def pump(self) -> list[dict]:
        """Run the queued execution slices, then deliver the requests table's new stream records (as moto
        produced them) to the stream handler."""
        self.work()
        records = self.stream_records()
        if records:
            self.deliver(records)
        return records

    # --- the execution queue, fed to the real worker ---------------------------------------------------------
    def queued(self, limit: int = 10) -> list[str]:
        """Take the execution queue's waiting messages (as SQS would hand them to the worker)."""
        from chalicelib import aws, config
        from devtools import iam

        with iam.running("execution_worker"):  # Lambda's SQS poller acts with the worker's role
            url = aws.queue_url(config.get("EXECUTION_QUEUE"))
            answer = aws.sqs().receive_message(QueueUrl=url, MaxNumberOfMessages=limit, VisibilityTimeout=0)
            messages = answer.get("Messages", [])
            for message in messages:
                aws.sqs().delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return [m["Body"] for m in messages]

    def work(self, max_slices: int = 10_000, runtime_ms: int = 300_000) -> list[str]:
        """Run execution slices until the queue is empty, each with the worker's Lambda timeout (300 s) as
        its time; returns each slice's outcome."""
        from chalice.local import LambdaContext

        from app import execution_worker

        outcomes = []
        while len(outcomes) < max_slices:
            bodies = self.queued(1)
            if not bodies:
                break
            event = self.client.events.generate_sqs_event(message_bodies=bodies)
            context = LambdaContext("execution_worker", memory_size=512, max_runtime_ms=runtime_ms)
            outcomes += execution_worker(event, context)["slices"]
        return outcomes

    def deliver(self, records: list[dict]):
        return self.client.lambda_.invoke("on_request_change", {"Records": records})

    # --- the mailbox ----------------------------------------------------------------------------------------
    def mail(self) -> list[dict]:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
        return [mailer.parse(m.raw_data) for m in sent]

    def mail_to(self, address: str) -> list[dict]:
        return [m for m in self.mail() if address in m["to"]]

    def last_link_to(self, address: str, marker: str) -> str:
        for message in reversed(self.mail_to(address)):
            found = re.search(r"https?://[^/\s]+(" + re.escape(marker) + r"[^\s\"<]+)", message["text"])
            if found:
                return found.group(1)
        raise AssertionError(f"no email to {address} with a link containing {marker}")

    # --- added for the spec suite: reading the stored state directly (inside the moto mock) ------------------
    def settings(self, team, token: str | None = None) -> dict:
        answer = self.get(f"/teams/{team.id}/privacy/settings", token=token or team.token)
        assert answer.status_code == 200, answer.body
        return answer.json_body

    def request_view(self, team, request_id: str, token: str | None = None) -> dict:
        answer = self.get(f"/teams/{team.id}/privacy/requests/{request_id}", token=token or team.token)
        assert answer.status_code == 200, answer.body
        return answer.json_body

    def execute(self, team, request_id: str, body=None, token: str | None = None):
        """POST execute (202 once claimed), then let the worker carry the work out, as it would in seconds."""
        answer = self.post(f"/teams/{team.id}/privacy/requests/{request_id}/execute",
                           {"confirm": True} if body is None else body, token=token or team.token)
        self.work()
        return answer

    def executed(self, team, request_id: str, body=None, token: str | None = None) -> dict:
        """Execute (202, in_progress), let the worker finish, and return the request as it then is."""
        answer = self.execute(team, request_id, body, token)
        assert answer.status_code == 202, answer.body
        assert answer.json_body["status"] == "in_progress", answer.body
        return self.request_view(team, request_id)

    def state(self) -> dict:
        """Every item of every table and every S3 object key: compare before/after to prove nothing was written."""
        return snapshot()

    def s3_keys(self, prefix: str = "") -> list[str]:
        return s3_keys(prefix)


def snapshot() -> dict:
    from chalicelib import aws
    from chalicelib.models import ALL_MODELS

    ddb = aws.client("dynamodb")
    out = {}
    for model in ALL_MODELS:
        items, kwargs = [], {"TableName": model.Meta.table_name, "ConsistentRead": True}
        while True:
            page = ddb.scan(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        out[model.Meta.table_name] = sorted(json.dumps(item, sort_keys=True) for item in items)
    out["s3"] = s3_keys("")
    return out


def s3_keys(prefix: str = "") -> list[str]:
    from chalicelib import aws, config

    keys = []
    paginator = aws.s3().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=config.get("DOCUMENTS_BUCKET"), Prefix=prefix):
        keys.extend(obj["Key"] for obj in page.get("Contents", []))
    return sorted(keys)


def shift_time(monkeypatch, delta):
    """Move the whole product (our clock and PyJWT's expiry checks) `delta` into the future."""
    import datetime as dt

    from chalicelib import clock

    later = clock.now() + delta
    monkeypatch.setattr(clock, "now", lambda: later)

    class Frozen:
        def __getattr__(self, name):
            return getattr(dt.datetime, name)

        def now(self, tz=None):
            return later

    monkeypatch.setattr("jwt.api_jwt.datetime", Frozen())


def without_rate_counters(state: dict) -> dict:
    """A snapshot less the rate counters: a portal submission counts against its source's limit even when it is
    refused (an unknown team), and a counter is not data."""
    return {table: [item for item in items if '"rate#' not in item] for table, items in state.items()}


def alter_one_char(token: str, index: int | None = None) -> str:
    """The token with one character of its signature changed (never the last one, whose low bits are padding)."""
    position = token.rindex(".") + 1 if index is None else index
    replacement = "A" if token[position] != "A" else "B"
    return token[:position] + replacement + token[position + 1:]


def error_shape(answer) -> dict:
    """A Chalice error answer: a JSON object with a Code and a Message."""
    body = answer.json_body
    assert isinstance(body, dict), answer.body
    assert set(body) >= {"Code", "Message"}, body
    assert isinstance(body["Code"], str) and isinstance(body["Message"], str) and body["Message"], body
    return body


def resolve_hooks_publicly(monkeypatch) -> None:
    """hooks.example.com resolves to a public address (a webhook URL the SSRF checks accept); other names as usual."""
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host == "hooks.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
