"""Every email and page renders in every language, with the variables the code passes, and nothing leaks:
no `None`, no raw code (`consent_withdrawal`), no unescaped user input in HTML. No AWS involved."""
import html
import os
import re

import pytest

from chalicelib import regimes, templating

LOCALES = templating.LOCALES  # every catalog shipped, so a new language is held to all of this at once
OTHERS = LOCALES[1:]  # every language but English, the language of the templates' source
WORDED = ("en", "fr")  # the languages whose wording a test below spells out
TYPES = ("erasure", "access", "portability", "rectification", "restriction", "objection", "consent_withdrawal", "opt_out_sale")
STATUSES = ("awaiting_verification", "pending", "in_progress", "completed", "failed", "denied", "cancelled", "expired")
EVIL = "<script>x</script>"  # in every free text a user or a team controls
URLS = {
    "verify_url": "https://desk.example/portal/privacy/verify/tok-verify",
    "status_url": "https://desk.example/portal/privacy/requests/tok-status",
    "action_url": "https://desk.example/actions/tok-action",
    "export_url": "https://desk.example/portal/privacy/exports/tok-export",
}

# The variables each email expects beyond locale, team_name and request: the contract with notifications.py.
EXTRAS = {
    "verify": {"verify_url": URLS["verify_url"], "hours": 48},
    "verify_withdrawal": {"verify_url": URLS["verify_url"], "hours": 48},
    "client_receipt": {"status_url": URLS["status_url"]},
    "officer_new": {"officer_name": f"Dee {EVIL}", "action_url": URLS["action_url"], "matching_dossiers": 3},
    "officer_reminder": {"officer_name": f"Dee {EVIL}", "action_url": URLS["action_url"], "days_left": 3},
    "officer_overdue": {"officer_name": f"Dee {EVIL}", "action_url": URLS["action_url"], "days_overdue": 2},
    "officer_cancelled": {"officer_name": f"Dee {EVIL}"},
    "officer_consent_withdrawn": {"officer_name": f"Dee {EVIL}", "dossiers_affected": 4},
    "client_completed_erasure": {},
    "client_completed_access": {"export_url": URLS["export_url"], "export_days": 7},
    "client_completed_portability": {"export_url": URLS["export_url"], "export_days": 7},
    "client_completed_rectification": {},
    "client_completed_restriction": {},
    "client_restriction_lifted": {},
    "client_completed_objection": {},
    "client_completed_consent_withdrawal": {},
    "client_extended": {},
    "client_denied": {"supervisory_authority": f"CNIL {EVIL}", "appeal_url": None},
    "client_completed_opt_out_sale": {},
    "client_clarification": {"status_url": URLS["status_url"]},
    "client_cancelled": {},
    "recipient_task": {"task": {"system_id": "crm", "name": f"CRM {EVIL}", "status": "pending", "reminders_sent": 1},
                       "task_url": "https://desk.example/privacy/tasks/tok-task"},
    "officer_recipient_problem": {"officer_name": f"Dee {EVIL}", "task": {
        "system_id": "crm", "name": f"CRM {EVIL}", "status": "pending", "attempts": 8, "answered_by": None,
        "gave_up_at": "2026-01-22T10:00:00Z", "last_error": f"answered 500: {EVIL}", "note": None}},
    "console_sign_in": {"sign_in_url": "https://desk.example/console/sign-in/tok-signin", "minutes": 15},
}
# Emails that show nothing anyone typed (the console's sign-in link names no team and no request).
WITHOUT_TYPED_TEXT = {"console_sign_in"}
# Art. 19 lists, where a request has connected systems (the emails render without them too).
SYSTEMS = [f"CRM {EVIL}", "Archive"]
EXTRAS["officer_new"]["systems_to_tell"] = SYSTEMS
EXTRAS["officer_reminder"]["open_recipients"] = [{"name": name} for name in SYSTEMS]
for _name in ("client_completed_erasure", "client_completed_rectification", "client_completed_restriction",
              "client_completed_opt_out_sale"):
    EXTRAS[_name]["informed"] = SYSTEMS
TYPE_OF = {"verify_withdrawal": "consent_withdrawal", "officer_consent_withdrawn": "consent_withdrawal",
           "client_restriction_lifted": "restriction", "officer_cancelled": "access"}
