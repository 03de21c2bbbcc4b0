"""Text a person reads shows what it says: labels refuse control and invisible formatting characters, free
text refuses control characters (line breaks and tabs aside) and bidirectional overrides. Each refusal is a
400 naming the field, and writes nothing."""
import base64

import pytest

from chalicelib import text
from chalicelib.errors import BadRequest
from tests.support import error_shape

# Every one hides, reorders or disguises what a label shows (Unicode Cc, Cf, Zl, Zp).
INVISIBLE = {
    "right-to-left override": "\u202e",
    "left-to-right override": "\u202d",
    "right-to-left embedding": "\u202b",
    "pop directional formatting": "\u202c",
    "zero width space": "\u200b",
    "zero width non-joiner": "\u200c",
    "zero width joiner": "\u200d",
    "left-to-right mark": "\u200e",
    "right-to-left mark": "\u200f",
    "left-to-right isolate": "\u2066",
    "right-to-left isolate": "\u2067",
    "first strong isolate": "\u2068",
    "pop directional isolate": "\u2069",
    "byte order mark": "\ufeff",
    "arabic letter mark": "\u061c",
    "soft hyphen": "\u00ad",
    "line separator": "\u2028",
    "paragraph separator": "\u2029",
    "delete": "\u007f",
    "next line (C1)": "\u0085",
    "tag letter": "\U000e0041",
}
# What free text refuses: every control character but line feed, tab and CRLF, and the bidi overrides/isolates.
REFUSED_IN_FREE_TEXT = {
    "right-to-left override": "\u202e",
    "left-to-right embedding": "\u202a",
    "right-to-left isolate": "\u2067",
    "pop directional isolate": "\u2069",
    "null": "\u0000",
    "escape": "\u001b",
    "lone carriage return": "\r",
    "backspace": "\u0008",
    "delete": "\u007f",
    "next line (C1)": "\u0085",
}
ORDINARY = "Zoë Ødegård – Ελένη, 用户, café 😀 👩🏽‍💻 🏳️‍🌈"  # accents, other scripts, emoji with their joiners


# --- the two rules -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("char", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_a_label_refuses_every_control_and_invisible_formatting_character(char):
    with pytest.raises(BadRequest) as refusal:
        text.check_label(f"Alice{char}Martin", "body.title", emoji_joiner=True)
    assert refusal.value.extra["field"] == "body.title" and f"U+{ord(char):04X}" in refusal.value.message


@pytest.mark.parametrize("char", REFUSED_IN_FREE_TEXT.values(), ids=REFUSED_IN_FREE_TEXT.keys())
def test_free_text_refuses_control_characters_and_bidi_overrides_and_isolates(char):
    with pytest.raises(BadRequest) as refusal:
        text.check_multiline(f"Please{char} delete my file", "body.message")
    assert refusal.value.extra["field"] == "body.message" and f"U+{ord(char):04X}" in refusal.value.message


def test_a_label_accepts_accents_other_scripts_and_emoji():
    assert text.check_label(ORDINARY, "body.title", emoji_joiner=True) == ORDINARY


def test_free_text_keeps_line_feeds_tabs_crlf_and_marks_of_right_to_left_writing():
    written = f"Line one\nLine two\r\n\tindented — {ORDINARY} \u200fשלום\u200e \u200d\u200c"
    assert text.check_multiline(written, "body.message") == written


def refused(api, method, path, body, field, token):
    before = api.state()
    answer = api.call(method, path, body, token=token)
    assert answer.status_code == 400, (field, body, answer.body)
    error = error_shape(answer)
    assert error["field"] == field, error
    assert api.state() == before
    return error


@pytest.fixture
def dossier(api, team):
    return api.new_dossier(team, "alice@client.example")["dossier_id"]


def document(filename: str) -> dict:
    return {"filename": filename, "content_base64": base64.b64encode(b"%PDF-1.4").decode()}


# --- filenames ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("char", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_a_filename_with_an_invisible_or_control_character_is_refused(api, team, dossier, char):
    refused(api, "POST", f"/teams/{team.id}/dossiers/{dossier}/documents", document(f"invoice{char}fdp.exe"),
            "body.filename", team.token)


def test_refusing_a_bidi_filename_names_the_field_and_the_character(api, team, dossier):
    error = refused(api, "POST", f"/teams/{team.id}/dossiers/{dossier}/documents",
                    document("invoice\u202efdp.exe"), "body.filename", team.token)
    assert "filename" in error["Message"] and "U+202E" in error["Message"]


def test_a_filename_with_accents_and_emoji_is_accepted(api, team, dossier):
    answer = api.post(f"/teams/{team.id}/dossiers/{dossier}/documents", document("reçu été 😀.pdf"),
                      token=team.token)
    assert answer.status_code == 201 and answer.json_body["filename"] == "reçu été 😀.pdf"


# --- other single-line labels ---------------------------------------------------------------------------------

LABELS = [  # (method, path, body with {x} where the label goes, field named in the error)
    ("POST", "/teams/{team}/dossiers", {"client_email": "bob@client.example", "title": "{x}"}, "body.title"),
    ("PATCH", "/teams/{team}/dossiers/{dossier}", {"title": "{x}"}, "body.title"),
    ("POST", "/teams/{team}/dossiers", {"client_email": "bob@client.example", "title": "T", "fields": {"{x}": "1"}},
     "body.fields"),
    ("PATCH", "/teams/{team}/dossiers/{dossier}", {"fields": {"address": {"{x}": "1"}}}, "body.fields.address"),
    ("PUT", "/teams/{team}/members/newbie", {"email": "n@team.example", "name": "{x}", "role": "member"},
     "body.name"),
    ("PATCH", "/teams/{team}/privacy/settings", {"privacy_policy_url": "https://team.example/{x}"},
     "body.privacy_policy_url"),
    ("PATCH", "/teams/{team}/privacy/settings", {"terms_of_service_url": "https://team.example/{x}"},
     "body.terms_of_service_url"),
]


