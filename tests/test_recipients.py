"""Art. 19: every connected system is told of an executed erasure, rectification or restriction; the request
completes only when each has answered (or the officer skipped it), and the client is told who was informed."""
import datetime as dt
import json
import re
import urllib.parse

import pytest

from tests.receiver import Receiver
from tests.support import shift_time

CLIENT = "client@example.com"


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.stop()


def add_webhook(api, team, receiver, system_id="crm", **extra):
    answer = api.put(f"/teams/{team.id}/privacy/systems/{system_id}",
                     {"name": extra.pop("name", "CRM"), "kind": "webhook", "url": receiver.url, **extra},
                     token=team.token)
    assert answer.status_code in (200, 201), answer.body
    receiver.secret = answer.json_body.get("secret") or receiver.secret
    return answer.json_body


def add_manual(api, team, system_id="paper", owner="owner@team.example", **extra):
    answer = api.put(f"/teams/{team.id}/privacy/systems/{system_id}",
                     {"name": extra.pop("name", "Paper archive"), "kind": "manual", "owner_email": owner, **extra},
                     token=team.token)
    assert answer.status_code in (200, 201), answer.body
    return answer.json_body


def executed(api, team, type_="erasure", email=CLIENT, **body):
    request_id = api.verified_request(team, email, type_)
    api.new_dossier(team, email) if type_ != "erasure" else None
    api.execute(team, request_id, {"confirm": True, **body})
    api.pump()
    return request_id


def task(api, team, request_id, system_id):
    return next(t for t in api.request_view(team, request_id)["recipients"] if t["system_id"] == system_id)


def callback_path(event: dict) -> str:
    return urllib.parse.urlsplit(event["body"]["data"]["callback_url"]).path


def test_an_executed_erasure_sends_each_webhook_system_a_signed_event_naming_the_client(api, team, receiver):
    add_webhook(api, team, receiver)
    request_id = executed(api, team)
    [event] = receiver.events
    assert event["verified"] is True
    assert event["headers"]["webhook-id"] and event["headers"]["webhook-timestamp"]
    data = event["body"]["data"]
    assert event["body"]["type"] == "privacy.erasure"
    assert (data["request_id"], data["team_id"], data["email"]) == (request_id, team.id, CLIENT)
    assert data["callback_url"].startswith("http")


def test_the_request_waits_in_progress_while_a_system_has_not_answered(api, team, receiver):
    add_webhook(api, team, receiver)
    request_id = executed(api, team)
    view = api.request_view(team, request_id)
    assert view["status"] == "in_progress"
    assert view["work_done_at"] and view["result"]["dossiers_deleted"] == 0
    assert task(api, team, request_id, "crm")["status"] == "delivered"


def test_a_callback_completes_the_request_and_the_client_is_told_who_was_informed(api, team, receiver):
    add_webhook(api, team, receiver, name="Acme CRM")
    request_id = executed(api, team)
    answer = api.post(callback_path(receiver.events[0]), {"status": "completed", "note": "3 contacts deleted"})
    assert answer.status_code == 200, answer.body
    api.pump()
    view = api.request_view(team, request_id)
    assert view["status"] == "completed"
    assert task(api, team, request_id, "crm")["answered_by"] == {"kind": "system", "id": "crm"}
    notice = api.mail_to(CLIENT)[-1]
    assert "Acme CRM" in notice["text"] and "Acme CRM" in notice["html"]


def test_a_second_callback_is_refused_and_changes_nothing(api, team, receiver):
    add_webhook(api, team, receiver)
    executed(api, team)
    path = callback_path(receiver.events[0])
    assert api.post(path, {"status": "not_found"}).status_code == 200
    before = api.state()
    answer = api.post(path, {"status": "completed"})
    assert answer.status_code == 409
    assert api.state() == before


def test_a_second_callback_while_another_system_is_still_open_is_refused(api, team, receiver):
    add_webhook(api, team, receiver)
    add_manual(api, team)
    request_id = executed(api, team)
    path = callback_path(receiver.events[0])
    assert api.post(path, {"status": "completed"}).status_code == 200
    before = api.state()
    assert api.post(path, {"status": "failed", "note": "changed my mind"}).status_code == 409
    assert api.state() == before
    assert task(api, team, request_id, "crm")["status"] == "completed"


