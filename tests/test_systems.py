"""The registry of connected systems (Art. 19): who may change it, the signing secret shown once and rotated with a
day of overlap, the cap, and what the fan-out reads from it."""
import base64
import datetime as dt
import json

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from chalicelib import systems, webhooks
from tests.support import resolve_hooks_publicly, shift_time

HOOK = "https://hooks.example.com/privacy"
WEBHOOK = {"name": "CRM", "kind": "webhook", "url": HOOK}
MANUAL = {"name": "Paper archive", "kind": "manual", "owner_email": "Archivist@Team.example"}


@pytest.fixture(autouse=True)
def dns(monkeypatch):
    """hooks.example.com resolves to a public address; other names as usual."""
    resolve_hooks_publicly(monkeypatch)


def path(team, system_id="crm"):
    return f"/teams/{team.id}/privacy/systems/{system_id}"


def put(api, team, body, system_id="crm", token=None):
    return api.put(path(team, system_id), body, token=token or team.token)


def signed_by(system, payload="{}"):
    # Signed now (the receiver's clock); the module's clock decides which secrets are still valid.
    return webhooks.signature_headers(system, "msg_1", dt.datetime.now(dt.timezone.utc), payload)


def verifies(secret, headers, payload="{}") -> bool:
    try:
        Webhook(secret).verify(payload, headers)
        return True
    except WebhookVerificationError:
        return False


# --- create, read, delete ----------------------------------------------------------------------------------

def test_an_admin_registers_a_webhook_and_is_answered_its_secret(api, team):
    answer = put(api, team, WEBHOOK)
    assert answer.status_code == 201, answer.body
    body = answer.json_body
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"][len("whsec_"):])) == 32
    assert {k: body[k] for k in ("system_id", "name", "kind", "url", "owner_email", "completion")} == {
        "system_id": "crm", "name": "CRM", "kind": "webhook", "url": HOOK, "owner_email": None,
        "completion": "callback"}
    assert body["request_types"] == ["erasure", "rectification", "restriction", "opt_out_sale"]
    assert body["disabled_at"] is None and body["disabled_reason"] is None


def test_the_secret_is_never_listed_nor_shown_again(api, team):
    secret = put(api, team, WEBHOOK).json_body["secret"]
    again = put(api, team, {**WEBHOOK, "name": "CRM (EU)"})
    one = api.get(path(team), token=team.token)
    listed = api.get(f"/teams/{team.id}/privacy/systems", token=team.token)
    assert again.status_code == 200 and "secret" not in again.json_body
    assert again.json_body["name"] == "CRM (EU)"
    for answer in (again, one, listed):
        assert secret not in answer.body.decode() and '"secret"' not in answer.body.decode()


def test_an_update_keeps_the_secret_that_signs(api, team):
    secret = put(api, team, WEBHOOK).json_body["secret"]
    put(api, team, {**WEBHOOK, "completion": "2xx"})
    assert verifies(secret, signed_by(systems.get(team.id, "crm")))


def test_a_manual_system_has_an_owner_and_no_secret(api, team):
    answer = put(api, team, MANUAL, "archive")
    assert answer.status_code == 201, answer.body
    body = answer.json_body
    assert "secret" not in body
    assert body["owner_email"] == "archivist@team.example" and body["url"] is None and body["completion"] is None


def test_a_member_can_list_and_read_the_systems(api, team):
    put(api, team, WEBHOOK)
    token = api.add_member(team, "plain", "plain@team.example")
    listed = api.get(f"/teams/{team.id}/privacy/systems", token=token)
    assert listed.status_code == 200
    assert [s["system_id"] for s in listed.json_body["items"]] == ["crm"] and listed.json_body["next"] is None
    assert api.get(path(team), token=token).json_body["name"] == "CRM"


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_a_member_who_is_not_admin_cannot_change_systems(api, team, method):
    put(api, team, WEBHOOK)
    token = api.add_member(team, "plain", "plain@team.example")
    answer = api.call(method, path(team), WEBHOOK if method == "PUT" else None, token=token)
    assert answer.status_code == 403
    assert systems.get(team.id, "crm").name == "CRM"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_another_team_s_admin_is_refused(api, team, method):
    put(api, team, WEBHOOK)
    other = api.new_team("Other", "admin@other.example")
    answer = api.call(method, path(team), WEBHOOK if method == "PUT" else None, token=other.token)
    assert answer.status_code == 403
    assert systems.get(team.id, "crm").name == "CRM"


def test_reading_an_unknown_system_is_a_404(api, team):
    assert api.get(path(team, "nothing"), token=team.token).status_code == 404


def test_deleting_answers_the_system_and_removes_it(api, team):
    put(api, team, WEBHOOK)
    answer = api.delete(path(team), token=team.token)
    assert answer.status_code == 200 and answer.json_body["system_id"] == "crm"
    assert "secret" not in answer.json_body
    assert api.get(path(team), token=team.token).status_code == 404
    assert api.delete(path(team), token=team.token).status_code == 404