PAGES = {
    "verified": {},
    "action": {"matching_dossiers": 2, "executable": True, "needs_note": True},
    "action_done": {},
    "error": {"reason": "expired"},
    "request_status": {"cancel_allowed": True, "cancel_url": "https://desk.example/portal/privacy/cancel/tok",
                       "law": "GDPR"},
    "recipient_task": {"task": {"system_id": "crm", "name": f"CRM {EVIL}", "status": "pending"}, "answered": False,
                       "error": "reason"},
    "recipient_task_done": {"task": {"system_id": "crm", "name": f"CRM {EVIL}", "status": "not_found"}},
    "privacy": {"brand": {"team_name": f"Acme {EVIL}", "logo_url": "https://cdn.example/logo.png",
                          "accent_color": "#1a5fb4"},
                "embed_origins": ["https://portal.example"], "banner": True, "policy_url": "https://a.example/p",
                "terms_url": "https://a.example/t", "form_url": "https://desk.example/portal/t/privacy/form",
                "types": TYPES, "detail_types": ("rectification", "restriction", "objection"), "error": "email",
                "regime_choices": {t: ["gdpr", "ccpa"] for t in TYPES}, "default_regime": "gdpr",
                "values": {"type": "rectification", "email": f"{EVIL}@e.com", "message": EVIL}},
    "cancel_confirm": {"brand": {"team_name": f"Acme {EVIL}", "logo_url": None, "accent_color": None},
                       "cancel_url": "https://desk.example/portal/privacy/requests/r/cancel?token=tok",
                       "status_url": "https://desk.example/portal/privacy/requests/r?token=tok"},
    "export": {"brand": {"team_name": f"Acme {EVIL}", "logo_url": None, "accent_color": None},
               "file_name": "privacy-export-r_1.zip", "size": 123456, "expires_at": "2026-02-01T10:00:00Z",
               "download_url": "https://desk.example/portal/privacy/exports/tok?download=1"},
    "privacy_receipt": {"brand": {"team_name": f"Acme {EVIL}", "logo_url": None, "accent_color": None},
                        "embed_origins": [], "hours": 48, "back_url": "https://desk.example/portal/t/privacy"},
}
# Every key a request's result may hold (execution.py's runners, exports.build).
RESULT_KEYS = ("dossiers_deleted", "documents_deleted", "exports_deleted", "dossiers", "documents", "bytes",
               "dossiers_restricted", "dossiers_updated")
EMAILS = [name for name in templating.email_names() if not name.startswith("_")]  # `_layout` is not an email
PAGE_NAMES = [name for name in templating.page_names() if not name.startswith("_")]


def sample_request(request_type: str = "erasure", status: str = "completed", **changes) -> dict:
    request = {
        "request_id": "req-0123", "team_id": "team-1", "type": request_type, "status": status,
        "email": f"{EVIL}@e.com", "message": f"Please {EVIL} hurry", "locale": "en",
        "received_at": "2026-01-01T10:00:00Z", "due_at": "2026-03-01T10:00:00Z",
        "original_due_at": "2026-02-01T10:00:00Z", "extension_months": 1, "extension_reason": f"Many files {EVIL}",
        "verified_at": "2026-01-01T10:05:00Z", "started_at": "2026-01-20T09:00:00Z",
        "completed_at": "2026-01-20T09:01:00Z", "executed_by": "dpo",
        "result": {key: 2 for key in RESULT_KEYS},
        "progress": {}, "failure_reason": "boom", "note": f"Address fixed {EVIL}",
        "denial_reason": f"Manifestly unfounded {EVIL}", "overdue": False, "regime": "gdpr", "extension_days": 0,
        "gpc": False, "paused_at": None, "clarification_question": f"Which account? {EVIL}", "appealed_at": None,
    }
    request.update(changes)
    return request


def email_values(name: str, **request_changes) -> dict:
    request_type = TYPE_OF.get(name) or (
        name.removeprefix("client_completed_") if name.startswith("client_completed_") else "erasure")
    return {"team_name": f"Acme {EVIL}", "request": sample_request(request_type, **request_changes),
            **regimes.citations("gdpr"), **EXTRAS[name]}