def test_a_callback_with_an_altered_token_is_refused(api, team, receiver):
    add_webhook(api, team, receiver)
    executed(api, team)
    path = callback_path(receiver.events[0])
    before = api.state()
    assert api.post(path[:-3] + "AAA", {"status": "completed"}).status_code == 401
    assert api.state() == before


def test_a_callback_with_an_unknown_status_is_a_400_naming_it(api, team, receiver):
    add_webhook(api, team, receiver)
    executed(api, team)
    answer = api.post(callback_path(receiver.events[0]), {"status": "done"})
    assert answer.status_code == 400 and "status" in answer.json_body["Message"]


def test_a_token_made_for_one_request_cannot_answer_another(api, team, receiver):
    add_webhook(api, team, receiver)
    first = executed(api, team)
    second = executed(api, team, email="other@example.com")
    assert api.post(callback_path(receiver.events[0]), {"status": "completed"}).status_code == 200
    assert task(api, team, first, "crm")["status"] == "completed"
    assert task(api, team, second, "crm")["status"] == "delivered"


def test_a_failing_receiver_is_retried_until_it_accepts(api, team, receiver, monkeypatch):
    receiver.answers = [500]
    add_webhook(api, team, receiver)
    request_id = executed(api, team)
    assert task(api, team, request_id, "crm")["status"] == "pending"
    assert "500" in task(api, team, request_id, "crm")["last_error"]
    retry(api, monkeypatch, seconds=10)
    assert [e["headers"]["webhook-id"] for e in receiver.events] == [receiver.events[0]["headers"]["webhook-id"]] * 2
    assert task(api, team, request_id, "crm")["status"] == "delivered"
    assert task(api, team, request_id, "crm")["attempts"] == 2


def retry(api, monkeypatch, seconds: float):
    """Let the retry's time come, then let housekeeping queue what is due and the worker run it."""
    from chalicelib import housekeeping

    shift_time(monkeypatch, dt.timedelta(seconds=seconds))
    housekeeping.run()
    api.pump()


def test_a_receiver_answering_410_is_disabled_and_the_officer_is_told(api, team, receiver):
    receiver.answers = [410]
    add_webhook(api, team, receiver, name="Old CRM")
    request_id = executed(api, team)
    assert task(api, team, request_id, "crm")["status"] == "failed"
    system = api.get(f"/teams/{team.id}/privacy/systems/crm", token=team.token).json_body
    assert system["disabled_at"]
    officer_mail = api.mail_to(team.admin_email)[-1]
    assert "Old CRM" in officer_mail["subject"]
    assert api.request_view(team, request_id)["status"] == "completed"


def test_a_system_may_count_its_2xx_as_completion(api, team, receiver):
    add_webhook(api, team, receiver, completion="2xx")
    request_id = executed(api, team)
    assert task(api, team, request_id, "crm")["status"] == "completed"
    assert api.request_view(team, request_id)["status"] == "completed"


def test_a_redelivered_message_does_not_deliver_twice(api, team, receiver):
    from chalicelib import recipients

    add_webhook(api, team, receiver)
    request_id = executed(api, team)
    recipients.enqueue(team.id, request_id, "crm")
    api.pump()
    assert len(receiver.events) == 1


def test_delivery_gives_up_after_the_schedule_and_the_officer_can_deliver_again(api, team, receiver, monkeypatch):
    monkeypatch.setenv("WEBHOOK_RETRY_SCHEDULE", "1,1")
    receiver.answers = [500, 503, 500]
    add_webhook(api, team, receiver, name="Flaky CRM")
    request_id = executed(api, team)
    retry(api, monkeypatch, 5)
    retry(api, monkeypatch, 10)
    gave_up = task(api, team, request_id, "crm")
    assert gave_up["gave_up_at"] and gave_up["attempts"] == 3 and gave_up["status"] == "pending"
    assert "Flaky CRM" in api.mail_to(team.admin_email)[-1]["subject"]
    answer = api.post(f"/teams/{team.id}/privacy/requests/{request_id}/recipients/crm/retry", {}, token=team.token)
    assert answer.status_code == 200, answer.body
    api.pump()
    assert task(api, team, request_id, "crm")["status"] == "delivered"


