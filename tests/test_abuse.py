"""Abuse and identity: forged, replayed, expired or stolen links and tokens act on nothing."""
import datetime as dt
import logging

import pytest

from chalicelib import clock, config, teams, tokens
from chalicelib.notifications import BatchFailed
from tests.support import shift_time


# --- verification ---------------------------------------------------------------------------------------------

def test_verification_link_expires_after_24_hours(api, team, monkeypatch):
    api.submit(team, "alice@client.example")
    api.pump()
    link = api.last_link_to("alice@client.example", "/portal/privacy/verify/")
    shift_time(monkeypatch, dt.timedelta(hours=24, minutes=1))
    answer = api.get(link)
    assert answer.status_code == 401
    assert "expired" in answer.body.decode().lower()
    api.pump()
    assert api.mail_to(team.admin_email) == []


def test_resends_are_capped_at_four_emails_in_any_24_hours(api, team):
    request_id = api.submit(team, "alice@client.example").json_body["request_id"]
    path = f"/portal/{team.id}/privacy/requests/{request_id}/resend"
    assert [api.post(path).status_code for _ in range(4)] == [202, 202, 202, 202]  # the same answer, always
    api.pump()
    assert len(api.mail_to("alice@client.example")) == 4  # the first email and three re-sends


def test_duplicate_submissions_send_no_email_beyond_the_cap(api, team):
    for _ in range(6):
        assert api.submit(team, " Alice@Client.example").status_code == 202
    api.pump()
    assert len(api.mail_to("alice@client.example")) == 4


def test_duplicate_submissions_make_no_second_request(api, team):
    for _ in range(3):
        api.submit(team, "alice@client.example")
    listed = api.get(f"/teams/{team.id}/privacy/requests", token=team.token).json_body["items"]
    assert len(listed) == 1


def test_a_verified_open_request_answers_duplicates_without_any_email(api, team):
    api.verified_request(team, "alice@client.example")
    sent = len(api.mail())
    again = api.submit(team, "alice@client.example")
    assert again.status_code == 202
    api.pump()
    assert len(api.mail()) == sent


def test_another_type_for_the_same_email_is_another_request(api, team):
    first = api.submit(team, "alice@client.example", "erasure").json_body["request_id"]
    second = api.submit(team, "alice@client.example", "access").json_body["request_id"]
    assert first != second


def test_unverified_request_expires_with_its_last_link_and_a_new_one_can_be_made(api, team, monkeypatch):
    old = api.submit(team, "alice@client.example").json_body["request_id"]
    api.pump()
    link = api.last_link_to("alice@client.example", "/portal/privacy/verify/")
    shift_time(monkeypatch, dt.timedelta(hours=24, minutes=1))
    listed = api.get(f"/teams/{team.id}/privacy/requests", token=_fresh_token(team)).json_body["items"]
    assert listed == []  # TTL deletion is lazy; the query-time filter hides it
    assert api.get(f"/teams/{team.id}/privacy/requests/{old}", token=_fresh_token(team)).status_code == 404
    assert api.get(link).status_code in (401, 404)
    new = api.submit(team, "alice@client.example").json_body["request_id"]
    assert new != old
    assert api.get(f"/teams/{team.id}/privacy/requests/{new}", token=_fresh_token(team)).status_code == 200


def test_unverified_request_carries_a_ttl_so_dynamodb_deletes_its_personal_data(api, team):
    from chalicelib.models import PrivacyRequest

    request_id = api.submit(team, "alice@client.example").json_body["request_id"]
    item = PrivacyRequest.get(team.id, request_id)
    assert clock.now() + dt.timedelta(hours=23) < item.expires_at <= clock.now() + dt.timedelta(hours=24)
    api.pump()
    api.get(api.last_link_to("alice@client.example", "/portal/privacy/verify/"))
    assert PrivacyRequest.get(team.id, request_id).expires_at is None


def _fresh_token(team):
    return tokens.bearer_for(team.id, team.admin_id, teams.get_member(team.id, team.admin_id).generation)


# --- rate limits ----------------------------------------------------------------------------------------------

def test_submissions_for_one_address_are_never_refused_with_429(api, team):
    answers = [api.submit(team, "alice@client.example", t) for t in
               ["erasure", "access", "portability", "rectification", "restriction", "objection"] * 2]
    assert {a.status_code for a in answers} == {202}


def test_more_than_sixty_submissions_an_hour_from_one_address_get_429(api, team):
    codes = [api.submit(team, f"client{n}@client.example").status_code for n in range(61)]
    assert codes == [202] * 60 + [429]


def test_rate_limits_are_configurable_per_stage():
    import json
    import pathlib

    stage = json.loads((pathlib.Path(__file__).parent.parent / ".chalice" / "config.json").read_text())
    assert stage["environment_variables"]["PORTAL_TAGGED_INBOX_PER_DAY"] == "10"
    assert config.get_int("PORTAL_LIMIT_PER_IP_HOUR") == 60


# --- action links ---------------------------------------------------------------------------------------------