def page_values(name: str, **request_changes) -> dict:
    return {"team_name": f"Acme {EVIL}", "request": sample_request(**request_changes), **PAGES[name]}


def glued(text: str) -> list[str]:
    """Words run together where a template tag ate a line break: "files(reference", "CNIL)et"."""
    return re.findall(r"\S*\)[\w(]\S*", re.sub(r"<[^>]+>", " ", text))


def labels(locale: str):
    return templating._env(locale).get_template("_labels.txt").module


def test_every_email_has_its_variables_declared_here():
    assert set(EMAILS) == set(EXTRAS)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", EMAILS)
def test_email_renders_without_leaks(name, locale):
    message = templating.render_email(name, locale, **email_values(name))
    for part in ("subject", "text", "html"):
        assert message[part].strip(), part
        assert "None" not in message[part], part
        assert not re.search(r"\b(consent_withdrawal|awaiting_verification|in_progress)\b", message[part]), part
    assert "\n" not in message["subject"]
    for part in ("subject", "text", "html"):
        assert not glued(message[part]), (part, glued(message[part]))
    assert "<script" not in message["html"]
    if name not in WITHOUT_TYPED_TEXT:
        assert "&lt;script&gt;" in message["html"]
    assert message["html"].lstrip().startswith("<!doctype html>")
    assert f'<html lang="{locale}">' in message["html"]
    if name.startswith("officer_"):
        assert f"{EVIL}@e.com" in message["text"]
        assert "&lt;script&gt;x&lt;/script&gt;@e.com" in message["html"]
    for key, url in URLS.items():
        if key in EXTRAS[name]:
            # a link in the text part ends at whitespace, so mail clients (and tests) find it whole
            assert re.search(re.escape(url) + r"(\s|$)", message["text"]), key
            assert f'href="{url}"' in message["html"], key


@pytest.mark.parametrize("locale", OTHERS)
@pytest.mark.parametrize("name", EMAILS)
def test_email_differs_between_languages(name, locale):
    en = templating.render_email(name, "en", **email_values(name))
    other = templating.render_email(name, locale, **email_values(name))
    for part in ("subject", "text", "html"):
        assert en[part] != other[part], part


GENERIC_EMAILS = ("verify", "client_receipt", "officer_new", "officer_reminder", "officer_overdue", "officer_cancelled",
                  "client_extended", "client_denied", "client_cancelled")


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("request_type", TYPES)
def test_generic_emails_read_well_for_every_type(request_type, locale):
    for name in GENERIC_EMAILS:
        values = {**email_values(name), "request": sample_request(request_type)}
        message = templating.render_email(name, locale, **values)
        for part in message.values():
            assert "_" not in request_type or request_type not in part, (name, part)
            assert not re.search(r"\ba (erasure|access|objection)\b", part), (name, part)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_type_and_status_has_a_label(locale):
    module = labels(locale)
    for request_type in TYPES:
        for macro in (module.type_label, module.request_label, module.a_request):
            assert str(macro(request_type)) not in ("", request_type), (macro, request_type)
    for status in STATUSES:
        assert str(module.status_label(status)) not in ("", status), status
    assert str(module.status_label("<b>")) == "&lt;b&gt;"  # an unknown code is still escaped


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("key", [k for k in RESULT_KEYS if k != "bytes"])
def test_every_result_key_has_a_label(key, locale):
    """An unknown key reads "2 dossiers_updated"; a known one its label, whose English plural may be the key."""
    one, two = (str(labels(locale).result_summary({key: n})) for n in (1, 2))
    assert one not in ("", f"1 {key}")
    assert two.startswith("2 ") and "_" not in two


@pytest.mark.parametrize("locale, expected", [
    ("en", "1 client file and 2 documents."), ("de", "1 Akte und 2 Dokumente."),
])
def test_a_completed_access_email_writes_each_count_in_its_plural_form(locale, expected):
    """Issue 17: no "file(s)", "Akte(n)": one client file is singular, two documents are plural, in every part."""
    values = email_values("client_completed_access", result={"dossiers": 1, "documents": 2, "bytes": 900})
    message = templating.render_email("client_completed_access", locale, **values)
    for part in ("text", "html"):
        assert expected in " ".join(message[part].split()), part
        assert "(s)" not in message[part] and "(n)" not in message[part] and "(e)" not in message[part], part


