"""The pages behind email links, as a person sees them: in their language, naming the team, with words for
every code, and saying what happened rather than a generic error."""
import datetime as dt
import html
import re

import pytest

from chalicelib import privacy_requests, templating
from chalicelib.models import PrivacyRequest
from tests.support import alter_one_char, shift_time

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
HTML = {"Accept": "text/html"}
LOCALES = ("en", "fr")
NOTE_REQUIRED = {"en": "Write a note for the client first", "fr": "Écrivez d'abord une note au client"}
ALREADY_CANCELLED = {"en": "This request is already cancelled", "fr": "Cette demande est déjà annulée"}
NOT_CANCELLABLE = {"en": "This request can no longer be cancelled", "fr": "Cette demande ne peut plus être annulée"}
LINK_USED = {"en": "already used", "fr": "déjà été utilisé"}
EXPIRED = {"en": "This link has expired", "fr": "Ce lien a expiré"}
INVALID = {"en": "This link is not valid", "fr": "Ce lien n'est pas valide"}
NOT_FOUND = {"en": "This request no longer exists", "fr": "Cette demande n'existe plus"}
CANCELLED = {"en": "This request was cancelled", "fr": "Cette demande a été annulée"}
NOTE_INVALID = {"en": "The note can't be sent as it is", "fr": "La note ne peut pas être envoyée telle quelle"}


def use_locale(api, team, locale):
    answer = api.patch(f"/teams/{team.id}/privacy/settings", {"locale": locale}, token=team.token)
    assert answer.status_code == 200, answer.body


def action_link(api, team, email, type_="erasure", **extra):
    api.verified_request(team, email, type_, **extra)
    return api.last_link_to(team.admin_email, "/actions/")


