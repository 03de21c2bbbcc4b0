"""Requests under each client's law (issue 18): the team's regimes, a submission's regime, extensions, the opt-out
of sale/sharing and Global Privacy Control, appeals, clarifications and how long records are kept."""
import datetime as dt

import pytest

from chalicelib import clock, privacy_requests, regimes
from chalicelib.models import PrivacyRequest

from .console_support import Console
from .support import shift_time


def offer(api, team, *codes, default=None):
    answer = api.patch(f"/teams/{team.id}/privacy/settings",
                       {"regimes": list(codes), "regime": default or codes[0]}, token=team.token)
    assert answer.status_code == 200, answer.body
    return answer.json_body


def item(team, request_id) -> PrivacyRequest:
    return PrivacyRequest.get(team.id, request_id, consistent_read=True)


def extend(api, team, request_id, **body):
    return api.post(f"/teams/{team.id}/privacy/requests/{request_id}/extend", {"reason": "many files", **body},
                    token=team.token)


def deny(api, team, request_id, **body):
    return api.post(f"/teams/{team.id}/privacy/requests/{request_id}/deny", {"reason": "not found", **body},
                    token=team.token)


def status_link(api, email, request_id):
    link = api.last_link_to(email, f"/portal/privacy/requests/{request_id}?token=")
    return link.split("token=", 1)[1].split("&", 1)[0].split('"', 1)[0]


# --- settings -------------------------------------------------------------------------------------------------

def test_a_team_is_under_the_gdpr_until_it_says_otherwise(api, team):
    settings = api.settings(team)
    assert (settings["regime"], settings["regimes"]) == ("gdpr", None)


def test_a_team_offers_several_laws_with_a_default(api, team):
    settings = offer(api, team, "ccpa", "gdpr", "uk_gdpr")
    assert (settings["regime"], settings["regimes"]) == ("ccpa", ["ccpa", "gdpr", "uk_gdpr"])


def test_an_unknown_regime_in_settings_is_a_400_naming_it(api, team):
    answer = api.patch(f"/teams/{team.id}/privacy/settings", {"regime": "mars"}, token=team.token)
    assert answer.status_code == 400
    assert answer.json_body["field"] == "body.regime"


def test_the_default_regime_must_be_among_those_offered(api, team):
    answer = api.patch(f"/teams/{team.id}/privacy/settings", {"regimes": ["ccpa"], "regime": "gdpr"},
                       token=team.token)
    assert answer.status_code == 400
    assert answer.json_body["field"] == "body.regimes"


def test_the_portal_lists_the_laws_and_the_rights_they_give(api, team):
    offer(api, team, "gdpr", "ccpa")
    info = api.get(f"/portal/{team.id}/privacy").json_body
    assert info["regimes"] == ["gdpr", "ccpa"]
    assert "opt_out_sale" in info["request_types"] and "objection" in info["request_types"]


# --- submissions --------------------------------------------------------------------------------------------------

def test_a_submission_without_a_regime_takes_the_teams_default(api, team):
    offer(api, team, "lgpd", "gdpr")
    request_id = api.submit(team, "ana@client.example", "access").json_body["request_id"]
    stored = item(team, request_id)
    assert stored.regime == "lgpd"
    received = clock.parse(stored.received_at)
    assert clock.parse(stored.due_at) == regimes.answer_due(regimes.REGIMES["lgpd"], received)


def test_a_submission_names_its_clients_law_among_the_teams(api, team):
    offer(api, team, "gdpr", "ccpa")
    request_id = api.submit(team, "cal@client.example", "erasure", regime="ccpa").json_body["request_id"]
    stored = item(team, request_id)
    assert stored.regime == "ccpa"
    local = regimes.local_date(regimes.REGIMES["ccpa"], clock.parse(stored.due_at))
    assert local == regimes.local_date(regimes.REGIMES["ccpa"], clock.parse(stored.received_at)) + dt.timedelta(45)