@pytest.mark.parametrize("locale, expected", [
    ("en", "1 dossier deleted, 2 documents deleted"), ("fr", "1 dossier supprimé, 2 documents supprimés"),
])
def test_a_result_summary_writes_each_count_in_its_plural_form(locale, expected):
    assert str(labels(locale).result_summary({"dossiers_deleted": 1, "documents_deleted": 2})) == expected


@pytest.mark.parametrize("locale, size, expected", [
    ("en", 900, "export of 900 bytes"), ("en", 1399, "export of 1.4 kB"), ("en", 5_400_000, "export of 5.1 MB"),
    ("fr", 900, "export de 900\xa0octets"), ("fr", 1399, "export de 1,4\u202fko"),
    ("fr", 5_400_000, "export de 5,1\u202fMo"),
])
def test_the_size_of_an_export_reads_in_units(locale, size, expected):
    assert str(labels(locale).result_summary({"bytes": size})) == expected


# Languages with no catalog yet: sizes and dates come from Babel's CLDR data, not from the catalogs.
@pytest.mark.parametrize("locale, size, expected", [
    ("en", 1, "1 byte"), ("fr", 714, "714\xa0octets"), ("de", 714, "714 Byte"), ("es", 714, "714 bytes"),
    ("it", 714, "714 byte"), ("nl", 714, "714 byte"), ("de", 1_258_291, "1,2 MB"), ("fr", 1_258_291, "1,2\u202fMo"),
])
def test_a_size_is_in_the_words_and_digits_of_the_language(locale, size, expected):
    assert templating._size(size, locale) == expected


@pytest.mark.parametrize("locale, expected", [("en", "1 January 2026"), ("fr", "1er janvier 2026")])
def test_dates_read_naturally(locale, expected):
    assert str(labels(locale).date("2026-01-01T10:00:00Z")) == expected
    assert str(labels(locale).date(None)) == ""


@pytest.mark.parametrize("locale, expected", [
    ("en", "1 December 2026"), ("fr", "1er décembre 2026"), ("de", "1. Dezember 2026"),
    ("es", "1 de diciembre de 2026"), ("it", "1 dicembre 2026"), ("nl", "1 december 2026"),
])
def test_a_date_is_in_the_long_form_of_the_language(locale, expected):
    assert templating._date("2026-12-01T23:59:00Z", locale) == expected


def test_the_english_article_fits_the_type():
    verify = templating.render_email("verify", "en", **email_values("verify"))
    assert "an erasure request" in verify["text"]
    assert "a erasure" not in verify["text"]


def _template_files() -> set[str]:
    root = os.path.join(os.path.dirname(templating.__file__), "templates")
    return {os.path.relpath(os.path.join(folder, f), root) for folder, _, files in os.walk(root) for f in files}


def test_a_template_exists_once_for_every_language():
    """Languages differ in the catalogs only: no folder of per-language copies."""
    assert {name.split(os.sep)[0] for name in _template_files() if os.sep in name} == {"email", "pages", "export", "console"}


def test_every_email_has_three_parts():
    files = _template_files()
    for name in EMAILS:
        assert {f"email/{name}.subject.txt", f"email/{name}.txt", f"email/{name}.html"} <= files, name


def test_every_page_is_tested_here():
    assert set(PAGE_NAMES) == set(PAGES)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", PAGE_NAMES)
def test_page_renders_without_leaks(name, locale):
    html = templating.render(f"pages/{name}.html", locale, **page_values(name))
    assert html.lstrip().startswith("<!doctype html>")
    assert f'<html lang="{locale}"' in html
    assert "None" not in html
    assert not re.search(r"<script(?![^>]*\ssrc=)|<style|\sstyle=", html)  # CSP: only our own files
    assert EVIL not in html
    assert not glued(html), glued(html)


@pytest.mark.parametrize("locale", OTHERS)
@pytest.mark.parametrize("name", PAGE_NAMES)
def test_page_differs_between_languages(name, locale):
    values = page_values(name)
    assert templating.render(f"pages/{name}.html", "en", **values) != templating.render(
        f"pages/{name}.html", locale, **values)