def visible(answer) -> str:
    """The page's text as a reader sees it (tags removed)."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", answer.body.decode())))


def codes_in(text: str) -> list[str]:
    """Raw codes a reader should never see: words joined by underscores (exports_deleted, in_progress)."""
    return re.findall(r"\b[a-z]+(?:_[a-z]+)+\b", text)


# --- the "done" page names every result in words -------------------------------------------------------------

@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("type_", ["erasure", "access", "portability", "rectification", "restriction", "objection"])
def test_the_done_page_puts_every_result_in_words(api, team, type_, locale):
    use_locale(api, team, locale)
    api.new_dossier(team, "alice@client.example")
    link = action_link(api, team, "alice@client.example", type_)
    answer = api.post(link, raw=b"note=Fixed." if type_ == "rectification" else b"", headers=FORM)
    assert answer.status_code == 202, answer.body  # being carried out: no result yet
    assert codes_in(visible(answer)) == [], codes_in(visible(answer))
    api.work()
    request_id = api.get(f"/teams/{team.id}/privacy/requests", token=team.token).json_body["items"][0]["request_id"]
    done = templating.render("pages/action_done.html", locale, request=api.request_view(team, request_id),
                             team_name="Team")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", done))
    assert "Done" in text or "Terminé" in text
    assert codes_in(text) == [], codes_in(text)
    if locale == "fr":
        assert "bytes" not in text


# --- every action page names the team -------------------------------------------------------------------------

@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("type_", ["access", "erasure", "rectification"])
def test_the_action_page_names_the_team(api, type_, locale):
    team = api.new_team("Zephyr Loans")
    use_locale(api, team, locale)
    shown = api.get(action_link(api, team, "alice@client.example", type_))
    assert shown.status_code == 200
    assert "Zephyr Loans" in visible(shown)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_done_page_names_the_team(api, locale):
    team = api.new_team("Zephyr Loans")
    use_locale(api, team, locale)
    done = api.post(action_link(api, team, "alice@client.example", "access"), raw=b"", headers=FORM)
    assert done.status_code == 202 and "Zephyr Loans" in visible(done)


# --- a rectification's note from the action page --------------------------------------------------------------

def request_status(api, team, email="alice@client.example"):
    items = api.get(f"/teams/{team.id}/privacy/requests", token=team.token).json_body["items"]
    return [r["status"] for r in items if r["email"] == email]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("form", [b"", b"note=", b"note=+++%0A"])
def test_a_rectification_posted_without_a_note_shows_the_form_again_with_an_error(api, team, form, locale):
    use_locale(api, team, locale)
    link = action_link(api, team, "alice@client.example", "rectification")
    answer = api.post(link, raw=form, headers=FORM)
    assert answer.status_code == 400
    assert 'role="alert"' in answer.body.decode() and NOTE_REQUIRED[locale] in visible(answer)
    assert '<textarea id="note"' in answer.body.decode()
    assert request_status(api, team) == ["pending"]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("note", ["Fixed \u202egnp.exe", "Fixed\u0000", "x" * 2001])
def test_a_note_the_api_would_refuse_is_refused_from_the_action_page_too(api, team, note, locale):
    from urllib.parse import urlencode

    use_locale(api, team, locale)
    link = action_link(api, team, "alice@client.example", "rectification")
    answer = api.post(link, raw=urlencode({"note": note}).encode(), headers=FORM)
    assert answer.status_code == 400
    assert NOTE_INVALID[locale] in visible(answer) and '<textarea id="note"' in answer.body.decode()
    assert request_status(api, team) == ["pending"]


def test_a_note_written_in_a_browser_textarea_is_accepted_with_its_line_breaks(api, team):
    link = action_link(api, team, "alice@client.example", "rectification")
    answer = api.post(link, raw=b"note=Phone+fixed.%0D%0AAddress+fixed.", headers=FORM)
    assert answer.status_code == 202, answer.body
    api.work()
    assert request_status(api, team) == ["completed"]


# --- cancelling: say what the request's status is, not that a link was used -----------------------------------

def status_link(api, email="alice@client.example"):
    return api.last_link_to(email, "/portal/privacy/requests/")  # from the client's receipt


def cancel(api, link):
    path, _, query = link.partition("?")
    return api.post(f"{path}/cancel?{query}", raw=b"", headers=FORM)


@pytest.mark.parametrize("locale", LOCALES)
def test_cancelling_twice_says_the_request_is_already_cancelled(api, team, locale):
    api.verified_request(team, "alice@client.example", "access", locale=locale)
    link = status_link(api)
    assert cancel(api, link).status_code == 200
    again = cancel(api, link)
    assert again.status_code == 409
    assert ALREADY_CANCELLED[locale] in visible(again)
    assert LINK_USED[locale] not in visible(again)


@pytest.mark.parametrize("locale", LOCALES)
def test_after_cancelling_twice_the_status_page_is_still_reachable(api, team, locale):
    api.verified_request(team, "alice@client.example", "access", locale=locale)
    link = status_link(api)
    cancel(api, link)
    again = cancel(api, link).body.decode()
    href = re.search(r'<a href="https?://[^/"]+(/portal/privacy/requests/[^"]+)"', again).group(1)
    page = api.get(href.replace("&amp;", "&"), headers=HTML)
    assert page.status_code == 200 and "<form" not in page.body.decode()


@pytest.mark.parametrize("locale", LOCALES)
def test_cancelling_a_handled_request_says_it_can_no_longer_be_cancelled(api, team, locale):
    use_locale(api, team, locale)
    api.new_dossier(team, "alice@client.example")
    request_id = api.verified_request(team, "alice@client.example", "access")
    assert api.execute(team, request_id).status_code == 202
    again = cancel(api, status_link(api))
    assert again.status_code == 409
    assert NOT_CANCELLABLE[locale] in visible(again) and LINK_USED[locale] not in visible(again)


# --- error pages speak the client's language, else the team's -------------------------------------------------

@pytest.mark.parametrize("locale", LOCALES)
def test_an_expired_verification_link_answers_in_the_language_the_client_chose(api, team, locale, monkeypatch):
    api.submit(team, "alice@client.example", locale=locale)  # the team's language stays English
    api.pump()
    link = api.last_link_to("alice@client.example", "/portal/privacy/verify/")
    shift_time(monkeypatch, dt.timedelta(hours=25))
    answer = api.get(link)
    assert answer.status_code == 401
    assert EXPIRED[locale] in visible(answer) and f'<html lang="{locale}">' in answer.body.decode()


@pytest.mark.parametrize("locale", LOCALES)
def test_an_expired_action_link_answers_in_the_teams_language(api, team, locale, monkeypatch):
    use_locale(api, team, locale)
    link = action_link(api, team, "alice@client.example")
    shift_time(monkeypatch, dt.timedelta(days=8))
    for answer in (api.get(link), api.post(link, raw=b"", headers=FORM)):
        assert answer.status_code == 401 and EXPIRED[locale] in visible(answer)


@pytest.mark.parametrize("locale", LOCALES)
def test_a_used_action_link_answers_in_the_teams_language(api, team, locale):
    use_locale(api, team, locale)
    api.new_dossier(team, "alice@client.example")
    link = action_link(api, team, "alice@client.example")
    assert api.post(link, raw=b"", headers=FORM).status_code == 202
    api.work()
    again = api.get(link)
    assert again.status_code == 409 and LINK_USED[locale] in visible(again)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_status_link_of_a_vanished_request_answers_in_the_clients_language(api, team, locale, monkeypatch):
    request_id = api.submit(team, "alice@client.example", locale=locale).json_body["request_id"]
    token = privacy_requests.status_token(PrivacyRequest.get(team.id, request_id))
    shift_time(monkeypatch, dt.timedelta(days=8))  # never verified: the request expired
    answer = api.get(f"/portal/privacy/requests/{request_id}?token={token}", headers=HTML)
    assert answer.status_code == 404 and NOT_FOUND[locale] in visible(answer)


@pytest.mark.parametrize("locale", LOCALES)
def test_an_expired_export_link_answers_in_the_clients_language(api, team, locale, monkeypatch):
    api.new_dossier(team, "alice@client.example")
    request_id = api.verified_request(team, "alice@client.example", "access", locale=locale)
    assert api.execute(team, request_id).status_code == 202
    api.pump()
    link = api.last_link_to("alice@client.example", "/portal/privacy/exports/")
    shift_time(monkeypatch, dt.timedelta(days=31))
    answer = api.get(link)
    assert answer.status_code == 410 and f'<html lang="{locale}">' in answer.body.decode()


def test_an_altered_link_answers_in_the_default_language_since_its_claims_cant_be_trusted(api, team):
    use_locale(api, team, "fr")
    link = action_link(api, team, "alice@client.example")
    answer = api.get(alter_one_char(link))
    assert answer.status_code == 401 and INVALID["en"] in visible(answer)


def test_a_link_of_another_purpose_answers_in_the_default_language(api, team):
    use_locale(api, team, "fr")
    api.verified_request(team, "alice@client.example")
    verify_token = api.last_link_to("alice@client.example", "/portal/privacy/verify/").rsplit("/", 1)[1]
    answer = api.get(f"/actions/{verify_token}")
    assert answer.status_code == 401 and INVALID["en"] in visible(answer)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_officers_link_of_a_request_the_client_cancelled_says_it_was_cancelled(api, team, locale):
    use_locale(api, team, locale)
    link = action_link(api, team, "alice@client.example")
    cancel(api, status_link(api))
    for answer in (api.get(link), api.post(link, raw=b"", headers=FORM)):
        assert answer.status_code == 409
        assert CANCELLED[locale] in visible(answer)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_verification_link_of_a_cancelled_request_says_it_was_cancelled(api, team, locale):
    api.submit(team, "alice@client.example", locale=locale)
    api.pump()
    verify = api.last_link_to("alice@client.example", "/portal/privacy/verify/")
    request_id = api.get(f"/teams/{team.id}/privacy/requests", token=team.token).json_body["items"][0]["request_id"]
    token = privacy_requests.status_token(PrivacyRequest.get(team.id, request_id))
    assert api.post(f"/portal/privacy/requests/{request_id}/cancel?token={token}", raw=b"",
                    headers=FORM).status_code == 200
    answer = api.get(verify)
    assert answer.status_code == 409
    assert CANCELLED[locale] in visible(answer)
