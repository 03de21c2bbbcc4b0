"""Issue 16: the account console, used as a person uses it (Chalice's test client keeping cookies like a browser).

Sign-in by an emailed link (GET shows, POST signs in, once), sessions that end, forms that need the session's
CSRF token and our Origin, the queue, ▷ execute then confirm, a request's page, settings, members, systems, the
CSV log; and every refusal changing nothing."""
import csv
import datetime as dt
import io
import re

import pytest

from chalicelib import clock
from tests.console_support import ORIGIN, Console
from tests.support import resolve_hooks_publicly


@pytest.fixture
def officer(api, team):
    """The team's admin, signed in to the console."""
    console = Console(api)
    console.sign_in(team.admin_email)
    return console


def rows(console) -> list[str]:
    return re.findall(r'<tr id="(r_[0-9A-Z]+)" data-request-id="\1"', console.page)


# --- sign-in --------------------------------------------------------------------------------------------------

def test_the_sign_in_page_asks_for_an_email(api):
    console = Console(api)
    answer = console.get("/console")
    assert answer.status_code == 200
    assert '<input type="email" id="email" name="email"' in console.page


def test_a_member_gets_a_sign_in_link_by_email(api, team):
    Console(api).ask_link(team.admin_email)
    assert api.last_link_to(team.admin_email, "/console/sign-in/")


def test_a_stranger_gets_the_same_answer_and_no_email(api, team):
    member, stranger = Console(api), Console(api)
    member.ask_link(team.admin_email)
    answer = stranger.ask_link("nobody@elsewhere.example")
    assert answer.status_code == 200
    assert stranger.text().replace("nobody@elsewhere.example", "X") == member.text().replace(team.admin_email, "X")
    assert api.mail_to("nobody@elsewhere.example") == []


def test_an_invalid_address_is_refused_on_the_page(api):
    console = Console(api)
    console.get("/console")
    answer = console.post("/console/sign-in", {"email": "not an address"}, csrf=False)
    assert answer.status_code == 400
    assert 'role="alert"' in console.page and 'aria-invalid="true"' in console.page


def test_opening_the_link_signs_nobody_in(api, team):
    console = Console(api)
    console.ask_link(team.admin_email)
    link = api.last_link_to(team.admin_email, "/console/sign-in/")
    answer = console.get(link)
    assert answer.status_code == 200 and 'data-action="sign-in-link"' in console.page
    assert console.cookies == {}
    assert console.get("/console").status_code == 200 and 'name="email"' in console.page


def test_the_link_signs_in_once(api, team):
    console = Console(api)
    console.ask_link(team.admin_email)
    link = api.last_link_to(team.admin_email, "/console/sign-in/")
    assert console.post(link, csrf=False).status_code == 303
    again = Console(api)
    answer = again.post(link, csrf=False)
    assert answer.status_code == 409
    assert again.cookies == {}


def test_the_link_expires_after_fifteen_minutes(api, team, monkeypatch):
    console = Console(api)
    console.ask_link(team.admin_email)
    link = api.last_link_to(team.admin_email, "/console/sign-in/")
    later = clock.now() + dt.timedelta(minutes=16)
    monkeypatch.setattr(clock, "now", lambda: later)
    monkeypatch.setattr("jwt.api_jwt.datetime", _FrozenDatetime(later))
    answer = console.post(link, csrf=False)
    assert answer.status_code == 401
    assert console.cookies == {}


class _FrozenDatetime:
    """PyJWT checks `exp` against datetime.now(tz=utc): this moves its clock only."""

    def __init__(self, at):
        self.at = at

    def now(self, tz=None):
        return self.at

    def __getattr__(self, name):
        return getattr(dt.datetime, name)


def test_the_session_cookie_is_httponly_and_samesite(api, team):
    console = Console(api)
    console.ask_link(team.admin_email)
    link = api.last_link_to(team.admin_email, "/console/sign-in/")
    cookie = console.post(link, csrf=False).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Max-Age" not in cookie and "Expires" not in cookie  # gone when the browser closes


def test_the_cookie_is_secure_and_host_prefixed_over_https(api, team, monkeypatch):
    from chalicelib.console import visit

    monkeypatch.setenv("PUBLIC_BASE_URL", "https://privacy.example")
    cookie = visit.session_cookie("abc")
    assert cookie.startswith("__Host-pd_session=abc;") and "; Secure" in cookie and "Domain" not in cookie