ERROR_REASONS = ("missing", "invalid", "expired", "used", "revoked", "not_found", "failed", "export_expired",
                 "cancelled", "denied", "in_progress")


@pytest.mark.parametrize("locale", LOCALES)
def test_error_page_has_its_own_words_for_each_reason(locale):
    def heading(reason):
        html = templating.render("pages/error.html", locale, reason=reason)
        return re.search(r"<h1>(.*)</h1>", html).group(1)

    headings = [heading(reason) for reason in ERROR_REASONS]
    assert len(set(headings)) == len(ERROR_REASONS)
    assert heading("something_else") == heading("invalid")
    assert heading(None) == heading("invalid")


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("needs_note", [True, False])
def test_action_page_asks_for_a_note_only_when_needed(needs_note, locale):
    html = templating.render("pages/action.html", locale, **{**page_values("action"), "needs_note": needs_note,
                                                             "request": sample_request("rectification", "pending")})
    assert ('<textarea id="note" name="note" rows="5" maxlength="2000" required>' in html) is needs_note
    assert '<form method="post">' in html


@pytest.mark.parametrize("locale", LOCALES)
def test_action_page_without_execution_has_no_form(locale):
    html = templating.render("pages/action.html", locale, **{**page_values("action"), "executable": False})
    assert "<form" not in html


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("executable", [True, False])
@pytest.mark.parametrize("request_type", TYPES)
def test_action_page_names_the_team_for_every_type(request_type, executable, locale):
    values = {**page_values("action", type=request_type), "executable": executable, "team_name": "Zephyr Loans"}
    assert "Zephyr Loans" in templating.render("pages/action.html", locale, **values)


@pytest.mark.parametrize("locale", LOCALES)
def test_action_done_page_names_the_team(locale):
    values = {**page_values("action_done"), "team_name": "Zephyr Loans"}
    assert "Zephyr Loans" in templating.render("pages/action_done.html", locale, **values)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("cancel_allowed", [True, False])
def test_status_page_offers_cancel_only_when_allowed(cancel_allowed, locale):
    values = {**page_values("request_status", status="pending"), "cancel_allowed": cancel_allowed}
    html = templating.render("pages/request_status.html", locale, **values)
    assert (f'<a class="button" href="{values["cancel_url"]}">' in html) is cancel_allowed


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("status", STATUSES)
def test_status_page_labels_every_status(status, locale):
    html = templating.render("pages/request_status.html", locale, **page_values("request_status", status=status))
    assert str(labels(locale).status_label(status)) in html


@pytest.mark.parametrize("locale", WORDED)
def test_verified_page_reads_well_for_a_withdrawal_of_consent(locale):
    html = templating.render("pages/verified.html", locale,
                             **page_values("verified", type="consent_withdrawal", status="pending"))
    assert "consent_withdrawal" not in html
    assert ("consent" if locale == "en" else "consentement") in html


def test_french_elides_de_before_a_vowel():
    assert [templating._elide(f"auprès de {name}", "fr") for name in ("Acme", "Éole", "Martin", "&lt;b&gt;")] == [
        "auprès d'Acme", "auprès d'Éole", "auprès de Martin", "auprès de &lt;b&gt;"]
    assert templating._elide("to de Acme", "en") == "to de Acme"  # a French rule only
    subject = templating.render_email("verify", "fr", **{**email_values("verify"), "team_name": "Acme"})["subject"]
    assert subject.endswith("auprès d'Acme")


@pytest.mark.parametrize("locale", WORDED)
@pytest.mark.parametrize("status", ["pending", "completed"])
def test_verified_page_for_a_withdrawal_says_whether_it_is_recorded(status, locale):
    html = templating.render("pages/verified.html", locale, **page_values(
        "verified", type="consent_withdrawal", status=status, result={"dossiers_updated": 3}))
    assert ("3 client files" in html or "3 dossiers clients" in html) is (status == "completed")


@pytest.mark.parametrize("locale", LOCALES)
def test_one_client_file_is_singular_and_no_page_writes_a_plural_in_brackets(locale):
    html = templating.render("pages/verified.html", locale, **page_values(
        "verified", type="consent_withdrawal", result={"dossiers_updated": 1}))
    assert "1 client file " in html or locale != "en"
    assert not re.search(r"\w\((s|n|en|i|e)\)", html)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", PAGE_NAMES)
