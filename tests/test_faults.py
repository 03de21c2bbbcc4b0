"""Faults injected on purpose: nothing lost, nothing done twice."""
import threading

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from chalicelib import aws, mailer, purge


def execute(api, team, request_id):
    return api.post(f"/teams/{team.id}/privacy/requests/{request_id}/execute", {"confirm": True}, token=team.token)


def test_ses_outage_fails_the_batch_then_the_officer_gets_exactly_one_email(api, team, monkeypatch):
    api.submit(team, "alice@client.example")
    api.pump()
    api.get(api.last_link_to("alice@client.example", "/portal/privacy/verify/"))
    records = api.stream_records()
    real_send = mailer.send

    def outage(*args, **kwargs):
        raise ClientError({"Error": {"Code": "Throttling", "Message": "Maximum sending rate exceeded"}},
                          "SendRawEmail")

    monkeypatch.setattr(mailer, "send", outage)
    with pytest.raises(Exception):
        api.deliver(records)
    assert api.mail_to(team.admin_email) == []
    monkeypatch.setattr(mailer, "send", real_send)
    api.deliver(records)  # Lambda retries the same batch
    api.deliver(records)  # and once more, as a redelivery would
    assert len(api.mail_to(team.admin_email)) == 1


def test_one_failing_record_does_not_stop_the_others_in_its_batch(api, team, monkeypatch):
    api.submit(team, "alice@client.example")
    api.submit(team, "bob@client.example")
    records = api.stream_records()
    assert len(records) == 2
    real_send = mailer.send

    def refuse_alice(to, *args, **kwargs):
        if to == ["alice@client.example"]:
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendRawEmail")
        return real_send(to, *args, **kwargs)

    monkeypatch.setattr(mailer, "send", refuse_alice)
    with pytest.raises(Exception):
        api.deliver(records)
    assert len(api.mail_to("bob@client.example")) == 1
    monkeypatch.setattr(mailer, "send", real_send)
    api.deliver(records)
    assert len(api.mail_to("alice@client.example")) == 1
    assert len(api.mail_to("bob@client.example")) == 1


def test_purge_crash_after_some_pages_leaves_a_failed_request_that_finishes_on_retry(api, team, monkeypatch):
    monkeypatch.setattr(purge, "BATCH", 2)
    for n in range(5):
        dossier = api.new_dossier(team, "alice@client.example", title=f"file {n}")
        api.add_document(team, dossier["dossier_id"])
    request_id = api.verified_request(team, "alice@client.example")
    real_delete = purge._delete_page
    calls = {"n": 0}

    def crash_on_second_page(page, progress):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("Lambda lost its network")
        return real_delete(page, progress)

    monkeypatch.setattr(purge, "_delete_page", crash_on_second_page)
    failed = execute(api, team, request_id)
    assert failed.status_code == 503
    state = api.get(f"/teams/{team.id}/privacy/requests/{request_id}", token=team.token).json_body
    assert state["status"] == "failed"
    assert state["progress"] == {"dossiers_deleted": 2, "documents_deleted": 2}
    api.pump()
    assert [m for m in api.mail_to("alice@client.example") if "deleted" in m["subject"]] == []

    done = execute(api, team, request_id)
    assert done.status_code == 200
    assert done.json_body["result"] == {"dossiers_deleted": 5, "documents_deleted": 5}
    api.pump()
    api.pump()
    assert len([m for m in api.mail_to("alice@client.example") if "deleted" in m["subject"]]) == 1


def test_a_second_execution_while_one_runs_is_refused_and_only_one_purge_happens(api, team, monkeypatch):
    api.new_dossier(team, "alice@client.example")
    request_id = api.verified_request(team, "alice@client.example")
    real_erase = purge.erase_client
    seen = {}

    def double_click(*args, **kwargs):
        seen["second"] = execute(api, team, request_id)  # the other officer clicks while the purge runs
        return real_erase(*args, **kwargs)

    monkeypatch.setattr(purge, "erase_client", double_click)
    first = execute(api, team, request_id)
    assert first.status_code == 200
    assert seen["second"].status_code == 409
    assert first.json_body["result"]["dossiers_deleted"] == 1


def test_concurrent_executions_from_two_threads_run_one_purge(api, team, monkeypatch):
    api.new_dossier(team, "alice@client.example")
    request_id = api.verified_request(team, "alice@client.example")
    runs = []
    real_erase = purge.erase_client
    monkeypatch.setattr(purge, "erase_client", lambda *a, **k: runs.append(1) or real_erase(*a, **k))
    barrier = threading.Barrier(2)
    answers = []

    def click():
        barrier.wait()
        answers.append(execute(api, team, request_id).status_code)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [200, 409]
    assert len(runs) == 1