def test_a_system_created_again_after_a_delete_has_a_new_generation(api, team):
    put(api, team, WEBHOOK)
    first = systems.get(team.id, "crm").generation
    api.delete(path(team), token=team.token)
    put(api, team, WEBHOOK)
    assert systems.get(team.id, "crm").generation != first


def test_an_update_keeps_the_generation(api, team):
    put(api, team, WEBHOOK)
    first = systems.get(team.id, "crm").generation
    put(api, team, {**WEBHOOK, "name": "Renamed"})
    assert systems.get(team.id, "crm").generation == first


# --- the secret's rotation ---------------------------------------------------------------------------------

def test_rotating_answers_a_new_secret_once(api, team):
    old = put(api, team, WEBHOOK).json_body["secret"]
    answer = put(api, team, {**WEBHOOK, "rotate_secret": True})
    assert answer.status_code == 200
    assert answer.json_body["secret"].startswith("whsec_") and answer.json_body["secret"] != old
    assert answer.json_body["previous_secret_expires_at"] is not None


def test_after_a_rotation_both_secrets_verify_for_a_day(api, team, monkeypatch):
    old = put(api, team, WEBHOOK).json_body["secret"]
    new = put(api, team, {**WEBHOOK, "rotate_secret": True}).json_body["secret"]
    shift_time(monkeypatch, dt.timedelta(hours=23, minutes=59))
    headers = signed_by(systems.get(team.id, "crm"))
    assert verifies(old, headers) and verifies(new, headers)


def test_a_day_after_a_rotation_only_the_new_secret_verifies(api, team, monkeypatch):
    old = put(api, team, WEBHOOK).json_body["secret"]
    new = put(api, team, {**WEBHOOK, "rotate_secret": True}).json_body["secret"]
    shift_time(monkeypatch, dt.timedelta(hours=24, seconds=1))
    headers = signed_by(systems.get(team.id, "crm"))
    assert verifies(new, headers) and not verifies(old, headers)
    assert systems.view(systems.get(team.id, "crm"))["previous_secret_expires_at"] is None


def test_a_second_rotation_drops_secrets_already_expired(api, team, monkeypatch):
    first = put(api, team, WEBHOOK).json_body["secret"]
    put(api, team, {**WEBHOOK, "rotate_secret": True})
    shift_time(monkeypatch, dt.timedelta(days=2))
    systems.put(team.id, "crm", {**WEBHOOK, "rotate_secret": True})  # the admin's token has expired meanwhile
    stored = [s["secret"] for s in systems.get(team.id, "crm").secrets]
    assert first not in stored and len(stored) == 2


def test_rotating_a_manual_system_is_refused(api, team):
    put(api, team, MANUAL, "archive")
    answer = put(api, team, {**MANUAL, "rotate_secret": True}, "archive")
    assert answer.status_code == 400 and answer.json_body["field"] == "body.rotate_secret"


# --- changing kind -----------------------------------------------------------------------------------------

def test_a_manual_system_that_becomes_a_webhook_is_issued_a_secret(api, team):
    put(api, team, MANUAL, "archive")
    answer = put(api, team, WEBHOOK, "archive")
    assert answer.status_code == 200 and answer.json_body["secret"].startswith("whsec_")
    assert answer.json_body["owner_email"] is None
    assert verifies(answer.json_body["secret"], signed_by(systems.get(team.id, "archive")))


def test_a_webhook_that_becomes_manual_keeps_no_secret_nor_url(api, team):
    put(api, team, WEBHOOK)
    answer = put(api, team, MANUAL)
    assert answer.status_code == 200 and "secret" not in answer.json_body and answer.json_body["url"] is None
    assert systems.get(team.id, "crm").secrets is None


# --- what a body may say -----------------------------------------------------------------------------------

@pytest.mark.parametrize("body, field", [
    ({"name": "CRM", "kind": "webhook"}, "body.url"),
    ({**WEBHOOK, "owner_email": "a@team.example"}, "body.owner_email"),
    ({"name": "Archive", "kind": "manual"}, "body.owner_email"),
    ({**MANUAL, "url": HOOK}, "body.url"),
    ({**MANUAL, "completion": "2xx"}, "body.completion"),
    ({**MANUAL, "owner_email": "not an address"}, "body.owner_email"),
    ({**WEBHOOK, "request_types": ["access"]}, "body.request_types[0]"),
    ({**WEBHOOK, "request_types": []}, "body.request_types"),
    ({**WEBHOOK, "completion": "eventually"}, "body.completion"),
    ({**WEBHOOK, "kind": "ftp"}, "body.kind"),
    ({**WEBHOOK, "name": "CRM\u202e"}, "body.name"),
    ({**WEBHOOK, "url": "http://10.0.0.1/privacy"}, "body.url"),
    ({**WEBHOOK, "url": "https://169.254.169.254/latest/meta-data/"}, "body.url"),
    ({**WEBHOOK, "secret": "whsec_mine"}, "body"),
])
def test_a_body_that_does_not_describe_a_system_is_refused_naming_the_field(api, team, body, field):
    answer = put(api, team, body)
    assert answer.status_code == 400, answer.body
    assert answer.json_body["field"] == field
    assert systems.get(team.id, "crm") is None