def test_a_slow_receiver_is_cut_off_and_retried_later(api, team, receiver, monkeypatch):
    from chalicelib import webhooks

    receiver.delay = 2.5
    real_post = webhooks.post
    monkeypatch.setattr(webhooks, "post", lambda url, headers, body, timeout=10.0: real_post(url, headers, body, 1.0))
    add_webhook(api, team, receiver)
    request_id = executed(api, team)
    late = task(api, team, request_id, "crm")
    assert late["status"] == "pending" and late["last_error"] and late["next_attempt_at"]


def test_only_the_request_types_a_system_receives_create_tasks(api, team, receiver):
    add_webhook(api, team, receiver, request_types=["erasure"])
    request_id = executed(api, team, "restriction")
    assert api.request_view(team, request_id)["recipients"] == []
    assert api.request_view(team, request_id)["status"] == "completed"
    assert receiver.events == []


def test_an_access_request_tells_no_system(api, team, receiver):
    add_webhook(api, team, receiver)
    request_id = executed(api, team, "access")
    assert api.request_view(team, request_id)["recipients"] == []
    assert receiver.events == []


# --- manual systems -------------------------------------------------------------------------------------------

def owner_link(api, owner="owner@team.example") -> str:
    return api.last_link_to(owner, "/privacy/tasks/")


def test_a_manual_systems_owner_is_emailed_a_task_naming_the_client(api, team):
    add_manual(api, team)
    executed(api, team)
    [message] = api.mail_to("owner@team.example")
    assert CLIENT in message["text"] and "Paper archive" in message["subject"]
    assert CLIENT not in message["subject"]


def test_opening_the_task_page_changes_nothing(api, team):
    add_manual(api, team)
    executed(api, team)
    before = api.state()
    page = api.get(owner_link(api))
    assert page.status_code == 200 and CLIENT in page.body.decode()
    assert api.state() == before


def form(api, link, **fields):
    return api.call("POST", link, raw=urllib.parse.urlencode(fields).encode(),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})


def test_the_owner_marks_the_task_done_and_the_request_completes(api, team):
    add_manual(api, team)
    request_id = executed(api, team)
    assert form(api, owner_link(api), action="done").status_code == 200
    api.pump()
    done = task(api, team, request_id, "paper")
    assert (done["status"], done["answered_by"]) == ("completed", {"kind": "owner", "id": "paper"})
    assert api.request_view(team, request_id)["status"] == "completed"
    assert "Paper archive" in api.mail_to(CLIENT)[-1]["text"]


def test_the_owners_link_works_once(api, team):
    add_manual(api, team)
    executed(api, team)
    link = owner_link(api)
    assert form(api, link, action="none").status_code == 200
    before = api.state()
    assert form(api, link, action="done").status_code == 409
    assert api.state() == before


def test_cant_be_done_needs_a_reason(api, team):
    add_manual(api, team)
    request_id = executed(api, team)
    assert form(api, owner_link(api), action="cannot").status_code == 400
    assert task(api, team, request_id, "paper")["status"] == "pending"
    assert form(api, owner_link(api), action="cannot", reason="archive burnt").status_code == 200
    api.pump()
    assert task(api, team, request_id, "paper")["status"] == "failed"
    assert "Paper archive" in api.mail_to(team.admin_email)[-1]["subject"]


def test_the_link_stops_working_when_the_systems_owner_changes(api, team):
    add_manual(api, team)
    executed(api, team)
    link = owner_link(api)
    add_manual(api, team, owner="new-owner@team.example")
    assert api.get(link).status_code == 403
    assert form(api, link, action="done").status_code == 403