def test_the_session_id_is_not_stored_as_such(api, team, officer):
    (session_id,) = officer.cookies.values()
    assert session_id not in str(api.state())


def test_a_session_ends_after_being_idle(api, team, officer, monkeypatch):
    later = clock.now() + dt.timedelta(minutes=31)
    monkeypatch.setattr(clock, "now", lambda: later)
    answer = officer.get(f"/console/teams/{team.id}/requests")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/console")


def test_an_active_session_still_ends_after_its_lifetime(api, team, officer, monkeypatch):
    start = clock.now()
    for minutes in range(20, 8 * 60, 20):  # a page every 20 minutes keeps it from idling
        at = start + dt.timedelta(minutes=minutes)
        monkeypatch.setattr(clock, "now", lambda at=at: at)
        assert officer.get(f"/console/teams/{team.id}/requests").status_code == 200
    monkeypatch.setattr(clock, "now", lambda: start + dt.timedelta(hours=8, minutes=1))
    assert officer.get(f"/console/teams/{team.id}/requests").status_code == 303


def test_signing_out_ends_the_session(api, team, officer):
    stolen = dict(officer.cookies)
    officer.get(f"/console/teams/{team.id}/requests")
    answer = officer.post("/console/sign-out")
    assert answer.status_code == 303 and "Max-Age=0" in answer.headers["Set-Cookie"]
    replay = Console(api)
    replay.cookies = stolen
    assert replay.get(f"/console/teams/{team.id}/requests").status_code == 303


def test_signing_out_needs_the_csrf_token(api, team, officer):
    officer.get(f"/console/teams/{team.id}/requests")
    assert officer.post("/console/sign-out", {"csrf_token": "forged"}).status_code == 403
    assert officer.get(f"/console/teams/{team.id}/requests").status_code == 200


def test_a_removed_member_loses_access_at_once(api, team):
    api.add_member(team, "bob", "bob@team.example")
    bob = Console(api)
    bob.sign_in("bob@team.example")
    assert bob.get(f"/console/teams/{team.id}/requests").status_code == 200
    assert api.delete(f"/teams/{team.id}/members/bob", token=team.token).status_code == 200
    assert bob.get(f"/console/teams/{team.id}/requests").status_code == 404


def test_a_demoted_admin_loses_the_admin_forms_at_once(api, team):
    api.add_member(team, "carol", "carol@team.example", role="admin")
    carol = Console(api)
    carol.sign_in("carol@team.example")
    carol.get(f"/console/teams/{team.id}/settings")
    assert 'data-action="save-settings"' in carol.page
    api.put(f"/teams/{team.id}/members/carol", {"email": "carol@team.example", "name": "Carol", "role": "member"},
            token=team.token)
    carol.get(f"/console/teams/{team.id}/settings")
    assert 'data-action="save-settings"' not in carol.page
    answer = carol.post(f"/console/teams/{team.id}/settings", {"consent_text": "changed"})
    assert answer.status_code == 403
    assert api.settings(team)["consent_text"] is None


def test_a_member_of_two_teams_picks_one(api, team):
    other = api.new_team("Other team", admin_email="second@team.example")
    api.add_member(other, "ada", team.admin_email, role="admin")
    console = Console(api)
    console.sign_in(team.admin_email)
    assert "Team" in console.text() and "Other team" in console.text()
    assert f"/console/teams/{team.id}/requests" in console.page and f"/console/teams/{other.id}/requests" in console.page


def test_another_teams_pages_show_nothing(api, team, officer):
    other = api.new_team("Other team", admin_email="second@team.example")
    request_id = api.verified_request(other, "client@x.example")
    for path in (f"/console/teams/{other.id}/requests", f"/console/teams/{other.id}/settings",
                 f"/console/teams/{other.id}/requests/{request_id}", f"/console/teams/{other.id}/log.csv"):
        answer = officer.get(path)
        assert answer.status_code == 404, path
        assert "client@x.example" not in answer.body.decode()


# --- forms: CSRF and origin -----------------------------------------------------------------------------------

def test_a_post_without_the_csrf_token_changes_nothing(api, team, officer):
    request_id = api.verified_request(team, "client@x.example")
    before = api.state()
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/execute", csrf=False)
    assert answer.status_code == 403
    assert api.state() == before


