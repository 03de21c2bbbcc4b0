"""Faults injected on purpose: nothing lost, nothing done twice."""
import pytest
from botocore.exceptions import ClientError

from chalicelib import aws, mailer, purge
from chalicelib.notifications import BatchFailed


def execute(api, team, request_id):
    """POST execute (202), then the worker carries it out (a worker's crash propagates, as in Lambda)."""
    answer = api.post(f"/teams/{team.id}/privacy/requests/{request_id}/execute", {"confirm": True},
                      token=team.token)
    api.work()
    return answer


def refuse_mail_to(monkeypatch, address: str):
    """SES refuses mail to `address` (and only to it); returns the real send, to restore it."""
    real_send = mailer.send

    def refuse(to, *args, **kwargs):
        if to == [address]:
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendRawEmail")
        return real_send(to, *args, **kwargs)

    monkeypatch.setattr(mailer, "send", refuse)
    return real_send


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
    with pytest.raises(BatchFailed):
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
    real_send = refuse_mail_to(monkeypatch, "alice@client.example")
    with pytest.raises(BatchFailed):
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
    real_delete = purge._delete
    calls = {"n": 0}

    def crash_on_second_page(page, keys):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("Lambda lost its network")
        return real_delete(page, keys)

    monkeypatch.setattr(purge, "_delete", crash_on_second_page)
    assert execute(api, team, request_id).status_code == 202
    state = api.get(f"/teams/{team.id}/privacy/requests/{request_id}", token=team.token).json_body
    assert state["status"] == "failed"
    assert (state["progress"]["dossiers_deleted"], state["progress"]["documents_deleted"]) == (2, 2)
    api.pump()
    assert [m for m in api.mail_to("alice@client.example") if "deleted" in m["subject"]] == []

    assert execute(api, team, request_id).status_code == 202
    done = api.request_view(team, request_id)
    assert done["result"] == {"dossiers_deleted": 5, "documents_deleted": 5, "exports_deleted": 0}
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
    assert first.status_code == 202
    assert seen["second"].status_code == 409
    assert api.request_view(team, request_id)["result"]["dossiers_deleted"] == 1


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


def throttle(monkeypatch, operation: str, times: int) -> dict:
    """Make DynamoDB (moto) refuse the next `times` calls of `operation` with ThrottlingException, before it
    writes anything — as real DynamoDB does — so botocore's retry mode is what has to save the day."""
    from moto.dynamodb.exceptions import DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    left = {"n": times, "refused": 0}
    real = getattr(DynamoHandler, operation)

    def throttled(self):
        if left["n"]:
            left["n"] -= 1
            left["refused"] += 1
            raise DynamodbException("ThrottlingException", "Rate of requests exceeds the allowed throughput.")
        return real(self)

    monkeypatch.setattr(DynamoHandler, operation, throttled)
    return left


def throttle_transactions(monkeypatch, times: int) -> dict:
    return throttle(monkeypatch, "transact_write_items", times)


def test_dynamodb_throttling_on_a_dossier_write_is_retried_and_the_dossier_kept(api, team, monkeypatch):
    throttled = throttle(monkeypatch, "put_item", 3)
    dossier = api.new_dossier(team, "alice@client.example")
    assert throttled["refused"] == 3
    monkeypatch.undo()
    stored = api.get(f"/teams/{team.id}/dossiers/{dossier['dossier_id']}", token=team.token)
    assert stored.status_code == 200


def test_dynamodb_throttling_is_retried_and_no_request_is_lost(api, team, monkeypatch):
    throttled = throttle_transactions(monkeypatch, 2)
    answer = api.submit(team, "alice@client.example")
    assert throttled["refused"] == 2
    assert answer.status_code == 202
    listed = api.get(f"/teams/{team.id}/privacy/requests?status=awaiting_verification", token=team.token)
    assert [r["request_id"] for r in listed.json_body["items"]] == [answer.json_body["request_id"]]
    api.pump()
    assert len(api.mail_to("alice@client.example")) == 1


def test_s3_clients_use_standard_retry_mode():
    assert aws.s3().meta.config.retries["mode"] == "standard"


class LambdaKilled(BaseException):
    """A Lambda timeout or crash: no `except Exception` runs, nothing gets to record a failure."""


