"""Issue 15, finding 1: actors could be impersonated. A member id such as `system:paper` or `client` read as a
connected system or the client in the record, the tasks and the request, and the client's notice then said a
system "was told" (Art. 19) that never answered. Each test replays the attack and states the safe behaviour."""
import pytest

from chalicelib import aws, clock, config, ids, teams
from chalicelib.models import Member
from tests.test_recipients import CLIENT, add_manual, add_webhook, callback_path, executed, receiver, task  # noqa: F401

SKIP = "/teams/{team}/privacy/requests/{request}/recipients/{system}/skip"


def member_from_before_the_rule(team, member_id: str, role: str = "admin") -> str:
    """A member whose id was accepted before ids that read as another actor were refused; returns its token."""
    stamp = clock.iso(clock.now())
    Member(team.id, member_id, email=f"{ids.new_id('x')}@team.example".lower(), name=member_id, role=role,
           created_at=stamp, updated_at=stamp, generation=ids.new_id("g_")).save()
    return teams.bearer_token(team.id, member_id)


def skip(api, team, request_id, system_id, token):
    path = SKIP.format(team=team.id, request=request_id, system=system_id)
    answer = api.post(path, {"reason": "no answer will come"}, token=token)
    assert answer.status_code == 200, answer.body
    return answer.json_body


# --- member ids that read as another actor are refused ----------------------------------------------------------

@pytest.mark.parametrize("member_id", ["client", "system", "service", "owner", "Client", "system:crm",
                                       "owner:paper", "member:m_1", "a:b"])
def test_a_member_id_that_reads_as_another_actor_is_refused_at_creation(api, team, member_id):
    answer = api.put(f"/teams/{team.id}/members/{member_id}",
                     {"email": "someone@team.example", "name": "Someone", "role": "admin"}, token=team.token)
    assert answer.status_code == 400, answer.body
    assert answer.json_body["field"] == "member_id"
    assert teams.get_member(team.id, member_id) is None


def test_a_member_created_before_the_rule_can_still_be_changed(api, team):
    member_from_before_the_rule(team, "client", role="member")
    answer = api.put(f"/teams/{team.id}/members/client",
                     {"email": "renamed@team.example", "name": "Renamed", "role": "member"}, token=team.token)
    assert answer.status_code == 200, answer.body


# --- what a look-alike member does is recorded as the member's ---------------------------------------------------

def test_a_task_skipped_by_a_member_named_like_the_system_is_not_told_to_the_client(api, team):
    add_manual(api, team)
    request_id = executed(api, team)
    impostor = member_from_before_the_rule(team, "system:paper")
    assert skip(api, team, request_id, "paper", impostor)["status"] == "completed"
    api.pump()
    notice = api.mail_to(CLIENT)[-1]["text"]
    assert "Art. 19" not in notice and "Paper archive" not in notice


def test_a_skip_by_a_member_named_like_the_system_is_recorded_as_that_members(api, team):
    add_manual(api, team)
    request_id = executed(api, team)
    skip(api, team, request_id, "paper", member_from_before_the_rule(team, "system:paper"))
    member = {"kind": "member", "id": "system:paper"}
    assert task(api, team, request_id, "paper")["answered_by"] == member
    [entry] = [e for e in api.request_view(team, request_id)["history"] if e["event"] == "recipient_skipped"]
    assert entry["by"] == member


def test_an_execution_by_a_member_named_client_is_recorded_as_that_members(api, team):
    token = member_from_before_the_rule(team, "client")
    request_id = api.verified_request(team, CLIENT, "erasure")
    view = api.executed(team, request_id, token=token)
    member = {"kind": "member", "id": "client"}
    assert view["executed_by"] == member
    history = {e["event"]: e["by"] for e in view["history"]}
    assert history["execution_started"] == member and history["completed"] == member
    assert history["verified"] == {"kind": "client", "id": None}


# --- what was told: what the system or its owner answered ----------------------------------------------------------

def test_a_system_whose_owner_answered_is_told_to_the_client(api, team):
    add_manual(api, team)
    request_id = executed(api, team)
    owner_link = api.last_link_to("owner@team.example", "/privacy/tasks/")
    api.call("POST", owner_link, raw=b"action=done", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert task(api, team, request_id, "paper")["answered_by"] == {"kind": "owner", "id": "paper"}
    api.pump()
    assert "Paper archive" in api.mail_to(CLIENT)[-1]["text"]


def test_a_webhook_that_accepted_the_event_was_told_even_if_its_answer_was_then_skipped(api, team, receiver):  # noqa: F811
    add_webhook(api, team, receiver)
    request_id = executed(api, team)
    assert task(api, team, request_id, "crm")["status"] == "delivered"  # its 2xx, seen by the module
    skip(api, team, request_id, "crm", team.token)
    api.pump()
    assert "CRM" in api.mail_to(CLIENT)[-1]["text"]


# --- actors stored as strings before they were typed -------------------------------------------------------------

def test_an_actor_stored_as_a_string_is_read_by_the_rule_it_was_written_with(api, team):
    request_id = api.verified_request(team, CLIENT, "erasure")
    api.executed(team, request_id)
    aws.client("dynamodb").update_item(
        TableName=config.get("REQUESTS_TABLE"), Key={"team_id": {"S": team.id}, "request_id": {"S": request_id}},
        UpdateExpression="SET executed_by = :old", ExpressionAttributeValues={":old": {"S": "m_before"}})
    assert api.request_view(team, request_id)["executed_by"] == {"kind": "member", "id": "m_before"}