def test_a_post_with_another_sessions_token_is_refused(api, team, officer):
    request_id = api.verified_request(team, "client@x.example")
    other = Console(api)
    other.sign_in(team.admin_email)
    other.get(f"/console/teams/{team.id}/requests")
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/execute",
                          {"csrf_token": other.csrf_token()})
    assert answer.status_code == 403
    assert api.request_view(team, request_id)["status"] == "pending"


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1:8001",
                                    "http://127.0.0.1:8000.evil.example", "http://127.0.0.1", "https://127.0.0.1:8000",
                                    "http://127.0.0.1:8000/", "http://localhost:8000", ""])
def test_a_post_from_another_origin_is_refused(api, team, officer, origin):
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests")
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/execute", origin=origin)
    assert answer.status_code == 403
    assert api.request_view(team, request_id)["status"] == "pending"


def test_a_sign_in_form_from_another_site_sends_no_email(api, team):
    console = Console(api)
    answer = console.post("/console/sign-in", {"email": team.admin_email}, csrf=False, origin="https://evil.example")
    assert answer.status_code == 403
    assert api.mail_to(team.admin_email) == []


def test_pages_forbid_framing_and_inline_scripts(api, officer, team):
    answer = officer.get(f"/console/teams/{team.id}/requests")
    policy = answer.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert answer.headers["Cache-Control"] == "no-store"
    assert "<script>" not in officer.page and " style=" not in officer.page


# --- the queue ------------------------------------------------------------------------------------------------

def test_the_queue_lists_open_requests_soonest_due_first(api, team, officer):
    first = api.verified_request(team, "first@x.example")
    second = api.verified_request(team, "second@x.example")
    api.post(f"/teams/{team.id}/privacy/requests/{first}/extend", {"months": 1, "reason": "many files"},
             token=team.token)
    officer.get(f"/console/teams/{team.id}/requests")
    assert rows(officer) == [second, first]


def test_a_row_shows_type_client_dates_status_and_matching_dossiers(api, team, officer):
    api.new_dossier(team, "client@x.example")
    api.new_dossier(team, "client@x.example")
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests")
    row = re.search(rf'<tr id="{request_id}".*?</tr>', officer.page, re.S).group(0)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))
    assert "Erasure" in text and "client@x.example" in text and "Waiting to be handled" in text
    assert re.search(r"Matching dossiers\"?>?\s*2", row) or "> 2<" in row.replace("\n", "") or " 2 " in text
    assert "days left" in text


def test_an_overdue_request_stands_out(api, team, monkeypatch):
    request_id = api.verified_request(team, "client@x.example")
    monkeypatch.setenv("CONSOLE_IDLE_MINUTES", str(60 * 24 * 50))  # the officer looks again 40 days later
    monkeypatch.setenv("CONSOLE_SESSION_HOURS", str(24 * 50))
    officer = Console(api)
    officer.sign_in(team.admin_email)
    later = clock.now() + dt.timedelta(days=40)
    monkeypatch.setattr(clock, "now", lambda: later)
    officer.get(f"/console/teams/{team.id}/requests?overdue=1")
    assert rows(officer) == [request_id]
    assert 'class="overdue"' in officer.page and "days overdue" in officer.text()


def test_filters_by_type(api, team, officer):
    erasure = api.verified_request(team, "a@x.example")
    access = api.verified_request(team, "b@x.example", "access")
    officer.get(f"/console/teams/{team.id}/requests?type=access")
    assert rows(officer) == [access]
    officer.get(f"/console/teams/{team.id}/requests?type=erasure")
    assert rows(officer) == [erasure]


def test_filters_by_status(api, team, officer):
    done = api.verified_request(team, "a@x.example")
    api.executed(team, done)
    api.verified_request(team, "b@x.example")
    officer.get(f"/console/teams/{team.id}/requests?state=completed")
    assert rows(officer) == [done]


def test_an_unknown_filter_is_a_400_showing_the_open_requests(api, team, officer):
    answer = officer.get(f"/console/teams/{team.id}/requests?state=nonsense")
    assert answer.status_code == 400 and 'role="alert"' in officer.page


def test_the_search_by_email_is_a_post_and_finds_the_clients_requests(api, team, officer):
    wanted = api.verified_request(team, "wanted@x.example")
    api.verified_request(team, "other@x.example")
    officer.get(f"/console/teams/{team.id}/requests")
    assert 'method="post" action="/console/teams/' + team.id + '/requests/search"' in officer.page
    answer = officer.post(f"/console/teams/{team.id}/requests/search", {"email": "Wanted@X.example", "state": "all"})
    assert answer.status_code == 200
    assert rows(officer) == [wanted]