def test_purge_killed_mid_way_keeps_its_progress_and_resumes_without_a_click(api, team, monkeypatch):
    import datetime as dt

    from chalicelib import clock, execution, housekeeping

    monkeypatch.setattr(purge, "BATCH", 2)
    for n in range(5):
        api.new_dossier(team, "alice@client.example", title=f"file {n}")
    request_id = api.verified_request(team, "alice@client.example")
    real_delete = purge._delete
    calls = {"n": 0}

    def killed_on_second_page(page, keys):
        calls["n"] += 1
        if calls["n"] == 2:
            raise LambdaKilled()
        return real_delete(page, keys)

    monkeypatch.setattr(purge, "_delete", killed_on_second_page)
    with pytest.raises(LambdaKilled):
        execute(api, team, request_id)
    state = api.get(f"/teams/{team.id}/privacy/requests/{request_id}", token=team.token).json_body
    assert state["status"] == "in_progress"
    assert state["progress"]["dossiers_deleted"] == 2 and len(state["progress"]["in_flight"]["ids"]) == 2
    assert execute(api, team, request_id).status_code == 409  # still alive as far as anyone can tell
    monkeypatch.setattr(purge, "_delete", real_delete)
    later = clock.now() + execution.lease() + dt.timedelta(minutes=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    housekeeping.run()  # the watchdog: no human click
    api.work()
    assert api.request_view(team, request_id)["result"]["dossiers_deleted"] == 5


def test_a_pending_record_that_arrives_after_the_request_was_handled_emails_nobody(api, team):
    api.new_dossier(team, "alice@client.example")
    request_id = api.submit(team, "alice@client.example").json_body["request_id"]
    api.pump()
    api.get(api.last_link_to("alice@client.example", "/portal/privacy/verify/"))
    assert execute(api, team, request_id).status_code == 202  # executed from the account before any stream lag cleared
    api.pump()
    assert api.mail_to(team.admin_email) == []
    subjects = [m["subject"] for m in api.mail_to("alice@client.example")]
    assert len(subjects) == 2  # the verification, then the deletion notice — no stale receipt


def test_throttling_that_outlasts_the_retries_answers_503_and_writes_nothing(api, team, monkeypatch):
    import time

    monkeypatch.setattr(time, "sleep", lambda seconds: None)  # botocore's backoff between retries: no real wait
    throttled = throttle_transactions(monkeypatch, 1000)
    answer = api.submit(team, "alice@client.example")
    assert throttled["refused"] > 1  # botocore retried before giving up
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    monkeypatch.undo()
    assert api.get(f"/teams/{team.id}/privacy/requests", token=team.token).json_body["items"] == []


def test_in_report_mode_only_the_failed_records_are_returned_for_retry(api, team, monkeypatch):
    monkeypatch.setenv("STREAM_FAILURE_MODE", "report")
    api.submit(team, "alice@client.example")
    api.submit(team, "bob@client.example")
    records = api.stream_records()
    refuse_mail_to(monkeypatch, "alice@client.example")
    answer = api.deliver(records).payload
    alice_record = [r for r in records if "alice" in str(r["dynamodb"]["NewImage"])][0]
    assert answer == {"batchItemFailures": [{"itemIdentifier": alice_record["dynamodb"]["SequenceNumber"]}]}
    assert len(api.mail_to("bob@client.example")) == 1


def test_the_packaged_template_turns_on_batch_item_failures_with_the_matching_handler_mode():
    from devtools.patch_sam import patch

    role = {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyDocument": {"Statement": []}}]}}
    template = {"Resources": {
        "Api": {"Type": "AWS::Serverless::Function", "Properties": {"Events": {}}},
        "OnRequestChangeRole": role,
        "OnRequestChange": {"Type": "AWS::Serverless::Function", "Properties": {
            "Role": {"Fn::GetAtt": ["OnRequestChangeRole", "Arn"]}, "Events": {
                "Stream": {"Type": "DynamoDB", "Properties": {"Stream": "arn", "BatchSize": 25}}}}}}}
    assert patch(template) == 1
    stream = template["Resources"]["OnRequestChange"]["Properties"]
    assert stream["Events"]["Stream"]["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert stream["Environment"]["Variables"]["STREAM_FAILURE_MODE"] == "report"
    assert "Environment" not in template["Resources"]["Api"]["Properties"]