def fill(value, label: str, team, dossier):
    if isinstance(value, dict):
        return {fill(k, label, team, dossier): fill(v, label, team, dossier) for k, v in value.items()}
    if isinstance(value, str):
        return value.replace("{x}", label).replace("{team}", team.id).replace("{dossier}", dossier)
    return value


@pytest.mark.parametrize("char", ["\u202e", "\u200b"])
@pytest.mark.parametrize("method, path, body, field", LABELS, ids=[f"{m} {f}" for m, _, _, f in LABELS])
def test_single_line_label_fields_refuse_invisible_and_control_characters(api, team, dossier, method, path, body,
                                                                    field, char):
    refused(api, method, fill(path, "", team, dossier), fill(body, f"Alice{char}Martin", team, dossier), field,
            team.token)


@pytest.mark.parametrize("method, path, body, field", LABELS, ids=[f"{m} {f}" for m, _, _, f in LABELS])
def test_single_line_label_fields_accept_accents_other_scripts_and_emoji(api, team, dossier, method, path, body, field):
    label = ORDINARY if "url" not in field else "Zo%C3%AB-caf%C3%A9-%F0%9F%98%80"
    answer = api.call(method, fill(path, "", team, dossier), fill(body, label, team, dossier), token=team.token)
    assert 200 <= answer.status_code < 300, answer.body


def test_a_title_accepts_a_joiner_inside_an_emoji_but_not_between_letters(api, team):
    path = f"/teams/{team.id}/dossiers"
    accepted = api.post(path, {"client_email": "bob@client.example", "title": "Bob 👩🏽‍💻"}, token=team.token)
    assert accepted.status_code == 201
    refused(api, "POST", path, {"client_email": "bob@client.example", "title": "ad\u200dmin"}, "body.title",
            team.token)


def test_a_member_id_in_the_path_refuses_invisible_characters(api, team):
    refused(api, "PUT", f"/teams/{team.id}/members/ad\u202emin",
            {"email": "n@team.example", "name": "N", "role": "member"}, "member_id", team.token)


# --- multi-line free text -------------------------------------------------------------------------------------

@pytest.fixture
def pending(api, team):
    return api.verified_request(team, "alice@client.example")


FREE_TEXT = [  # (method, path, body with {x}, field, needs the admin's token)
    ("POST", "/portal/{team}/privacy/requests", {"email": "carol@client.example", "type": "access", "message": "{x}"},
     "body.message", False),
    ("POST", "/teams/{team}/privacy/requests/{request}/execute", {"confirm": True, "note": "{x}"}, "body.note",
     True),
    ("POST", "/teams/{team}/privacy/requests/{request}/extend", {"months": 1, "reason": "{x}"}, "body.reason", True),
    ("POST", "/teams/{team}/privacy/requests/{request}/deny", {"reason": "{x}"}, "body.reason", True),
    ("PATCH", "/teams/{team}/privacy/settings", {"consent_text": "{x}"}, "body.consent_text", True),
    ("PATCH", "/teams/{team}/privacy/settings", {"processing_purposes": "{x}"}, "body.processing_purposes", True),
    ("PATCH", "/teams/{team}/privacy/settings", {"data_recipients": "{x}"}, "body.data_recipients", True),
    ("PATCH", "/teams/{team}/privacy/settings", {"retention_period": "{x}"}, "body.retention_period", True),
    ("PATCH", "/teams/{team}/privacy/settings", {"supervisory_authority": "{x}"}, "body.supervisory_authority",
     True),
    ("PATCH", "/teams/{team}/dossiers/{dossier}", {"fields": {"address": "{x}"}}, "body.fields.address", True),
]
FREE_IDS = [f"{m} {f}" for m, _, _, f, _ in FREE_TEXT]


def fill_request(value, text: str, team, dossier, request_id):
    filled = fill(value, text, team, dossier)
    if isinstance(filled, str):
        return filled.replace("{request}", request_id)
    return filled


@pytest.mark.parametrize("char", ["\u202e", "\u001b"])
@pytest.mark.parametrize("method, path, body, field, bearer", FREE_TEXT, ids=FREE_IDS)
def test_free_text_fields_refuse_control_characters_and_bidi_overrides(api, team, dossier, pending, method, path, body,
                                                                 field, bearer, char):
    refused(api, method, fill_request(path, "", team, dossier, pending),
            fill(body, f"Please{char} delete my file", team, dossier), field, team.token if bearer else None)


@pytest.mark.parametrize("method, path, body, field, bearer", FREE_TEXT, ids=FREE_IDS)
def test_free_text_fields_keep_line_breaks_tabs_and_ordinary_writing(api, team, dossier, pending, method, path, body,
                                                              field, bearer):
    text = f"Line one\nLine two\r\n\tindented — {ORDINARY} \u200fשלום\u200e"
    answer = api.call(method, fill_request(path, "", team, dossier, pending), fill(body, text, team, dossier),
                      token=team.token if bearer else None)
    assert 200 <= answer.status_code < 300, answer.body