def test_redelivered_and_out_of_order_records_change_nothing(api, team):
    api.new_dossier(team, "alice@client.example")
    api.submit(team, "alice@client.example")
    first = api.pump()
    api.get(api.last_link_to("alice@client.example", "/portal/privacy/verify/"))
    verified = api.pump()
    request_id = api.get(f"/teams/{team.id}/privacy/requests", token=team.token).json_body["items"][0]["request_id"]
    execute(api, team, request_id)
    completed = api.pump()
    api.deliver(verified)  # redelivered late: the request is already completed
    api.deliver(first)
    api.deliver(completed)
    assert len(api.mail_to(team.admin_email)) == 1  # the officer's email, once
    assert len(api.mail_to("alice@client.example")) == 3  # verification, receipt, notice: once each


def test_dynamodb_throttling_is_retried_and_no_request_is_lost(api, team):
    from chalicelib import db

    client = db.connection().client  # the connection transactions (a portal submission) go through
    throttled = {"left": 2}

    def throttle(request, **kwargs):
        if throttled["left"] and request.headers.get("X-Amz-Target", b"").endswith(b"TransactWriteItems"):
            throttled["left"] -= 1
            body = b'{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate exceeded"}'
            return AWSResponse(request.url, 400, {"x-amzn-ErrorType": "ThrottlingException"}, _Raw(body))
        return None

    client.meta.events.register_first("before-send.dynamodb", throttle)
    try:
        answer = api.submit(team, "alice@client.example")
    finally:
        client.meta.events.unregister("before-send.dynamodb", throttle)
    assert throttled["left"] == 0
    assert answer.status_code == 202
    listed = api.get(f"/teams/{team.id}/privacy/requests?status=awaiting_verification", token=team.token)
    assert [r["request_id"] for r in listed.json_body["items"]] == [answer.json_body["request_id"]]


class _Raw:
    def __init__(self, body):
        self._body = body

    def stream(self, **kwargs):
        yield self._body

    def read(self, *args, **kwargs):
        return self._body


def test_s3_clients_use_standard_retry_mode():
    assert aws.s3().meta.config.retries["mode"] == "standard"


class LambdaKilled(BaseException):
    """A Lambda timeout or crash: no `except Exception` runs, nothing gets to record a failure."""


def test_purge_killed_mid_way_keeps_its_progress_and_is_resumable_once_stale(api, team, monkeypatch):
    import datetime as dt

    from chalicelib import clock

    monkeypatch.setattr(purge, "BATCH", 2)
    for n in range(5):
        api.new_dossier(team, "alice@client.example", title=f"file {n}")
    request_id = api.verified_request(team, "alice@client.example")
    real_delete = purge._delete_page
    calls = {"n": 0}

    def killed_on_second_page(page, progress):
        calls["n"] += 1
        if calls["n"] == 2:
            raise LambdaKilled()
        return real_delete(page, progress)

    monkeypatch.setattr(purge, "_delete_page", killed_on_second_page)
    with pytest.raises(LambdaKilled):
        execute(api, team, request_id)
    state = api.get(f"/teams/{team.id}/privacy/requests/{request_id}", token=team.token).json_body
    assert state["status"] == "in_progress"
    assert state["progress"] == {"dossiers_deleted": 2, "documents_deleted": 0}
    assert execute(api, team, request_id).status_code == 409  # still looks alive
    later = clock.now() + dt.timedelta(minutes=16)
    monkeypatch.setattr(clock, "now", lambda: later)
    done = execute(api, team, request_id)
    assert done.status_code == 200, done.body
    assert done.json_body["result"]["dossiers_deleted"] == 5


def test_a_pending_record_that_arrives_after_the_request_was_handled_emails_nobody(api, team):
    api.new_dossier(team, "alice@client.example")
    request_id = api.submit(team, "alice@client.example").json_body["request_id"]
    api.pump()
    api.get(api.last_link_to("alice@client.example", "/portal/privacy/verify/"))
    assert execute(api, team, request_id).status_code == 200  # executed from the account before any stream lag cleared
    api.pump()
    assert api.mail_to(team.admin_email) == []
    subjects = [m["subject"] for m in api.mail_to("alice@client.example")]
    assert len(subjects) == 2  # the verification, then the deletion notice — no stale receipt
