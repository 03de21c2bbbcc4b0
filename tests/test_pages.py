"""The pages behind email links, as a person sees them: in their language, naming the team, with words for
every code, and saying what happened rather than a generic error."""
import re

import pytest


FORM = {"Content-Type": "application/x-www-form-urlencoded"}
HTML = {"Accept": "text/html"}
LOCALES = ("en", "fr")
NOTE_REQUIRED = {"en": "Write a note for the client first", "fr": "Écrivez d'abord une note au client"}
ALREADY_CANCELLED = {"en": "This request is already cancelled", "fr": "Cette demande est déjà annulée"}
NOT_CANCELLABLE = {"en": "This request can no longer be cancelled", "fr": "Cette demande ne peut plus être annulée"}
LINK_USED = {"en": "already used", "fr": "déjà été utilisé"}
NOTE_INVALID = {"en": "The note can't be sent as it is", "fr": "La note ne peut pas être envoyée telle quelle"}


def use_locale(api, team, locale):
    answer = api.patch(f"/teams/{team.id}/privacy/settings", {"locale": locale}, token=team.token)
    assert answer.status_code == 200, answer.body


def action_link(api, team, email, type_="erasure", **extra):
    api.verified_request(team, email, type_, **extra)
    return api.last_link_to(team.admin_email, "/actions/")


def visible(answer) -> str:
    """The page's text as a reader sees it (tags removed)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", answer.body.decode()))


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
    done = api.post(link, raw=b"note=Fixed." if type_ == "rectification" else b"", headers=FORM)
    assert done.status_code == 200, done.body
    text = visible(done)
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
    assert done.status_code == 200 and "Zephyr Loans" in visible(done)


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
    assert answer.status_code == 200, answer.body
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
    assert api.execute(team, request_id).status_code == 200
    again = cancel(api, status_link(api))
    assert again.status_code == 409
    assert NOT_CANCELLABLE[locale] in visible(again) and LINK_USED[locale] not in visible(again)