def test_every_page_has_one_main_landmark_and_a_title(name, locale):
    html = templating.render(f"pages/{name}.html", locale, **page_values(name))
    assert html.count("<main>") == 1
    assert re.search(r"<title>\s*\S[^<]*</title>", html)


@pytest.mark.parametrize("status", ["completed", "cancelled", "denied", "expired"])
def test_a_closed_request_s_page_shows_no_answer_due_date(status):
    html = templating.render("pages/request_status.html", "en", **page_values("request_status", status=status))
    assert "Answer due by" not in html


def test_an_open_request_s_page_shows_its_answer_due_date():
    html = templating.render("pages/request_status.html", "en", **page_values("request_status", status="pending"))
    assert "Answer due by" in html


def test_the_cancel_confirmation_s_button_is_marked_as_the_confirmation():
    html = templating.render("pages/cancel_confirm.html", "en", **page_values("cancel_confirm"))
    assert re.search(r'<button type="submit" data-action="confirm">', html)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", EMAILS)
def test_email_reads_well_without_optional_values(name, locale):
    values = email_values(name, message=None, note=None, extension_reason=None, denial_reason=None,
                          extension_months=0, original_due_at="2026-03-01T10:00:00Z")
    if name == "client_denied":
        values["supervisory_authority"] = None
    message = templating.render_email(name, locale, **values)
    for part in ("subject", "text", "html"):
        assert "None" not in message[part], part
        assert not glued(message[part]), part
    if name == "client_denied":
        generic = {"en": "your data protection supervisory authority", "fr": "en France, la CNIL"}.get(locale)
        assert generic is None or (generic in message["text"] and generic in message["html"])


# --- every language, every request type --------------------------------------------------------------------------

def _every_rendering(locale: str, request_type: str):
    """Every email and page as one request type shows it in one language: (name, text) pairs."""
    for name in EMAILS:
        values = email_values(name)
        if name in GENERIC_EMAILS:  # the others are about one type (a completion, a withdrawal)
            values["request"]["type"] = request_type
        for part, text in templating.render_email(name, locale, **values).items():
            yield f"{name}.{part}", text
    for name in PAGE_NAMES:
        yield name, templating.render(f"pages/{name}.html", locale, **page_values(name, type=request_type))


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("request_type", TYPES)
def test_every_email_and_page_renders_in_every_language_for_every_type(request_type, locale):
    for name, text in _every_rendering(locale, request_type):
        assert text.strip(), name
        assert "None" not in text, name
        assert not re.search(r"%\(\w+\)s", text), name  # a placeholder a translation misspelt


def _english_sentences() -> set[str]:
    """The English catalog's text between placeholders and tags, 20 characters or more: whole sentences or
    long runs of words, which no other language should show as they are."""
    from babel.messages.pofile import read_po

    with open(os.path.join(templating.CATALOGS, "en", "LC_MESSAGES", "messages.po"), "rb") as f:
        catalog = read_po(f, locale="en")
    found = set()
    for message in catalog:
        for form in (message.string if isinstance(message.string, (list, tuple)) else [message.string]):
            for piece in re.split(r"%\(\w+\)s|<[^>]+>|\n", form or ""):
                if len(piece.strip()) >= 20:
                    found.add(piece.strip())
    return found


@pytest.mark.parametrize("locale", OTHERS)
@pytest.mark.parametrize("request_type", TYPES)
def test_no_english_sentence_is_left_in_another_language(request_type, locale):
    english = _english_sentences()
    assert english
    for name, text in _every_rendering(locale, request_type):
        shown = html.unescape(text)
        assert [sentence for sentence in english if sentence in shown] == [], (name, locale)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_access_exports_information_renders_in_every_language(locale):
    info = {"purposes": f"Onboarding {EVIL}", "recipients": None, "retention_period": "5 years",
            "right_to_complain": None}
    text = templating.render("export/information.txt", locale, team_name="Acme", info=info, **regimes.citations("gdpr"))
    assert f"Onboarding {EVIL}" in text and "5 years" in text and "None" not in text
    assert "data.json" in text and "Acme" in text