def test_a_law_the_team_does_not_offer_is_a_400_naming_body_regime(api, team):
    offer(api, team, "gdpr")
    answer = api.submit(team, "x@client.example", "erasure", regime="ccpa")
    assert answer.status_code == 400
    assert answer.json_body["field"] == "body.regime"
    assert PrivacyRequest.count(team.id) == 0


def test_a_right_the_law_does_not_give_is_a_400_naming_body_type(api, team):
    offer(api, team, "ccpa")
    answer = api.submit(team, "x@client.example", "restriction")
    assert answer.status_code == 400
    assert answer.json_body["field"] == "body.type"


def test_a_ccpa_request_records_when_its_receipt_must_be_confirmed(api, team):
    offer(api, team, "ccpa")
    request_id = api.submit(team, "cal@client.example", "access").json_body["request_id"]
    assert item(team, request_id).receipt_due_at is not None
    api.pump()
    assert api.mail_to("cal@client.example")  # the receipt (with its confirmation link) goes at once


# --- extensions --------------------------------------------------------------------------------------------------

def test_a_ccpa_request_is_extended_by_45_days_once(api, team):
    offer(api, team, "ccpa")
    request_id = api.verified_request(team, "cal@client.example", "access")
    before = item(team, request_id)
    answer = extend(api, team, request_id)
    assert answer.status_code == 200, answer.body
    assert answer.json_body["extension_days"] == 45
    assert clock.parse(answer.json_body["due_at"]) - clock.parse(before.due_at) == dt.timedelta(days=45)


def test_a_second_ccpa_extension_is_a_409_saying_only_one_is_allowed(api, team):
    offer(api, team, "ccpa")
    request_id = api.verified_request(team, "cal@client.example", "access")
    assert extend(api, team, request_id).status_code == 200
    again = extend(api, team, request_id)
    assert again.status_code == 409
    assert "one extension only" in again.json_body["Message"]


def test_a_law_without_extension_answers_409_naming_it(api, team):
    offer(api, team, "lgpd")
    request_id = api.verified_request(team, "ana@client.example", "access")
    answer = extend(api, team, request_id)
    assert answer.status_code == 409
    assert "LGPD allows no extension" in answer.json_body["Message"]


def test_a_gdpr_extension_still_needs_its_months(api, team):
    request_id = api.verified_request(team, "eu@client.example", "access")
    answer = extend(api, team, request_id)
    assert answer.status_code == 400
    assert answer.json_body["field"] == "body.months"


def test_months_on_a_ccpa_extension_is_a_400(api, team):
    offer(api, team, "ccpa")
    request_id = api.verified_request(team, "cal@client.example", "access")
    answer = extend(api, team, request_id, months=1)
    assert answer.status_code == 400
    assert answer.json_body["field"] == "body.months"


def test_the_extension_is_in_the_requests_record(api, team):
    offer(api, team, "pipeda")
    request_id = api.verified_request(team, "can@client.example", "access")
    extend(api, team, request_id)
    record = api.get(f"/teams/{team.id}/privacy/requests/{request_id}/record", token=team.token).json_body
    assert record["verifies"], record["problem"]
    assert record["entries"][-1]["event"] == "extended" and record["entries"][-1]["days"] == 30


# --- opt-out of sale/sharing and Global Privacy Control -------------------------------------------------------------

def test_an_opt_out_needs_no_verification_and_completes_on_its_own(api, team):
    offer(api, team, "ccpa")
    dossier = api.new_dossier(team, "cal@client.example")
    answer = api.submit(team, "cal@client.example", "opt_out_sale")
    assert answer.status_code == 202
    assert answer.json_body["status"] == "in_progress"
    api.pump()
    view = api.request_view(team, answer.json_body["request_id"])
    assert view["status"] == "completed"
    assert api.get(f"/teams/{team.id}/dossiers/{dossier['dossier_id']}", token=team.token).json_body["opt_out"]


def test_a_dossier_created_after_the_opt_out_records_it(api, team):
    offer(api, team, "ccpa")
    api.submit(team, "cal@client.example", "opt_out_sale")
    api.pump()
    assert api.new_dossier(team, "cal@client.example")["opt_out"]["opted_out_at"]


