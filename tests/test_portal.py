"""Issue 2 §4: the public client portal — what it shows, what it accepts, and email verification."""
import datetime as dt

from chalicelib import tokens
from tests.support import alter_one_char, error_shape, without_rate_counters


def settings_path(team):
    return f"/teams/{team.id}/privacy/settings"


def portal(api, team):
    answer = api.get(f"/portal/{team.id}/privacy")
    assert answer.status_code == 200, answer.body
    return answer.json_body


# --- what the portal shows ---------------------------------------------------------------------------------------

def test_portal_info_needs_no_token(api, team):
    assert api.get(f"/portal/{team.id}/privacy").status_code == 200


def test_portal_info_of_a_team_with_default_settings(api, team):
    info = portal(api, team)
    assert info["privacy_banner"] is True
    assert info["privacy_policy_url"] is None
    assert info["terms_of_service_url"] is None
    assert info["consent"] == {"required": False, "text": None, "version": 0}
    assert "erasure" in info["request_types"]
    assert all(isinstance(t, str) for t in info["request_types"])


def test_portal_links_are_null_while_policy_links_are_disabled(api, team):
    api.patch(settings_path(team), {"privacy_policy_url": "https://team.example/privacy",
                                    "terms_of_service_url": "https://team.example/terms"}, token=team.token)
    info = portal(api, team)
    assert info["privacy_policy_url"] is None
    assert info["terms_of_service_url"] is None


def test_portal_links_are_shown_once_policy_links_are_enabled(api, team):
    api.patch(settings_path(team), {"policy_links_enabled": True, "privacy_policy_url": "https://team.example/privacy",
                                    "terms_of_service_url": "https://team.example/terms"}, token=team.token)
    info = portal(api, team)
    assert info["privacy_policy_url"] == "https://team.example/privacy"
    assert info["terms_of_service_url"] == "https://team.example/terms"


def test_portal_shows_the_consent_wording_and_version_when_capture_is_on(api, team):
    api.patch(settings_path(team), {"consent_capture_enabled": True, "consent_text": "I agree."}, token=team.token)
    assert portal(api, team)["consent"] == {"required": True, "text": "I agree.", "version": 1}


def test_portal_banner_follows_the_setting(api, team):
    api.patch(settings_path(team), {"portal_privacy_banner_enabled": False}, token=team.token)
    assert portal(api, team)["privacy_banner"] is False


def test_portal_has_cors_on(api, team):
    answer = api.get(f"/portal/{team.id}/privacy", headers={"Origin": "https://client.example"})
    assert answer.headers.get("Access-Control-Allow-Origin")
    submitted = api.submit(team, "alice@client.example")
    assert submitted.headers.get("Access-Control-Allow-Origin")


def test_portal_of_an_unknown_team_is_404(api):
    answer = api.get("/portal/t_nope/privacy")
    assert answer.status_code == 404
    error_shape(answer)


# --- submitting a request ------------------------------------------------------------------------------------------

def test_submitting_a_request_answers_202_awaiting_verification(api, team):
    answer = api.submit(team, "alice@client.example", message="Please delete my data.")
    assert answer.status_code == 202, answer.body
    assert answer.json_body["request_id"]
    assert answer.json_body["status"] == "awaiting_verification"


def test_submitted_request_is_recorded_with_the_normalised_email(api, team):
    answer = api.submit(team, "  Alice@Client.Example ")
    request = api.request_view(team, answer.json_body["request_id"])
    assert request["email"] == "alice@client.example"
    assert request["type"] == "erasure"
    assert request["status"] == "awaiting_verification"


def test_submitting_sends_a_verification_link_to_the_client(api, team):
    api.submit(team, "alice@client.example")
    api.pump()
    mail = api.mail_to("alice@client.example")
    assert len(mail) == 1
    assert api.last_link_to("alice@client.example", "/portal/privacy/verify/")