def test_the_queue_pages(api, team, officer, monkeypatch):
    from chalicelib import privacy_requests

    monkeypatch.setattr(privacy_requests, "PAGE_SIZE", 2)
    made = [api.verified_request(team, f"c{n}@x.example") for n in range(3)]
    officer.get(f"/console/teams/{team.id}/requests")
    first = rows(officer)
    following = re.search(r'rel="next" href="([^"]+)"', officer.page).group(1).replace("&amp;", "&")
    officer.get(following)
    assert sorted(first + rows(officer)) == sorted(made)


# --- ▷ execute then confirm -----------------------------------------------------------------------------------

def test_the_execute_button_opens_a_confirmation_and_runs_nothing(api, team, officer):
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests")
    assert f'href="/console/teams/{team.id}/requests/{request_id}/execute" data-action="execute"' in officer.page
    assert f'<dialog id="dialog-{request_id}"' in officer.page
    before = api.state()
    answer = officer.get(f"/console/teams/{team.id}/requests/{request_id}/execute")
    assert answer.status_code == 200 and 'data-action="confirm"' in officer.page
    assert api.state() == before


def test_confirming_erases_the_clients_dossiers(api, team, officer):
    api.new_dossier(team, "client@x.example")
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests/{request_id}/execute")
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/execute")
    assert answer.status_code == 303
    officer.follow(answer)
    assert "is being executed" in officer.text()
    assert 'data-status="in_progress"' in officer.page and "data-refresh=" in officer.page
    api.work()
    assert api.request_view(team, request_id)["status"] == "completed"
    assert api.get(f"/teams/{team.id}/dossiers?client_email=client@x.example", token=team.token).json_body["items"] == []
    officer.get(f"/console/teams/{team.id}/requests/{request_id}/row")
    assert 'data-status="completed"' in officer.page and "data-refresh" not in officer.page


def test_confirming_twice_executes_once(api, team, officer):
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests/{request_id}/execute")
    assert officer.post(f"/console/teams/{team.id}/requests/{request_id}/execute").status_code == 303
    officer.get(f"/console/teams/{team.id}/requests/{request_id}/execute")
    again = officer.post(f"/console/teams/{team.id}/requests/{request_id}/execute")
    assert again.status_code == 409 and "Nothing was executed" in officer.text()
    started = [e for e in api.request_view(team, request_id)["history"] if e["event"] == "execution_started"]
    assert len(started) == 1


def test_a_rectification_needs_its_note(api, team, officer):
    request_id = api.verified_request(team, "client@x.example", "rectification", message="fix my name")
    officer.get(f"/console/teams/{team.id}/requests/{request_id}/execute")
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/execute", {"note": ""})
    assert answer.status_code == 400
    assert api.request_view(team, request_id)["status"] == "pending"
    officer.post(f"/console/teams/{team.id}/requests/{request_id}/execute", {"note": "Name corrected"})
    api.work()
    assert api.request_view(team, request_id)["note"] == "Name corrected"


def test_a_read_only_member_sees_no_controls_and_a_forged_post_is_refused(api, team):
    api.add_member(team, "dave", "dave@team.example")
    request_id = api.verified_request(team, "client@x.example")
    dave = Console(api)
    dave.sign_in("dave@team.example")
    dave.get(f"/console/teams/{team.id}/requests")
    assert rows(dave) == [request_id]
    assert 'data-action="execute"' not in dave.page
    dave.get(f"/console/teams/{team.id}/requests/{request_id}")
    assert 'data-action="extend"' not in dave.page and 'data-action="deny"' not in dave.page
    for action in ("execute", "extend", "deny"):
        answer = dave.post(f"/console/teams/{team.id}/requests/{request_id}/{action}",
                           {"months": "1", "reason": "forged"})
        assert answer.status_code == 403, action
    assert api.request_view(team, request_id)["status"] == "pending"
    assert api.request_view(team, request_id)["extension_months"] == 0