def test_action_link_stops_working_when_the_officer_changes(api, team):
    api.add_member(team, "dpo", "dpo@team.example")
    api.add_member(team, "dpo2", "dpo2@team.example")
    api.patch(f"/teams/{team.id}/privacy/settings", {"privacy_officer_id": "dpo"}, token=team.token)
    api.new_dossier(team, "alice@client.example")
    api.verified_request(team, "alice@client.example")
    link = api.last_link_to("dpo@team.example", "/actions/")
    api.patch(f"/teams/{team.id}/privacy/settings", {"privacy_officer_id": "dpo2"}, token=team.token)
    shown = api.get(link)
    assert shown.status_code == 403 and b"no longer valid" in shown.body
    assert api.post(link, raw=b"", headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 403
    assert len(api.get(f"/teams/{team.id}/dossiers", token=team.token).json_body["items"]) == 1


def test_action_link_expires_after_7_days(api, team, monkeypatch):
    api.verified_request(team, "alice@client.example")
    link = api.last_link_to(team.admin_email, "/actions/")
    shift_time(monkeypatch, dt.timedelta(days=7, minutes=1))
    assert api.post(link, raw=b"", headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 401


@pytest.mark.parametrize("position", [10, 60, -5])
def test_action_link_with_any_byte_altered_is_refused_with_a_page(api, team, position):
    api.new_dossier(team, "alice@client.example")
    api.verified_request(team, "alice@client.example")
    link = api.last_link_to(team.admin_email, "/actions/")
    chars = list(link)
    index = position if position >= 0 else len(chars) + position
    chars[index] = "A" if chars[index] != "A" else "B"
    answer = api.post("".join(chars), raw=b"", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code in (401, 404)
    assert answer.headers["Content-Type"].startswith("text/html")
    assert len(api.get(f"/teams/{team.id}/dossiers", token=team.token).json_body["items"]) == 1


def test_a_verification_token_is_not_an_action_token(api, team):
    api.verified_request(team, "alice@client.example")
    verify = api.last_link_to("alice@client.example", "/portal/privacy/verify/").rsplit("/", 1)[1]
    answer = api.post(f"/actions/{verify}", raw=b"", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 401


def test_html_pages_send_strict_security_headers(api, team):
    api.verified_request(team, "alice@client.example")
    answer = api.get(api.last_link_to(team.admin_email, "/actions/"))
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Frame-Options"] == "DENY"


def test_logs_never_show_tokens_or_client_emails(api, team, caplog, monkeypatch):
    from chalicelib import logsafe, mailer
    from botocore.exceptions import ClientError

    logsafe.install()
    caplog.set_level(logging.DEBUG)
    api.submit(team, "alice@client.example")
    api.pump()
    link = api.last_link_to("alice@client.example", "/portal/privacy/verify/")
    monkeypatch.setattr(mailer, "send", lambda *a, **k: (_ for _ in ()).throw(
        ClientError({"Error": {"Code": "Throttling", "Message": "to alice@client.example"}}, "SendRawEmail")))
    api.get(link)
    with pytest.raises(BatchFailed):
        api.pump()
    text = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "stream record" in text  # the failure was logged...
    assert "alice@client.example" not in text  # ...without the address
    assert link.rsplit("/", 1)[1] not in text
    assert logsafe.pseudonym("alice@client.example") in text


# --- bearer tokens --------------------------------------------------------------------------------------------

def test_bearer_token_expires(api, team, monkeypatch):
    shift_time(monkeypatch, dt.timedelta(hours=config.get_int("BEARER_TOKEN_HOURS"), minutes=1))
    assert api.get(f"/teams/{team.id}/privacy/settings", token=team.token).status_code == 401


def test_removed_member_token_stops_working_at_once(api, team):
    token = api.add_member(team, "temp", "temp@team.example")
    assert api.get(f"/teams/{team.id}/privacy/settings", token=token).status_code == 200
    assert api.delete(f"/teams/{team.id}/members/temp", token=team.token).status_code == 200
    assert api.get(f"/teams/{team.id}/privacy/settings", token=token).status_code == 401


def test_an_admin_officer_link_dies_when_another_member_becomes_officer(api, team):
    api.add_member(team, "dpo2", "dpo2@team.example")
    api.patch(f"/teams/{team.id}/privacy/settings", {"privacy_officer_id": team.admin_id}, token=team.token)
    api.new_dossier(team, "alice@client.example")
    api.verified_request(team, "alice@client.example")
    link = api.last_link_to(team.admin_email, "/actions/")
    api.patch(f"/teams/{team.id}/privacy/settings", {"privacy_officer_id": "dpo2"}, token=team.token)
    answer = api.post(link, raw=b"", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 403
    assert len(api.get(f"/teams/{team.id}/dossiers", token=team.token).json_body["items"]) == 1


def test_a_request_cancelled_before_verification_still_expires_with_its_personal_data(api, team):
    from chalicelib import privacy_requests
    from chalicelib.models import PrivacyRequest

    request_id = api.submit(team, "alice@client.example").json_body["request_id"]
    token = privacy_requests.status_token(PrivacyRequest.get(team.id, request_id))
    assert api.post(f"/portal/privacy/requests/{request_id}/cancel?token={token}", {}).status_code == 200
    item = PrivacyRequest.get(team.id, request_id)
    assert item.status == "cancelled" and item.expires_at is not None


def test_verification_link_of_a_cancelled_request_verifies_nothing(api, team):
    from chalicelib import privacy_requests
    from chalicelib.models import PrivacyRequest

    request_id = api.submit(team, "alice@client.example").json_body["request_id"]
    api.pump()
    link = api.last_link_to("alice@client.example", "/portal/privacy/verify/")
    token = privacy_requests.status_token(PrivacyRequest.get(team.id, request_id))
    api.post(f"/portal/privacy/requests/{request_id}/cancel?token={token}", {})
    answer = api.get(link)
    assert answer.status_code == 409 and answer.headers["Content-Type"].startswith("text/html")
    api.pump()
    assert api.mail_to(team.admin_email) == []


def test_a_used_action_link_shows_that_it_was_used(api, team):
    api.new_dossier(team, "alice@client.example")
    api.verified_request(team, "alice@client.example")
    link = api.last_link_to(team.admin_email, "/actions/")
    assert api.post(link, raw=b"", headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 202
    api.work()
    again = api.get(link)
    assert again.status_code == 409 and b"already used" in again.body