def test_the_owner_is_reminded_every_five_days_while_the_task_is_open(api, team, monkeypatch):
    from chalicelib import housekeeping

    add_manual(api, team)
    executed(api, team)
    shift_time(monkeypatch, dt.timedelta(days=4))
    housekeeping.run()
    api.pump()
    assert len(api.mail_to("owner@team.example")) == 1
    shift_time(monkeypatch, dt.timedelta(days=1, minutes=1))
    housekeeping.run()
    api.pump()
    messages = api.mail_to("owner@team.example")
    assert len(messages) == 2 and messages[1]["subject"].startswith("Reminder")


# --- the officer's part -----------------------------------------------------------------------------------------

def test_the_officer_skips_a_system_with_a_reason_and_the_request_completes(api, team):
    add_manual(api, team)
    request_id = executed(api, team)
    answer = api.post(f"/teams/{team.id}/privacy/requests/{request_id}/recipients/paper/skip",
                      {"reason": "the archive was destroyed in 2020"}, token=team.token)
    assert answer.status_code == 200, answer.body
    skipped = task(api, team, request_id, "paper")
    assert (skipped["status"], skipped["note"]) == ("skipped", "the archive was destroyed in 2020")
    assert answer.json_body["status"] == "completed"
    api.pump()
    assert "Paper archive" not in api.mail_to(CLIENT)[-1]["text"]  # it was not informed


def test_skipping_needs_a_reason(api, team):
    add_manual(api, team)
    request_id = executed(api, team)
    answer = api.post(f"/teams/{team.id}/privacy/requests/{request_id}/recipients/paper/skip", {}, token=team.token)
    assert answer.status_code == 400 and "reason" in answer.json_body["Message"]


def test_an_answered_task_cannot_be_skipped(api, team):
    add_manual(api, team)
    request_id = executed(api, team)
    form(api, owner_link(api), action="done")
    answer = api.post(f"/teams/{team.id}/privacy/requests/{request_id}/recipients/paper/skip",
                      {"reason": "changed my mind"}, token=team.token)
    assert answer.status_code == 409


def test_a_member_who_is_not_the_officer_cannot_skip(api, team):
    add_manual(api, team)
    request_id = executed(api, team)
    member = api.add_member(team, "bob", "bob@team.example")
    answer = api.post(f"/teams/{team.id}/privacy/requests/{request_id}/recipients/paper/skip",
                      {"reason": "no"}, token=member)
    assert answer.status_code == 403


def test_deleting_a_system_skips_its_open_tasks_visibly(api, team):
    add_manual(api, team)
    request_id = executed(api, team)
    assert api.delete(f"/teams/{team.id}/privacy/systems/paper", token=team.token).status_code == 200
    skipped = task(api, team, request_id, "paper")
    assert skipped["status"] == "skipped" and "deleted" in skipped["note"]
    assert api.request_view(team, request_id)["status"] == "completed"


def test_a_request_completes_only_when_every_system_has_answered(api, team, receiver):
    add_webhook(api, team, receiver)
    add_manual(api, team)
    request_id = executed(api, team)
    api.post(callback_path(receiver.events[0]), {"status": "completed"})
    assert api.request_view(team, request_id)["status"] == "in_progress"
    form(api, owner_link(api), action="done")
    assert api.request_view(team, request_id)["status"] == "completed"


def test_the_officers_new_request_email_lists_the_systems_to_tell(api, team, receiver):
    add_webhook(api, team, receiver, name="Acme CRM")
    add_manual(api, team)
    api.verified_request(team, CLIENT)
    message = api.mail_to(team.admin_email)[-1]
    assert "Acme CRM" in message["text"] and "Paper archive" in message["text"]


def test_a_rectification_tells_systems_what_was_corrected(api, team, receiver):
    add_webhook(api, team, receiver)
    executed(api, team, "rectification", note="Your surname is now spelled Dupont.")
    assert receiver.events[0]["body"]["data"]["note"] == "Your surname is now spelled Dupont."
    assert re.search(r"privacy\.rectification", json.dumps(receiver.events[0]["body"]))