def test_the_privacy_officer_may_execute(api, team):
    api.add_member(team, "olga", "olga@team.example")
    api.patch(f"/teams/{team.id}/privacy/settings", {"privacy_officer_id": "olga"}, token=team.token)
    request_id = api.verified_request(team, "client@x.example")
    olga = Console(api)
    olga.sign_in("olga@team.example")
    olga.get(f"/console/teams/{team.id}/requests")
    assert 'data-action="execute"' in olga.page
    olga.get(f"/console/teams/{team.id}/requests/{request_id}/execute")
    assert olga.post(f"/console/teams/{team.id}/requests/{request_id}/execute").status_code == 303


# --- a request's page -----------------------------------------------------------------------------------------

def test_the_request_page_shows_the_record_and_that_it_verifies(api, team, officer):
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    assert 'data-verifies="true"' in officer.page
    assert "Received" in officer.text() and "Confirmed by the client" in officer.text()


def test_extending_from_the_request_page(api, team, officer):
    request_id = api.verified_request(team, "client@x.example")
    before = api.request_view(team, request_id)["due_at"]
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/extend",
                          {"months": "2", "reason": "Hundreds of files"})
    assert answer.status_code == 303
    view = api.request_view(team, request_id)
    assert view["extension_months"] == 2 and view["due_at"] > before


def test_an_extension_without_a_reason_is_refused_inline(api, team, officer):
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/extend", {"months": "1", "reason": ""})
    assert answer.status_code == 400
    assert "Nothing was changed" in officer.text() and "<details class=\"action\" open>" in officer.page
    assert api.request_view(team, request_id)["extension_months"] == 0


def test_denying_from_the_request_page(api, team, officer):
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    officer.post(f"/console/teams/{team.id}/requests/{request_id}/deny", {"reason": "Manifestly unfounded"})
    view = api.request_view(team, request_id)
    assert view["status"] == "denied" and view["denial_reason"] == "Manifestly unfounded"


def test_lifting_a_restriction_from_the_request_page(api, team, officer):
    api.new_dossier(team, "client@x.example")
    request_id = api.verified_request(team, "client@x.example", "restriction")
    api.executed(team, request_id)
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    assert 'data-action="lift"' in officer.page
    assert officer.post(f"/console/teams/{team.id}/requests/{request_id}/lift-restriction").status_code == 303
    assert api.request_view(team, request_id)["lifted_at"]


# --- settings -------------------------------------------------------------------------------------------------

SETTING_FIELDS = ("consent_capture_enabled", "consent_text", "policy_links_enabled", "privacy_policy_url",
                  "terms_of_service_url", "portal_privacy_banner_enabled", "privacy_officer_id", "locale", "locales")


def test_the_settings_form_uses_the_apis_field_names(api, team, officer):
    officer.get(f"/console/teams/{team.id}/settings")
    for name in SETTING_FIELDS:
        assert f'name="{name}"' in officer.page, name
    assert "data-privacy-desk" in officer.page  # the embedding snippet


def test_saving_the_settings(api, team, officer):
    api.add_member(team, "olga", "olga@team.example")
    officer.get(f"/console/teams/{team.id}/settings")
    fields = [("consent_capture_enabled", "on"), ("consent_text", "I agree"), ("policy_links_enabled", "on"),
              ("privacy_policy_url", "https://team.example/privacy"), ("portal_privacy_banner_enabled", "on"),
              ("privacy_officer_id", "olga"), ("locale", "fr"), ("locales", "fr"), ("locales", "en")]
    answer = officer.post(f"/console/teams/{team.id}/settings", fields)
    assert answer.status_code == 303
    saved = api.settings(team)
    assert saved["consent_capture_enabled"] is True and saved["consent_text"] == "I agree"
    assert saved["privacy_officer_id"] == "olga" and saved["locale"] == "fr" and sorted(saved["locales"]) == ["en", "fr"]
    assert saved["consent_version"] == 1


def test_a_bad_setting_is_shown_next_to_its_field_and_nothing_is_saved(api, team, officer):
    officer.get(f"/console/teams/{team.id}/settings")
    before = api.settings(team)
    answer = officer.post(f"/console/teams/{team.id}/settings", {"privacy_policy_url": "http://insecure.example",
                                                                 "consent_text": "new", "locale": "en"})
    assert answer.status_code == 400
    assert 'id="error-privacy_policy_url"' in officer.page and 'aria-invalid="true"' in officer.page
    assert api.settings(team) == before


def test_the_settings_page_speaks_the_teams_language(api, team, officer):
    api.patch(f"/teams/{team.id}/privacy/settings", {"locale": "fr", "locales": ["fr", "en"]}, token=team.token)
    officer.get(f"/console/teams/{team.id}/settings", headers={"Accept-Language": "de"})
    assert '<html lang="fr">' in officer.page
    officer.get(f"/console/teams/{team.id}/settings", headers={"Accept-Language": "en-GB"})
    assert '<html lang="en">' in officer.page


