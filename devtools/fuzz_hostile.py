"""`make fuzz-hostile`: hostile inputs (devtools/hostile.py) against the `make run` stack, and what they did.

Starts the stack as `make fuzz` does (devtools/fuzz.py's Stack), then, one input at a time:
- portal submissions and consent withdrawals with hostile addresses; each accepted one is followed through its
  verification email and its link (which sends the officer's email and the client's receipt);
- portal messages, denial and extension reasons, execution notes (account and action link), settings texts,
  member names, dossier titles and fields with hostile text; document filenames, then an access export of them;
- members and dossiers with hostile addresses.

Every answer must be a 2xx or a 4xx. Every email moto's SES accepted must go only to addresses somebody
submitted (in their normalised form) or a member's, without Cc or Bcc, with only headers the mailer writes
(hostile.problems). The stream must keep flowing: each step waits for its emails; a batch the stack's stream
worker fails twice in a row is a blocked stream (Lambda would retry it until the record leaves the stream, and
every later email waits behind it) — the input is reported, and the harness deletes its request so the run can
go on (the handler skips records of a request that no longer exists). After the hostile addresses, and again at
the very end, a legitimate request must get its verification email in time, and the worker must not still be
retrying a batch.

    make fuzz-hostile            # everything (under 2 minutes)
    make fuzz-hostile-short      # a subset (what `make test` runs)
    FUZZ_KEEP=1 make fuzz-hostile   # keep the stack's log

Prints one `name: value` line per input, then totals. Exit status 1 when any input failed a check.
"""
import base64
import json
import os
import pathlib
import re
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from devtools import hostile
from devtools.fuzz import LINKS, Stack
from devtools.stage_env import stage_environment

DEMO_ADMIN = "admin@demo.example"  # devtools/stack.seed_demo_team
MAIL_TIMEOUT = 15  # seconds for a step's emails when the worker reports no failure
CANARY_TIMEOUT = 20
BLOCKED_AFTER = 2  # consecutive failures of a batch: failed, retried, failed again
QUIET = 2  # after the last request, seconds in which the worker must not fail a batch
PER_IP_LIMIT = int(stage_environment("local")["PORTAL_LIMIT_PER_IP_HOUR"])

SHORT = {
    "withdraw": {"encoded-word-local-bcc", "non-ascii-local", "plus-tag"},
    "texts": {"crlf-bcc", "html-script", "encoded-word", "lone-surrogate", "huge"},
    "account_addresses": {"encoded-word-local-bcc", "crlf-bcc", "display-name", "non-ascii-local", "upper-case"},
}


def _short(group: str, items: list[tuple[str, str]], short: bool) -> list[tuple[str, str]]:
    return [(n, v) for n, v in items if n in SHORT[group]] if short else items