def test_an_opt_out_tells_the_connected_systems_and_waits_for_them(api, team):
    offer(api, team, "ccpa")
    answer = api.put(f"/teams/{team.id}/privacy/systems/ads", {"name": "Ad network", "kind": "manual",
                                                                "owner_email": "ads@partner.example"}, token=team.token)
    assert answer.status_code == 201, answer.body
    request_id = api.submit(team, "cal@client.example", "opt_out_sale").json_body["request_id"]
    api.pump()
    view = api.request_view(team, request_id)
    assert view["status"] == "in_progress"
    assert [task["system_id"] for task in view["recipients"]] == ["ads"]
    assert api.mail_to("ads@partner.example")


def test_a_repeated_opt_out_acts_once(api, team):
    offer(api, team, "ccpa")
    api.submit(team, "cal@client.example", "opt_out_sale")
    api.submit(team, "cal@client.example", "opt_out_sale")
    api.pump()
    assert PrivacyRequest.count(team.id) == 1


def test_a_gpc_signal_on_a_ccpa_submission_is_also_an_opt_out(api, team):
    offer(api, team, "ccpa")
    answer = api.post(f"/portal/{team.id}/privacy/requests", {"email": "cal@client.example", "type": "access"},
                      headers={"Sec-GPC": "1"})
    assert answer.status_code == 202
    kinds = sorted((r.type, bool(r.gpc)) for r in PrivacyRequest.query(team.id))
    assert kinds == [("access", False), ("opt_out_sale", True)]


def test_a_gpc_signal_under_the_gdpr_asks_nothing_more(api, team):
    api.post(f"/portal/{team.id}/privacy/requests", {"email": "eu@client.example", "type": "access"},
             headers={"Sec-GPC": "1"})
    assert [r.type for r in PrivacyRequest.query(team.id)] == ["access"]


def test_an_opt_out_cannot_be_extended(api, team):
    offer(api, team, "ccpa")
    request_id = api.submit(team, "cal@client.example", "opt_out_sale").json_body["request_id"]
    answer = extend(api, team, request_id)
    assert answer.status_code == 409


# --- appeals -------------------------------------------------------------------------------------------------------

def denied_request(api, team, code="vcdpa"):
    offer(api, team, code)
    request_id = api.verified_request(team, "va@client.example", "access")
    assert deny(api, team, request_id, basis="unverified").status_code == 200
    api.pump()
    return request_id, status_link(api, "va@client.example", request_id)


def appeal(api, request_id, token, body=None):
    return api.post(f"/portal/privacy/requests/{request_id}/appeal?token={token}", body or {"reason": "I did ask"})


def test_a_denied_client_appeals_and_the_request_is_open_again_due_in_the_states_period(api, team):
    request_id, token = denied_request(api, team)
    answer = appeal(api, request_id, token)
    assert answer.status_code == 200, answer.body
    stored = item(team, request_id)
    assert stored.status == "pending" and stored.appealed_at and stored.first_denial_reason == "not found"
    vcdpa = regimes.REGIMES["vcdpa"]
    due = regimes.local_date(vcdpa, clock.parse(stored.due_at))
    assert due == regimes.local_date(vcdpa, clock.parse(stored.appealed_at)) + dt.timedelta(days=60)


def test_an_appeal_is_allowed_once(api, team):
    request_id, token = denied_request(api, team)
    appeal(api, request_id, token)
    assert deny(api, team, request_id).status_code == 200
    again = appeal(api, request_id, token)
    assert again.status_code == 409
    assert "appealed once" in again.json_body["Message"]


def test_a_granted_appeal_executes_the_request(api, team):
    request_id, token = denied_request(api, team)
    appeal(api, request_id, token)
    assert api.executed(team, request_id)["status"] == "completed"


def test_a_gdpr_denial_cannot_be_appealed_here(api, team):
    request_id = api.verified_request(team, "eu@client.example", "access")
    deny(api, team, request_id)
    api.pump()
    answer = appeal(api, request_id, status_link(api, "eu@client.example", request_id))
    assert answer.status_code == 409