# --- members and systems --------------------------------------------------------------------------------------

def test_an_admin_adds_and_removes_a_member(api, team, officer):
    officer.get(f"/console/teams/{team.id}/members")
    answer = officer.post(f"/console/teams/{team.id}/members", {"action": "add", "name": "Eve", "email": "eve@team.example",
                                                                "role": "member"})
    assert answer.status_code == 303
    officer.follow(answer)
    member_id = re.search(r'data-member-id="(m_[0-9A-Z]+)">\s*<td[^>]*>Eve', officer.page).group(1)
    officer.post(f"/console/teams/{team.id}/members", {"action": "remove", "member_id": member_id})
    assert api.get(f"/teams/{team.id}/members/{member_id}", token=team.token).status_code in (404, 405)


def test_the_last_admin_cant_be_removed(api, team, officer):
    officer.get(f"/console/teams/{team.id}/members")
    answer = officer.post(f"/console/teams/{team.id}/members", {"action": "remove", "member_id": team.admin_id})
    assert answer.status_code == 409 and "Not saved" in officer.text()


def test_a_member_cant_change_members(api, team):
    api.add_member(team, "dave", "dave@team.example")
    dave = Console(api)
    dave.sign_in("dave@team.example")
    dave.get(f"/console/teams/{team.id}/members")
    assert 'data-action="add-member"' not in dave.page
    answer = dave.post(f"/console/teams/{team.id}/members", {"action": "update", "member_id": "dave", "role": "admin"})
    assert answer.status_code == 403


def test_a_webhooks_secret_is_shown_once(api, team, officer, monkeypatch):
    resolve_hooks_publicly(monkeypatch)
    officer.get(f"/console/teams/{team.id}/systems")
    answer = officer.post(f"/console/teams/{team.id}/systems", [
        ("action", "add"), ("system_id", "crm"), ("name", "CRM"), ("kind", "webhook"),
        ("url", "https://hooks.example.com/privacy"), ("request_types", "erasure")])
    assert answer.status_code == 200, officer.text()
    secret = re.search(r'id="secret-value" value="(whsec_[^"]+)"', officer.page).group(1)
    officer.get(f"/console/teams/{team.id}/systems")
    assert secret not in officer.page and "crm" in officer.page
    officer.post(f"/console/teams/{team.id}/systems", {"action": "rotate", "system_id": "crm"})
    rotated = re.search(r'id="secret-value" value="(whsec_[^"]+)"', officer.page).group(1)
    assert rotated != secret
    officer.post(f"/console/teams/{team.id}/systems", {"action": "delete", "system_id": "crm"})
    assert api.get(f"/teams/{team.id}/privacy/systems/crm", token=team.token).status_code == 404


# --- the CSV log ----------------------------------------------------------------------------------------------

def test_the_request_log_is_a_csv_of_every_request(api, team, officer):
    first = api.verified_request(team, "a@x.example")
    second = api.verified_request(team, "b@x.example", "access")
    answer = officer.get(f"/console/teams/{team.id}/log.csv")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in answer.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(answer.body.decode())))
    assert {row["request_id"] for row in table} == {first, second}


def test_the_request_log_is_formula_safe(api, team, officer):
    from chalicelib.console.team import formula_safe

    assert formula_safe("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert formula_safe("+1") == "'+1" and formula_safe("@SUM") == "'@SUM" and formula_safe("-2") == "'-2"
    assert formula_safe(2) == "2" and formula_safe("plain") == "plain"


def test_origin_is_the_stages_public_base_url():
    from chalicelib.console import visit

    assert visit.own_origin() == ORIGIN


def test_a_search_for_something_that_isnt_an_address_says_so_above_the_open_requests(api, team, officer):
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests")
    answer = officer.post(f"/console/teams/{team.id}/requests/search", {"email": "not an address"})
    assert answer.status_code == 400 and "Enter a valid email address." in officer.text()
    assert rows(officer) == [request_id]


def test_the_done_notice_only_names_a_request_id(api, team, officer):
    officer.get(f"/console/teams/{team.id}/requests?done=Your+account+is+suspended,+call+0800")
    assert "suspended" not in officer.text()
