"""Issue 8: executing answers at once; the work runs in bounded, self-continuing worker slices that survive a
crash, a timeout, a duplicate message or a transient failure without a click and without acting twice."""
import datetime as dt

import pytest
from botocore.exceptions import ClientError

from chalicelib import clock, execution, housekeeping, purge
from chalicelib.models import Dossier, PrivacyRequest

CLIENT = "alice@client.example"


def _erasure_of(api, team, dossiers: int, documents: int = 1) -> str:
    for n in range(dossiers):
        dossier = api.new_dossier(team, CLIENT, title=f"file {n}")
        for _ in range(documents):
            api.add_document(team, dossier["dossier_id"])
    return api.verified_request(team, CLIENT)


def _claim(api, team, request_id, **kw):
    """POST execute without running the worker."""
    return api.post(f"/teams/{team.id}/privacy/requests/{request_id}/execute", {"confirm": True},
                    token=team.token, **kw)


def _one_page_per_slice(monkeypatch):
    monkeypatch.setattr(purge, "BATCH", 2)


def test_execute_answers_202_in_progress_before_any_work_is_done(api, team):
    request_id = _erasure_of(api, team, 1)
    answer = _claim(api, team, request_id)
    assert answer.status_code == 202
    assert answer.json_body["status"] == "in_progress" and answer.json_body["result"] is None
    assert Dossier.count(team.id) == 1  # nothing deleted inside the API call


def test_the_worker_completes_the_request_and_the_client_is_told_once(api, team):
    request_id = _erasure_of(api, team, 3)
    _claim(api, team, request_id)
    assert api.work() == ["completed"]
    view = api.request_view(team, request_id)
    assert view["status"] == "completed"
    assert view["result"] == {"dossiers_deleted": 3, "documents_deleted": 3, "exports_deleted": 0}
    api.pump()
    api.pump()
    assert len([m for m in api.mail_to(CLIENT) if "deleted" in m["subject"]]) == 1


def test_the_client_notice_waits_for_the_work_to_be_done(api, team):
    request_id = _erasure_of(api, team, 1)
    _claim(api, team, request_id)
    api.deliver(api.stream_records())  # the stream sees in_progress: no notice yet
    assert not [m for m in api.mail_to(CLIENT) if "deleted" in m["subject"]]


def test_a_big_erasure_runs_in_bounded_slices_that_hand_on_to_each_other(api, team, monkeypatch):
    _one_page_per_slice(monkeypatch)
    request_id = _erasure_of(api, team, 7)
    _claim(api, team, request_id)
    outcomes = api.work(runtime_ms=0)  # a Lambda with no time left: each slice does one page and hands on
    assert outcomes == ["continued"] * 3 + ["completed"]
    view = api.request_view(team, request_id)
    assert view["result"]["dossiers_deleted"] == 7 and view["progress"]["slices"] == 4
    assert Dossier.count(team.id) == 0


def test_a_worker_killed_mid_way_is_replaced_automatically_and_counts_stay_exact(api, team, monkeypatch):
    monkeypatch.setattr(purge, "BATCH", 2)
    request_id = _erasure_of(api, team, 5)
    real_delete, calls = purge._delete, {"n": 0}

    def killed_on_the_second_page(page, keys):
        calls["n"] += 1
        if calls["n"] == 2:
            purge.aws.s3().delete_objects(Bucket=purge.config.get("DOCUMENTS_BUCKET"),
                                          Delete={"Objects": [{"Key": k} for k in keys]})
            raise KeyboardInterrupt("the Lambda is killed after the documents, before the dossier items")
        return real_delete(page, keys)

    monkeypatch.setattr(purge, "_delete", killed_on_the_second_page)
    _claim(api, team, request_id)
    with pytest.raises(KeyboardInterrupt):
        api.work()
    monkeypatch.setattr(purge, "_delete", real_delete)
    assert api.request_view(team, request_id)["status"] == "in_progress"
    assert api.execute(team, request_id).status_code == 409  # no click can claim it twice...
    assert housekeeping.run()["requeued"] == 0  # ...and the watchdog waits while the lease may be alive
    later = clock.now() + execution.lease() + dt.timedelta(minutes=1)
    monkeypatch.setattr(clock, "now", lambda: later)  # the dead slice's lease has run out
    assert housekeeping.run()["requeued"] == 1
    assert api.work() == ["completed"]
    view = api.request_view(team, request_id)
    assert (view["result"]["dossiers_deleted"], view["result"]["documents_deleted"]) == (5, 5)
    assert Dossier.count(team.id) == 0 and api.s3_keys("teams/") == []
    api.pump()
    assert len([m for m in api.mail_to(CLIENT) if "deleted" in m["subject"]]) == 1