class Http:
    def __init__(self, base: str, token: str):
        self.base, self.token = base.rstrip("/"), token
        self.server_errors: list[str] = []

    def call(self, method: str, path: str, body=None, *, auth: bool = False, form: dict | None = None,
             raw: bytes | None = None, accept: str | None = None) -> tuple[int, bytes]:
        if form is not None:
            # Lone surrogates can't be UTF-8: send the bytes they'd be (the server must refuse them, not 500).
            raw = "&".join(f"{k}={urllib.parse.quote(v.encode('utf-8', 'surrogatepass'))}"
                           for k, v in form.items()).encode()
            content_type = "application/x-www-form-urlencoded"
        else:
            content_type = "application/json"
            if body is not None:
                raw = json.dumps(body).encode()  # ensure_ascii: control characters and surrogates as \u escapes
        request = urllib.request.Request(self.base + path, data=raw, method=method)
        request.add_header("Content-Type", content_type)
        if auth:
            request.add_header("Authorization", f"Bearer {self.token}")
        if accept:
            request.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, data = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            status, data = exc.code, exc.read()
        if status >= 500:
            self.server_errors.append(f"{method} {path[:80]} -> {status}")
        return status, data

    def no_redirect(self, path: str) -> int:
        """GET without following a redirect (the export link answers 302 to a presigned S3 URL)."""

        class Stop(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        try:
            with urllib.request.build_opener(Stop).open(self.base + path, timeout=30) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        if status >= 500:
            self.server_errors.append(f"GET {path[:80]} -> {status}")
        return status


class Mailbox:
    """What moto's SES accepted (`/moto-api/data.json`, as chalicelib/outbox.py reads it), oldest first.

    data.json dumps all of moto's state and slows down as the tables fill; SES's send count is a cheap call, so
    the dump is read again only when that count moved (or the copy is 2 s old)."""

    def __init__(self, aws: str):
        import boto3

        self.url = aws.rstrip("/") + "/moto-api/data.json"
        self.ses = boto3.client("ses", endpoint_url=aws, region_name="us-east-1", aws_access_key_id="local",
                                aws_secret_access_key="local")
        self.cached: tuple[float, float, list[dict]] | None = None  # (send count, read at, messages)

    def messages(self) -> list[dict]:
        sent = self.ses.get_send_quota()["SentLast24Hours"]
        if self.cached and self.cached[0] == sent and time.time() - self.cached[1] < 2:
            return self.cached[2]
        with urllib.request.urlopen(self.url, timeout=30) as answer:
            data = json.load(answer)
        messages = [{"id": m.get("id"), "raw": m["raw_data"].encode("utf-8", "surrogateescape"),
                     "destinations": m.get("destinations") or []}
                    for m in data.get("ses", {}).get("RawMessage", [])]
        self.cached = (sent, time.time(), messages)
        return messages


class WorkerLog:
    """The stack's stream worker, as its log shows it (run_local prints a line per failed batch)."""

    FAILED = "stream worker: batch failed"

    def __init__(self, path: pathlib.Path):
        self.path = path

    def lines(self) -> list[str]:
        return self.path.read_text(errors="replace").splitlines()

    def failures(self) -> int:
        return sum(self.FAILED in line for line in self.lines())

    def last_error(self) -> str:
        """The last traceback's final line (the record's real error; the batch line only counts records)."""
        lines = self.lines()
        for index in range(len(lines) - 1, -1, -1):
            if lines[index].startswith("Traceback"):
                for line in lines[index + 1:]:
                    if line and not line.startswith((" ", "Traceback")):
                        return line.strip()[:200]
        return "no traceback in the log"


def body_text(raw: bytes) -> str:
    """Every text part, decoded, for finding links (falls back to the raw bytes of an unparseable message)."""
    import email
    from email import policy

    try:
        message = email.message_from_bytes(raw, policy=policy.default)
        return "\n".join(part.get_content() for part in message.walk() if part.get_content_maintype() == "text")
    except Exception:  # noqa: BLE001
        return raw.decode("utf-8", "replace")


def link(messages: list[dict], kind: str) -> str | None:
    for message in messages:
        found = LINKS[kind].findall(body_text(message["raw"]))
        if found:
            return found[0]
    return None


def token_request(token: str) -> str | None:
    """The request id a signed link's token is for (its JWT payload's `req`), without checking the signature."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("req")
    except (IndexError, ValueError):
        return None


class Run:
    def __init__(self, http: Http, mailbox: Mailbox, log: WorkerLog, aws: str, team: str):
        self.http, self.mailbox, self.log, self.aws, self.team = http, mailbox, log, aws, team
        self.results: dict[str, str] = {}
        self.failed: set[str] = set()
        self.meant: set[str] = {DEMO_ADMIN}
        self.checked: set[str] = set()  # ids of the messages already checked
        self.blocked = 0
        self.submissions = 0  # portal submissions the per-IP rate limit counted

    # --- bookkeeping ----------------------------------------------------------------------------------------

    def note(self, name: str, outcome: str, failed: bool = False) -> None:
        self.results[name] = (self.results[name] + "; " if name in self.results else "") + outcome
        if failed:
            self.failed.add(name)

    def answered(self, name: str, status: int) -> bool:
        """Record an answer; True for 2xx."""
        if status >= 500:
            self.note(name, f"{status} server error", failed=True)
        elif status == 429:
            self.note(name, "429 rate limited: not tested", failed=True)
        else:  # a redirect or an informational answer to an API call is no answer either
            self.note(name, f"{status}", failed=not (200 <= status < 300 or 400 <= status < 500))
        return 200 <= status < 300

    def mean(self, address: str) -> None:
        self.meant |= hostile.normalised_forms(address)

    # --- the stream ---------------------------------------------------------------------------------------------

    def mark(self) -> tuple[int, int]:
        return len(self.mailbox.messages()), self.log.failures()

    def await_mail(self, name: str, label: str, mark: tuple[int, int], expected: int,
                   request_id: str | None) -> list[dict]:
        """Wait for a step's `expected` emails; check them; report a blocked stream and unblock it."""
        before, failures = mark
        deadline = time.time() + MAIL_TIMEOUT
        while True:
            messages = self.mailbox.messages()
            new = messages[before:]
            if len(new) >= expected:
                break
            if self.log.failures() - failures >= BLOCKED_AFTER:
                self.note(name, f"{label}: stream blocked ({self.log.last_error()})", failed=True)
                self.blocked += 1
                self.unblock(request_id, failures)
                break
            if time.time() > deadline:
                self.note(name, f"{label}: {len(new)} of {expected} emails after {MAIL_TIMEOUT}s", failed=True)
                break
            time.sleep(0.25)
        self.check(name, label, new)
        return new

    @staticmethod
    def retry_delay(failures: int) -> float:
        """run_local's worker waits 0.3 s, doubled after each failure of the batch, at most 5 s."""
        return min(0.3 * 2 ** failures, 5)

    def unblock(self, request_id: str | None, failures: int) -> None:
        """Delete the request whose record fails, so the worker's next retry passes (the handler re-reads the
        request and skips records of one that no longer exists); wait until the worker stops failing."""
        if request_id:
            import boto3

            table = stage_environment("local")["REQUESTS_TABLE"]
            boto3.client("dynamodb", endpoint_url=self.aws, region_name="us-east-1", aws_access_key_id="local",
                         aws_secret_access_key="local").delete_item(
                TableName=table, Key={"team_id": {"S": self.team}, "request_id": {"S": request_id}})
        deadline = time.time() + 30
        count, since = self.log.failures(), time.time()
        while time.time() < deadline:
            time.sleep(0.25)
            if self.log.failures() != count:
                count, since = self.log.failures(), time.time()
            elif time.time() - since > self.retry_delay(count - failures) + 0.5:
                return  # the retry due by now passed

    def check(self, name: str, label: str, messages: list[dict]) -> None:
        found: dict[str, list[str]] = {}  # per kind of email: its problems, each once
        for message in messages:
            kind = f"{label}, {'officer' if DEMO_ADMIN in message['destinations'] else 'client'}'s"
            for problem in hostile.problems(message["raw"], message["destinations"], self.meant):
                if problem not in found.setdefault(kind, []):
                    found[kind].append(problem)
            self.checked.add(message["id"])
        for kind, problems in found.items():
            if problems:
                self.note(name, f"{kind}: {', '.join(problems)}", failed=True)

    # --- flows --------------------------------------------------------------------------------------------------

    def submit(self, name: str, path: str, body: dict, expected_after_verify: int) -> str | None:
        """A portal submission followed through its verification email and link; returns the request id."""
        mark = self.mark()
        status, data = self.http.call("POST", path, body)
        self.submissions += 1 if status in (202, 429) else 0
        if not self.answered(name, status):
            return None
        self.mean(body["email"])
        request_id = json.loads(data).get("request_id")
        new = self.await_mail(name, "verification email", mark, 1, request_id)
        token = link(new, "verify")
        if token is None:
            if name not in self.failed:
                self.note(name, "no verification link in the email", failed=True)
            return None
        if token_request(token) != request_id:
            self.note(name, f"verification link is for another request ({token_request(token)})", failed=True)
        mark = self.mark()
        status, _ = self.http.call("GET", f"/portal/privacy/verify/{token}")
        if status != 200:
            self.note(name, f"verification link answered {status}", failed=status >= 500)
            return request_id
        self.await_mail(name, "emails after verification", mark, expected_after_verify, request_id)
        if name not in self.failed:
            self.note(name, "emails ok")
        return request_id

    def canary(self, name: str, address: str) -> None:
        """A legitimate request must still get its verification email in time."""
        mark, started = self.mark(), time.time()
        status, data = self.http.call("POST", f"/portal/{self.team}/privacy/requests",
                                      {"email": address, "type": "access"})
        self.submissions += 1
        if status != 202:
            self.note(name, f"legitimate request answered {status}", failed=True)
            return
        self.mean(address)
        request_id = json.loads(data).get("request_id")
        while time.time() - started < CANARY_TIMEOUT:
            new = self.mailbox.messages()[mark[0]:]
            if any(token_request(t) == request_id for m in new for t in LINKS["verify"].findall(body_text(m["raw"]))):
                self.note(name, f"verification email in {time.time() - started:.1f}s")
                self.check(name, "verification email", new)
                return
            time.sleep(0.25)
        self.note(name, f"no verification email within {CANARY_TIMEOUT}s ({self.log.last_error()})", failed=True)

    def portal_addresses(self) -> None:
        for name, address in hostile.ADDRESSES:
            self.submit(f"portal.email.{name}", f"/portal/{self.team}/privacy/requests",
                        {"email": address, "type": "access"}, expected_after_verify=2)
        status, _ = self.http.call("POST", f"/portal/{self.team}/privacy/requests",
                                   raw=b'{"email": "raw\r\ncontrol@example.com", "type": "access"}')
        self.answered("portal.raw-json-control-characters", status)

    def withdrawals(self, short: bool) -> None:
        for name, address in _short("withdraw", hostile.ADDRESSES, short):
            # Verifying a withdrawal completes it: the client's confirmation and the officer's notice.
            self.submit(f"withdraw.email.{name}", f"/portal/{self.team}/privacy/consent/withdraw",
                        {"email": address}, expected_after_verify=2)

    def texts(self, short: bool) -> None:
        """Each text as a portal message, then in one of the account's actions on that request."""
        for index, (name, text) in enumerate(_short("texts", hostile.TEXTS, short)):
            address = f"text-{index}@legit.example"
            path = f"/portal/{self.team}/privacy/requests"
            request_id = self.submit(f"text.{name}.portal-message", path,
                                     {"email": address, "type": "rectification", "message": text}, 2)
            if request_id is None:  # refused as a message: still try it in an action, on a plain request
                request_id = self.submit(f"text.{name}.carrier", path,
                                         {"email": f"carrier-{index}@legit.example", "type": "rectification"}, 2)
                if request_id is None:
                    continue
            requests = f"/teams/{self.team}/privacy/requests/{request_id}"
            if index % 3 == 0:
                status, _ = self.http.call("PATCH", f"/teams/{self.team}/privacy/settings",
                                           {"supervisory_authority": text}, auth=True)
                self.answered(f"text.{name}.settings-authority", status)
                self.action(f"text.{name}.deny-reason", "POST", f"{requests}/deny", {"reason": text}, request_id)
                self.http.call("PATCH", f"/teams/{self.team}/privacy/settings", {"supervisory_authority": None},
                               auth=True)
            elif index % 3 == 1:
                self.action(f"text.{name}.extend-reason", "POST", f"{requests}/extend",
                            {"months": 1, "reason": text}, request_id)
                if not self.action(f"text.{name}.execute-note", "POST", f"{requests}/execute",
                                   {"confirm": True, "note": text}, request_id):
                    self.action(f"text.{name}.execute-plain", "POST", f"{requests}/execute",
                                {"confirm": True, "note": "corrected"}, request_id)
            else:
                token = self.action_token(request_id)
                if token is None:
                    self.note(f"text.{name}.action-link-note", "no action link for the request", failed=True)
                    continue
                mark = self.mark()
                status, _ = self.http.call("POST", f"/actions/{token}", form={"note": text})
                if self.answered(f"text.{name}.action-link-note", status):
                    self.await_mail(f"text.{name}.action-link-note", "completion email", mark, 1, request_id)

    def action(self, name: str, method: str, path: str, body: dict, request_id: str) -> bool:
        """An account action that emails the client once when it succeeds."""
        mark = self.mark()
        status, _ = self.http.call(method, path, body, auth=True)
        if not self.answered(name, status):
            return False
        self.await_mail(name, "client email", mark, 1, request_id)
        return True

    def action_token(self, request_id: str) -> str | None:
        for message in self.mailbox.messages():
            for token in LINKS["action"].findall(body_text(message["raw"])):
                if token_request(token) == request_id:
                    return token
        return None

    def account(self, short: bool) -> None:
        """Members, dossiers and settings with hostile addresses and texts: answers only (no email follows)."""
        for index, (name, address) in enumerate(_short("account_addresses", hostile.ADDRESSES, short)):
            status, _ = self.http.call("PUT", f"/teams/{self.team}/members/m_hostile_{index}",
                                       {"email": address, "name": "Hostile", "role": "member"}, auth=True)
            if self.answered(f"member.email.{name}", status):
                self.mean(address)
            status, _ = self.http.call("POST", f"/teams/{self.team}/dossiers",
                                       {"client_email": address, "title": "Hostile"}, auth=True)
            self.answered(f"dossier.client-email.{name}", status)
        for index, (name, text) in enumerate(_short("texts", hostile.TEXTS, short)):
            status, _ = self.http.call("PUT", f"/teams/{self.team}/members/m_text_{index}",
                                       {"email": f"member-{index}@legit.example", "name": text, "role": "member"},
                                       auth=True)
            self.answered(f"text.{name}.member-name", status)
            status, data = self.http.call("POST", f"/teams/{self.team}/dossiers",
                                          {"client_email": "texts@legit.example", "title": text,
                                           "fields": {"note": text, text[:100]: "key"}}, auth=True)
            self.answered(f"text.{name}.dossier-title-and-fields", status)
            if 200 <= status < 300:
                dossier = json.loads(data)["dossier_id"]
                status, _ = self.http.call("PATCH", f"/teams/{self.team}/dossiers/{dossier}", {"title": text},
                                           auth=True)
                self.answered(f"text.{name}.dossier-patch", status)
                status, _ = self.http.call("GET", f"/teams/{self.team}/dossiers/{dossier}", auth=True)
                self.answered(f"text.{name}.dossier-read", status)
            status, _ = self.http.call("PATCH", f"/teams/{self.team}/privacy/settings",
                                       {"consent_text": text, "processing_purposes": text}, auth=True)
            self.answered(f"text.{name}.settings", status)
            status, _ = self.http.call("GET", f"/portal/{self.team}/privacy")
            self.answered(f"text.{name}.portal-read", status)
        status, _ = self.http.call("GET", f"/teams/{self.team}/dossiers?client_email=texts%40legit.example",
                                   auth=True)
        self.answered("text.dossier-list", status)

    def filenames(self) -> None:
        """Documents with hostile filenames, then an access export that zips them."""
        client = "files@legit.example"
        status, data = self.http.call("POST", f"/teams/{self.team}/dossiers",
                                      {"client_email": client, "title": "Files"}, auth=True)
        if not self.answered("filename.dossier", status):
            return
        dossier = json.loads(data)["dossier_id"]
        for name, filename in hostile.FILENAMES:
            status, _ = self.http.call("POST", f"/teams/{self.team}/dossiers/{dossier}/documents",
                                       {"filename": filename, "content_base64": "aGk="}, auth=True)
            self.answered(f"filename.{name}", status)
        request_id = self.submit("filename.export", f"/portal/{self.team}/privacy/requests",
                                 {"email": client, "type": "access"}, 2)
        if request_id is None:
            return
        mark = self.mark()
        status, _ = self.http.call("POST", f"/teams/{self.team}/privacy/requests/{request_id}/execute",
                                   {"confirm": True}, auth=True)
        if not self.answered("filename.export", status):
            return
        new = self.await_mail("filename.export", "export email", mark, 1, request_id)
        token = link(new, "export")
        if token is None:
            self.note("filename.export", "no export link", failed=True)
            return
        self.note("filename.export", f"export link {self.http.no_redirect(f'/portal/privacy/exports/{token}')}")

    def finish(self) -> None:
        """The last request still gets its email, the worker isn't stuck, and every message is honest."""
        before = self.log.failures()
        self.canary("final.legit-request-last", "final.legit@legit.example")
        # The worker reads nothing new while it retries a batch, so the canary's email alone shows it isn't
        # stuck; a failure since, while nothing else is being sent, would be a batch retried on and on.
        time.sleep(QUIET)
        retrying = self.log.failures() - before
        self.note("final.stream-worker", f"{self.log.failures()} failed batches in all, {retrying} since the last "
                                         f"request", failed=retrying > 0)
        late = [m for m in self.mailbox.messages() if m["id"] not in self.checked]
        self.check("final.late-messages", "late email", late)
        if "final.late-messages" not in self.results:
            self.note("final.late-messages", f"{len(late)} unchecked, none dishonest")


def main(argv: list[str]) -> int:
    short = "--short" in argv
    started = time.time()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="privacy-desk-hostile-"))
    stack = Stack(workdir)
    run = None
    try:
        found = stack.start()
        http = Http(found["api"], found["admin_token"])
        run = Run(http, Mailbox(stack.aws), WorkerLog(stack.log_path), stack.aws, found["team_id"])
        print(f"hostile: stack at {found['api']} after {time.time() - started:.0f}s, team {found['team_id']}"
              f"{' (short)' if short else ''}", flush=True)
        phases = [("portal addresses", run.portal_addresses),
                  ("legitimate request after them", lambda: run.canary(
                      "portal.legit-request-after-hostile-addresses", "after.addresses@legit.example")),
                  ("consent withdrawals", lambda: run.withdrawals(short)), ("texts", lambda: run.texts(short)),
                  ("account routes", lambda: run.account(short)), ("filenames", run.filenames),
                  ("final checks", run.finish)]
        for phase, step in phases:
            step()
            print(f"hostile: {phase} done at {time.time() - started:.0f}s", flush=True)
    finally:
        stack.stop()
    status = summarize(run, time.time() - started)
    if status == 0 and not os.environ.get("FUZZ_KEEP"):
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"hostile: the stack's log is in {workdir}")
    return status


def summarize(run: Run, seconds: float) -> int:
    for name, outcome in run.results.items():
        print(f"{name}: {outcome}{'  FAIL' if name in run.failed else ''}")
    print(f"hostile: {len(run.results)} inputs in {seconds:.0f}s")
    print(f"hostile: server errors: {len(run.http.server_errors)}")
    for error in run.http.server_errors:
        print(f"  {error}")
    print(f"hostile: stream blocked: {run.blocked} time(s)")
    print(f"hostile: portal submissions counted by the per-IP limit: {run.submissions} of {PER_IP_LIMIT}/h")
    print(f"hostile: messages checked: {len(run.checked)}")
    print(f"hostile: failing inputs: {len(run.failed)}")
    for name in sorted(run.failed):
        print(f"  {name}: {re.sub(r'^[0-9]{3}; ', '', run.results[name])}")
    return 1 if run.failed or run.http.server_errors else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