def test_an_appeal_with_a_forged_link_changes_nothing(api, team):
    request_id, token = denied_request(api, team)
    answer = appeal(api, request_id, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    assert answer.status_code in (400, 401, 403, 404)
    assert item(team, request_id).status == "denied"


def test_the_appealed_record_still_verifies(api, team):
    request_id, token = denied_request(api, team)
    appeal(api, request_id, token)
    record = api.get(f"/teams/{team.id}/privacy/requests/{request_id}/record", token=team.token).json_body
    assert record["verifies"], record["problem"]


def test_the_status_page_offers_the_appeal_form_only_after_a_denial(api, team):
    request_id, token = denied_request(api, team)
    page = api.get(f"/portal/privacy/requests/{request_id}?token={token}", headers={"Accept": "text/html"})
    assert f"/portal/privacy/requests/{request_id}/appeal?token=" in page.body.decode()
    appeal(api, request_id, token)
    page = api.get(f"/portal/privacy/requests/{request_id}?token={token}", headers={"Accept": "text/html"})
    assert "/appeal?token=" not in page.body.decode()


# --- clarifications (UK GDPR Art. 12A) --------------------------------------------------------------------------------

def ask(api, team, request_id, question="Which account?"):
    return api.post(f"/teams/{team.id}/privacy/requests/{request_id}/clarify", {"question": question},
                    token=team.token)


def answer_clarification(api, request_id, token, text="The shop account"):
    return api.post(f"/portal/privacy/requests/{request_id}/clarification?token={token}", {"answer": text})


def test_asking_a_uk_client_to_clarify_stops_the_clock(api, team):
    offer(api, team, "uk_gdpr")
    request_id = api.verified_request(team, "uk@client.example", "access")
    answer = ask(api, team, request_id)
    assert answer.status_code == 200, answer.body
    stored = item(team, request_id)
    assert stored.paused_at and stored.open_due is None


def test_the_clients_answer_moves_the_due_date_by_the_days_it_stood_still(api, team, monkeypatch):
    offer(api, team, "uk_gdpr")
    request_id = api.verified_request(team, "uk@client.example", "access")
    ask(api, team, request_id)
    api.pump()
    token = status_link(api, "uk@client.example", request_id)
    before = item(team, request_id)
    shift_time(monkeypatch, dt.timedelta(days=10))
    answer = answer_clarification(api, request_id, token)
    assert answer.status_code == 200, answer.body
    after = item(team, request_id)
    uk = regimes.REGIMES["uk_gdpr"]
    assert after.paused_days == 10 and after.paused_at is None and after.open_due
    assert after.due_at == clock.iso(regimes.answer_due(uk, clock.parse(before.received_at), "access", 0, 10))
    assert after.clarification_answer == "The shop account"


def test_a_second_answer_is_a_409(api, team):
    offer(api, team, "uk_gdpr")
    request_id = api.verified_request(team, "uk@client.example", "access")
    ask(api, team, request_id)
    api.pump()
    token = status_link(api, "uk@client.example", request_id)
    assert answer_clarification(api, request_id, token).status_code == 200
    assert answer_clarification(api, request_id, token).status_code == 409


def test_a_paused_request_is_not_overdue(api, team, monkeypatch):
    offer(api, team, "uk_gdpr")
    request_id = api.verified_request(team, "uk@client.example", "access")
    ask(api, team, request_id)
    shift_time(monkeypatch, dt.timedelta(days=60))
    assert privacy_requests.is_overdue(item(team, request_id)) is False


def test_a_gdpr_request_does_not_stop_its_clock_for_a_clarification(api, team):
    request_id = api.verified_request(team, "eu@client.example", "access")
    answer = ask(api, team, request_id)
    assert answer.status_code == 409
    assert "doesn't stop the clock" in answer.json_body["Message"]


def test_the_client_is_emailed_the_question(api, team):
    offer(api, team, "uk_gdpr")
    request_id = api.verified_request(team, "uk@client.example", "access")
    ask(api, team, request_id, "Which of your two accounts?")
    api.pump()
    assert any("Which of your two accounts?" in (m.get("text") or "") for m in api.mail_to("uk@client.example"))


# --- records kept as long as the strictest law requires ---------------------------------------------------------------

def test_a_team_offering_the_ccpa_keeps_closed_requests_24_months_before_pseudonymising(api, team):
    offer(api, team, "gdpr", "ccpa")
    request_id = api.verified_request(team, "eu@client.example", "access")
    deny(api, team, request_id)
    stored = item(team, request_id)
    kept = clock.parse(stored.chore_at) - clock.parse(stored.completed_at)
    assert kept == dt.timedelta(days=731)


def test_a_gdpr_only_team_keeps_them_as_the_stage_says(api, team):
    request_id = api.verified_request(team, "eu@client.example", "access")
    deny(api, team, request_id)
    stored = item(team, request_id)
    assert clock.parse(stored.chore_at) - clock.parse(stored.completed_at) == dt.timedelta(days=30)


# --- the console ---------------------------------------------------------------------------------------------------

@pytest.fixture
def officer(api, team):
    console = Console(api)
    console.sign_in(team.admin_email)
    return console


def test_the_console_sets_the_teams_laws(api, team, officer):
    officer.get(f"/console/teams/{team.id}/settings")
    answer = officer.post(f"/console/teams/{team.id}/settings",
                          [("regime", "ccpa"), ("regimes", "ccpa"), ("regimes", "gdpr"), ("locale", "en")])
    assert answer.status_code == 303, answer.body
    assert (api.settings(team)["regime"], api.settings(team)["regimes"]) == ("ccpa", ["ccpa", "gdpr"])


def test_the_console_extends_a_ccpa_request_by_its_45_days(api, team, officer):
    offer(api, team, "ccpa")
    request_id = api.verified_request(team, "cal@client.example", "access")
    page = officer.get(f"/console/teams/{team.id}/requests/{request_id}").body.decode()
    assert 'name="months"' not in page and "45 days" in page
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/extend", {"reason": "Many files"})
    assert answer.status_code == 303
    assert api.request_view(team, request_id)["extension_days"] == 45


def test_the_console_asks_a_uk_client_to_clarify(api, team, officer):
    offer(api, team, "uk_gdpr")
    request_id = api.verified_request(team, "uk@client.example", "access")
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/clarify", {"question": "Which account?"})
    assert answer.status_code == 303
    assert item(team, request_id).paused_at


def test_the_console_records_the_grounds_of_a_denial(api, team, officer):
    request_id = api.verified_request(team, "eu@client.example", "access")
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    officer.post(f"/console/teams/{team.id}/requests/{request_id}/deny", {"reason": "No data", "basis": "no_data"})
    assert item(team, request_id).denial_basis == "no_data"


def test_the_privacy_page_asks_where_the_client_lives(api, team):
    offer(api, team, "gdpr", "ccpa")
    page = api.get(f"/portal/{team.id}/privacy", headers={"Accept": "text/html"}).body.decode()
    assert 'name="regime"' in page and 'value="ccpa"' in page


def test_the_privacy_page_form_sends_the_chosen_law(api, team):
    offer(api, team, "gdpr", "ccpa")
    answer = api.call("POST", f"/portal/{team.id}/privacy/form",
                      headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"},
                      raw=b"type=erasure&email=cal%40client.example&regime=ccpa")
    assert answer.status_code == 200, answer.body
    assert [r.regime for r in PrivacyRequest.query(team.id)] == ["ccpa"]


def test_the_privacy_page_says_when_a_right_is_not_given_where_the_client_lives(api, team):
    offer(api, team, "gdpr", "ccpa")
    answer = api.call("POST", f"/portal/{team.id}/privacy/form",
                      headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"},
                      raw=b"type=restriction&email=cal%40client.example&regime=ccpa")
    assert answer.status_code == 400
    assert "not available under the law of the place you chose" in answer.body.decode()
    assert PrivacyRequest.count(team.id) == 0