def test_a_duplicate_message_never_runs_a_second_slice_at_once(api, team, monkeypatch):
    request_id = _erasure_of(api, team, 2)
    _claim(api, team, request_id)
    item = PrivacyRequest.get(team.id, request_id)
    assert execution._take_lease(item)  # a first copy of the message is running
    assert execution.work({"team_id": team.id, "request_id": request_id}, lambda: 300.0) == "busy"
    assert Dossier.count(team.id) == 2


def test_a_message_for_a_finished_request_does_nothing(api, team):
    request_id = _erasure_of(api, team, 1)
    api.execute(team, request_id)
    assert execution.work({"team_id": team.id, "request_id": request_id}, lambda: 300.0) == "nothing to do"
    assert execution.work({"team_id": team.id, "request_id": "r_nope"}, lambda: 300.0) == "gone"


def test_a_lost_hand_off_is_queued_again_by_the_watchdog(api, team, monkeypatch):
    request_id = _erasure_of(api, team, 1)
    monkeypatch.setattr(execution.aws, "sqs", lambda: (_ for _ in ()).throw(ClientError(
        {"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessage")))
    assert _claim(api, team, request_id).status_code == 202  # the claim holds; the message was lost
    monkeypatch.undo()
    assert api.work() == []
    assert housekeeping.run(clock.now() + execution.HAND_OFF + dt.timedelta(seconds=1))["requeued"] == 1
    assert api.work() == ["completed"]


def test_a_transient_failure_releases_the_slice_for_a_retry(api, team, monkeypatch):
    request_id = _erasure_of(api, team, 2)
    _claim(api, team, request_id)
    body = api.queued(1)
    real_delete = purge._delete

    def throttled(page, keys):
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow down"}}, "DeleteObjects")

    monkeypatch.setattr(purge, "_delete", throttled)
    with pytest.raises(ClientError):
        api.client.lambda_.invoke("execution_worker", api.client.events.generate_sqs_event(message_bodies=body))
    monkeypatch.setattr(purge, "_delete", real_delete)
    # SQS hands the message back after its visibility timeout; the released lease lets it run at once.
    api.client.lambda_.invoke("execution_worker", api.client.events.generate_sqs_event(message_bodies=body))
    assert api.request_view(team, request_id)["status"] == "completed"


def test_a_permanent_failure_is_recorded_and_executing_again_resumes(api, team, monkeypatch):
    monkeypatch.setattr(purge, "BATCH", 2)
    request_id = _erasure_of(api, team, 5)
    real_delete, calls = purge._delete, {"n": 0}

    def refused_on_the_second_page(page, keys):
        calls["n"] += 1
        if calls["n"] == 2:
            raise purge.PurgeError("S3 refused to delete 2 document(s): AccessDenied")
        return real_delete(page, keys)

    monkeypatch.setattr(purge, "_delete", refused_on_the_second_page)
    api.execute(team, request_id)
    failed = api.request_view(team, request_id)
    assert failed["status"] == "failed" and "AccessDenied" in failed["failure_reason"]
    assert failed["progress"]["dossiers_deleted"] == 2
    monkeypatch.setattr(purge, "_delete", real_delete)
    assert api.execute(team, request_id).status_code == 202
    assert api.request_view(team, request_id)["result"]["dossiers_deleted"] == 5


def test_the_action_link_answers_that_the_request_is_being_carried_out(api, team):
    api.add_member(team, "dpo", "dpo@team.example", role="admin")
    request_id = _erasure_of(api, team, 1)
    link = api.last_link_to("dpo@team.example", "/actions/")
    answer = api.post(link, raw=b"", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 202
    assert "being carried out" in answer.body.decode()
    assert api.request_view(team, request_id)["status"] == "in_progress"