def test_request_types_are_kept_in_a_stable_order(api, team):
    answer = put(api, team, {**WEBHOOK, "request_types": ["restriction", "erasure"]})
    assert answer.json_body["request_types"] == ["erasure", "restriction"]


def test_a_system_id_with_an_invisible_character_is_refused(api, team):
    from chalicelib.errors import BadRequest

    with pytest.raises(BadRequest) as refused:
        systems.put(team.id, "crm\u200b", WEBHOOK)
    assert refused.value.extra["field"] == "system_id"


def test_a_system_id_longer_than_100_characters_is_refused(api, team):
    from chalicelib.errors import BadRequest

    with pytest.raises(BadRequest):
        systems.put(team.id, "s" * 101, WEBHOOK)


def test_a_local_receiver_is_accepted_in_the_local_stage(api, team):
    answer = put(api, team, {**WEBHOOK, "url": "http://127.0.0.1:9000/hook"})
    assert answer.status_code == 201, answer.body


def test_a_local_receiver_is_refused_where_only_public_urls_are_allowed(api, team, monkeypatch):
    monkeypatch.setenv("WEBHOOKS_PUBLIC_ONLY", "1")
    answer = put(api, team, {**WEBHOOK, "url": "http://127.0.0.1:9000/hook"})
    assert answer.status_code == 400 and answer.json_body["field"] == "body.url"


# --- the cap -----------------------------------------------------------------------------------------------

def test_a_team_may_connect_at_most_50_systems(api, team):
    for n in range(50):
        systems.put(team.id, f"s{n}", MANUAL)
    answer = put(api, team, WEBHOOK, "one-too-many")
    assert answer.status_code == 409 and "50" in answer.json_body["Message"]
    assert systems.get(team.id, "one-too-many") is None


def test_deleting_a_system_frees_its_place_under_the_cap(api, team):
    for n in range(50):
        systems.put(team.id, f"s{n}", MANUAL)
    api.delete(path(team, "s0"), token=team.token)
    assert put(api, team, WEBHOOK).status_code == 201


def test_updating_a_system_at_the_cap_is_allowed(api, team):
    for n in range(50):
        systems.put(team.id, f"s{n}", MANUAL)
    assert put(api, team, {**MANUAL, "name": "Renamed"}, "s3").status_code == 200


# --- what the fan-out reads --------------------------------------------------------------------------------

def test_for_request_type_gives_the_enabled_systems_receiving_that_type(api, team):
    put(api, team, WEBHOOK, "crm")
    put(api, team, {**MANUAL, "request_types": ["erasure"]}, "archive")
    put(api, team, WEBHOOK, "old")
    systems.disable(systems.get(team.id, "old"), "410 Gone")
    assert [s.system_id for s in systems.for_request_type(team.id, "erasure")] == ["archive", "crm"]
    assert [s.system_id for s in systems.for_request_type(team.id, "restriction")] == ["crm"]


def test_a_system_is_disabled_once_and_the_list_says_when_and_why(api, team):
    put(api, team, WEBHOOK)
    system = systems.get(team.id, "crm")
    assert systems.disable(system, "answered 410 Gone") is True
    assert systems.disable(system, "again") is False
    (listed,) = api.get(f"/teams/{team.id}/privacy/systems", token=team.token).json_body["items"]
    assert listed["disabled_reason"] == "answered 410 Gone" and listed["disabled_at"]


def test_disabling_a_system_deleted_and_created_again_does_not_touch_the_new_one(api, team):
    put(api, team, WEBHOOK)
    stale = systems.get(team.id, "crm")
    api.delete(path(team), token=team.token)
    put(api, team, WEBHOOK)
    assert systems.disable(stale, "late failure") is False
    assert systems.get(team.id, "crm").disabled_at is None


def test_a_put_enables_a_disabled_system_again(api, team):
    put(api, team, WEBHOOK)
    systems.disable(systems.get(team.id, "crm"), "answered 410 Gone")
    answer = put(api, team, {**WEBHOOK, "url": "https://hooks.example.com/privacy/v2"})
    assert answer.json_body["disabled_at"] is None and answer.json_body["disabled_reason"] is None


def test_the_view_carries_no_secret_nor_generation(api, team):
    secret = put(api, team, WEBHOOK).json_body["secret"]
    view = systems.view(systems.get(team.id, "crm"))
    assert secret not in json.dumps(view) and "secret" not in view and "generation" not in view