def test_requests_are_accepted_when_the_banner_is_off(api, team):
    api.patch(settings_path(team), {"portal_privacy_banner_enabled": False}, token=team.token)
    answer = api.submit(team, "alice@client.example")
    assert answer.status_code == 202, answer.body
    assert answer.json_body["status"] == "awaiting_verification"


def test_submitting_to_an_unknown_team_is_404_and_writes_nothing_but_the_sources_rate_counter(api, team):
    """Probing for team ids counts against the caller's network like any submission (the team's existence is
    checked inside the write's transaction, not read before it)."""
    before = api.state()
    answer = api.post("/portal/t_nope/privacy/requests", {"email": "alice@client.example", "type": "erasure"})
    assert answer.status_code == 404
    error_shape(answer)
    assert without_rate_counters(api.state()) == without_rate_counters(before)


# --- unverified requests reach nobody ----------------------------------------------------------------------------

def test_an_unverified_request_notifies_nobody_but_the_client(api, team):
    api.add_member(team, "dpo", "dpo@team.example")
    api.patch(settings_path(team), {"privacy_officer_id": "dpo"}, token=team.token)
    api.submit(team, "alice@client.example")
    api.pump()
    api.pump()
    recipients = {address for message in api.mail() for address in message["to"]}
    assert recipients == {"alice@client.example"}


def test_an_unverified_request_stays_awaiting_verification(api, team):
    request_id = api.submit(team, "alice@client.example").json_body["request_id"]
    api.pump()
    assert api.request_view(team, request_id)["status"] == "awaiting_verification"


# --- verification -----------------------------------------------------------------------------------------------

def test_opening_the_verification_link_moves_the_request_to_pending(api, team):
    request_id = api.submit(team, "alice@client.example").json_body["request_id"]
    api.pump()
    link = api.last_link_to("alice@client.example", "/portal/privacy/verify/")
    answer = api.get(link)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    request = api.request_view(team, request_id)
    assert request["status"] == "pending"
    assert request["verified_at"]


def test_opening_the_verification_link_twice_keeps_it_pending(api, team):
    request_id = api.submit(team, "alice@client.example").json_body["request_id"]
    api.pump()
    link = api.last_link_to("alice@client.example", "/portal/privacy/verify/")
    assert api.get(link).status_code == 200
    assert api.get(link).status_code == 200
    assert api.request_view(team, request_id)["status"] == "pending"


def test_an_altered_verification_link_is_refused_with_a_page_not_a_500(api, team):
    request_id = api.submit(team, "alice@client.example").json_body["request_id"]
    api.pump()
    link = api.last_link_to("alice@client.example", "/portal/privacy/verify/")
    token = link.rsplit("/", 1)[1]
    answer = api.get(f"/portal/privacy/verify/{alter_one_char(token)}")
    assert 400 <= answer.status_code < 500
    assert answer.headers["Content-Type"].startswith("text/html")
    assert api.request_view(team, request_id)["status"] == "awaiting_verification"


def test_an_expired_verification_link_is_refused(api, team):
    request_id = api.submit(team, "alice@client.example").json_body["request_id"]
    expired = tokens.sign(tokens.VERIFY, {"team": team.id, "req": request_id}, lifetime=dt.timedelta(seconds=-60))
    answer = api.get(f"/portal/privacy/verify/{expired}")
    assert 400 <= answer.status_code < 500
    assert api.request_view(team, request_id)["status"] == "awaiting_verification"


def test_an_action_token_cannot_verify_a_request(api, team):
    request_id = api.submit(team, "alice@client.example").json_body["request_id"]
    other_purpose = tokens.sign(tokens.ACTION, {"team": team.id, "req": request_id, "officer": team.admin_id})
    answer = api.get(f"/portal/privacy/verify/{other_purpose}")
    assert 400 <= answer.status_code < 500
    assert api.request_view(team, request_id)["status"] == "awaiting_verification"
