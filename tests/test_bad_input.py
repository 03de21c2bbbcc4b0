"""Issue 2 §8: every route answers bad input — malformed or non-UTF-8 JSON, missing, mistyped or unknown fields,
unknown request types, invalid emails, unknown ids — with a 4xx `{"Code", "Message"}`, never a 500, and writes
nothing."""
import base64
import json
import types

import pytest

from chalicelib import tokens
from tests.support import error_shape, without_rate_counters


@pytest.fixture
def world(api, team):
    """A team with a dossier (with a document) and a pending request, so every route has real ids."""
    dossier = api.new_dossier(team, "alice@client.example")
    api.add_document(team, dossier["dossier_id"])
    request_id = api.verified_request(team, "alice@client.example")
    return types.SimpleNamespace(team=team, dossier_id=dossier["dossier_id"], request_id=request_id)


# (name, method, path template, needs token) for every route that takes a JSON body
BODY_ROUTES = [
    ("put_member", "PUT", "/teams/{team}/members/newbie", True),
    ("patch_settings", "PATCH", "/teams/{team}/privacy/settings", True),
    ("create_dossier", "POST", "/teams/{team}/dossiers", True),
    ("search_dossiers", "POST", "/teams/{team}/dossiers/search", True),
    ("add_document", "POST", "/teams/{team}/dossiers/{dossier}/documents", True),
    ("submit_request", "POST", "/portal/{team}/privacy/requests", False),
    ("execute", "POST", "/teams/{team}/privacy/requests/{request}/execute", True),
    ("put_system", "PUT", "/teams/{team}/privacy/systems/archive", True),
]

VALID = {
    "put_member": {"email": "n@team.example", "name": "N", "role": "member"},
    "patch_settings": {"consent_capture_enabled": True},
    "create_dossier": {"client_email": "carol@client.example", "title": "T", "fields": {}},
    "search_dossiers": {"client_email": "alice@client.example"},
    "add_document": {"filename": "a.pdf", "content_base64": base64.b64encode(b"x").decode()},
    "submit_request": {"email": "carol@client.example", "type": "erasure"},
    "execute": {"confirm": True},
    "put_system": {"name": "Archive", "kind": "manual", "owner_email": "archivist@team.example"},
}

MALFORMED = {
    "truncated JSON": b'{"email": "a@b.example", ',
    "not JSON": b"email=a@b.example",
    "non-UTF-8": b'{"email": "\xff\xfe@b.example"}',
    "latin-1 bytes": "{\"title\": \"caf\xe9\"}".encode("latin-1"),
    "empty body": b"",
    "whitespace only": b"   ",
    "a JSON array": b"[]",
    "a JSON string": b'"hello"',
    "JSON null": b"null",
    "JSON number": b"42",
    "NaN": b'{"confirm": NaN}',
    "trailing garbage": b'{"confirm": true} x',
}

# Per route: bodies with a wrong type, a missing required field, or an unknown field.
WRONG = {
    "put_member": [
        {"email": "n@team.example", "name": "N"},
        {"email": "n@team.example", "name": "N", "role": "root"},
        {"email": 5, "name": "N", "role": "member"},
        {"email": "n@team.example", "name": ["N"], "role": "member"},
        {"email": "n@team.example", "name": "N", "role": "member", "is_owner": True},
    ],
    "patch_settings": [
        {},
        {"consent_capture_enabled": "yes"},
        {"portal_privacy_banner_enabled": 1},
        {"consent_text": 12},
        {"privacy_policy_url": 5},
        {"privacy_policy_url": "http://team.example/p"},
        {"terms_of_service_url": "team.example/terms"},
        {"privacy_officer_id": 7},
        {"consent_version": 9},
        {"unknown_setting": True},
    ],
    "create_dossier": [
        {"title": "T"},
        {"client_email": "carol@client.example"},
        {"client_email": "carol@client.example", "title": 5},
        {"client_email": "carol@client.example", "title": ""},
        {"client_email": "carol@client.example", "title": "T", "fields": ["a"]},
        {"client_email": "carol@client.example", "title": "T", "consent": {"accepted": "yes"}},
        {"client_email": "carol@client.example", "title": "T", "consent": True},
        {"client_email": ["carol@client.example"], "title": "T"},
        {"client_email": "carol@client.example", "title": "T", "owner": "me"},
    ],
    "search_dossiers": [
        {},
        {"client_email": ["alice@client.example"]},
        {"client_email": "alice@client.example", "next": {"S": "x"}},
        {"client_email": "alice@client.example", "team_id": "t_other"},
    ],
    "add_document": [
        {"filename": "a.pdf"},
        {"content_base64": "eA=="},
        {"filename": 3, "content_base64": "eA=="},
        {"filename": "a.pdf", "content_base64": 3},
        {"filename": "../../etc/passwd", "content_base64": "eA=="},
        {"filename": "a.pdf", "content_base64": "not base64!"},
        {"filename": "a.pdf", "content_base64": "eA==", "s3_key": "teams/other/x"},
    ],
    "submit_request": [
        {"email": "carol@client.example"},
        {"type": "erasure"},
        {"email": "carol@client.example", "type": "delete_everything"},
        {"email": "carol@client.example", "type": "ERASURE"},
        {"email": "carol@client.example", "type": 1},
        {"email": 1, "type": "erasure"},
        {"email": "carol@client.example", "type": "erasure", "message": 5},
        {"email": "carol@client.example", "type": "erasure", "status": "pending"},
    ],
    "execute": [
        {},
        {"confirm": False},
        {"confirm": "true"},
        {"confirm": None},
        {"confirm": True, "force": True},
    ],
    "put_system": [
        {},
        {"name": "Archive"},
        {"name": "Archive", "kind": "email", "owner_email": "a@team.example"},
        {"name": "", "kind": "manual", "owner_email": "a@team.example"},
        {"name": "Archive", "kind": "manual"},
        {"name": "Archive", "kind": "webhook"},
        {"name": "Archive", "kind": "webhook", "url": "ftp://files.example.com/x"},
        {"name": "Archive", "kind": "manual", "owner_email": "a@team.example", "request_types": "erasure"},
        {"name": "Archive", "kind": "manual", "owner_email": "a@team.example", "secrets": []},
    ],
}

INVALID_EMAILS = ["not-an-email", "alice@", "@client.example", "alice@@client.example", "alice client@example.com",
                  "", "   ", "alice@client..example"]
EMAIL_FIELD = {"put_member": "email", "create_dossier": "client_email", "search_dossiers": "client_email",
               "submit_request": "email", "put_system": "owner_email"}


def path_for(template, world):
    return template.format(team=world.team.id, dossier=world.dossier_id, request=world.request_id)


def refused_without_writes(api, world, name, *, body=None, raw=None, headers=None, expected=None):
    _, method, template, needs_token = next(r for r in BODY_ROUTES if r[0] == name)
    before = api.state()
    answer = api.call(method, path_for(template, world), body, raw=raw, headers=headers,
                      token=world.team.token if needs_token else None)
    assert 400 <= answer.status_code < 500, (name, body, raw, answer.status_code, answer.body)
    if expected is not None:
        assert answer.status_code == expected, (name, body, raw, answer.body)
    error_shape(answer)
    assert api.state() == before, (name, body, raw)
    return answer


ROUTE_NAMES = [r[0] for r in BODY_ROUTES]


@pytest.mark.parametrize("name", ROUTE_NAMES)
def test_malformed_bodies_are_400_and_write_nothing(api, world, name):
    """Truncated or non-UTF-8 JSON, an empty body, JSON that isn't an object, NaN: each one refused."""
    for label, raw in MALFORMED.items():
        answer = refused_without_writes(api, world, name, raw=raw, expected=400)
        assert answer.json_body["Code"] == "BadRequestError", label


@pytest.mark.parametrize("name", list(WRONG))
def test_missing_mistyped_or_unknown_fields_are_4xx_and_write_nothing(api, world, name):
    for body in WRONG[name]:
        refused_without_writes(api, world, name, body=body)


@pytest.mark.parametrize("name", list(EMAIL_FIELD))
def test_invalid_emails_are_400_naming_the_email_and_write_nothing(api, world, name):
    for address in INVALID_EMAILS:
        body = dict(VALID[name], **{EMAIL_FIELD[name]: address})
        answer = refused_without_writes(api, world, name, body=body, expected=400)
        assert "email" in answer.json_body["Message"].lower(), (address, answer.json_body)


def test_unknown_request_type_is_400_naming_the_field(api, world):
    answer = refused_without_writes(api, world, "submit_request",
                                    body={"email": "carol@client.example", "type": "teleport"}, expected=400)
    assert "type" in answer.json_body["Message"]


def test_unknown_field_is_400_naming_it(api, world):
    answer = refused_without_writes(api, world, "create_dossier",
                                    body=dict(VALID["create_dossier"], colour="blue"), expected=400)
    assert "colour" in answer.json_body["Message"] or "additional" in answer.json_body["Message"].lower()


def test_json_routes_refuse_another_content_type(api, world):
    for name in ROUTE_NAMES:
        refused_without_writes(api, world, name, raw=json.dumps(VALID[name]).encode(),
                               headers={"Content-Type": "application/xml"})


def test_oversized_json_body_is_413_and_writes_nothing(api, world):
    huge = {"client_email": "carol@client.example", "title": "T", "fields": {"blob": "x" * (100 * 1024)}}
    refused_without_writes(api, world, "create_dossier", body=huge, expected=413)


@pytest.mark.parametrize("name", ROUTE_NAMES)
def test_the_valid_body_of_each_route_is_accepted(api, world, name):
    """The control for the tests above: the same routes with a good body succeed."""
    _, method, template, needs_token = next(r for r in BODY_ROUTES if r[0] == name)
    answer = api.call(method, path_for(template, world), VALID[name],
                      token=world.team.token if needs_token else None)
    assert 200 <= answer.status_code < 300, (name, answer.body)


# --- unknown ids --------------------------------------------------------------------------------------------------

UNKNOWN_IDS = [
    ("GET", "/portal/t_nope/privacy", None, False),
    ("POST", "/portal/t_nope/privacy/requests", {"email": "carol@client.example", "type": "erasure"}, False),
    ("GET", "/teams/{team}/dossiers/d_nope", None, True),
    ("POST", "/teams/{team}/dossiers/d_nope/documents", {"filename": "a.pdf", "content_base64": "eA=="}, True),
    ("GET", "/teams/{team}/privacy/requests/r_nope", None, True),
    ("POST", "/teams/{team}/privacy/requests/r_nope/execute", {"confirm": True}, True),
    ("GET", "/teams/{team}/privacy/systems/s_nope", None, True),
    ("DELETE", "/teams/{team}/privacy/systems/s_nope", None, True),
]


def test_unknown_ids_are_404_and_write_nothing(api, world):
    before = api.state()
    for method, template, body, needs_token in UNKNOWN_IDS:
        answer = api.call(method, path_for(template, world), body, token=world.team.token if needs_token else None)
        assert answer.status_code == 404, (method, template, answer.body)
        error_shape(answer)
    assert without_rate_counters(api.state()) == without_rate_counters(before)


def test_unknown_team_on_a_team_route_is_refused_and_writes_nothing(api, world):
    before = api.state()
    stranger = tokens.bearer_for("t_nope", "m_nope", "g_nope")
    for method, path, body in (("GET", "/teams/t_nope/privacy/settings", None),
                               ("PATCH", "/teams/t_nope/privacy/settings", {"policy_links_enabled": True}),
                               ("PUT", "/teams/t_nope/members/m1", VALID["put_member"]),
                               ("POST", "/teams/t_nope/dossiers", VALID["create_dossier"])):
        for token in (stranger, world.team.token):
            answer = api.call(method, path, body, token=token)
            assert 400 <= answer.status_code < 500, (method, path, answer.body)
            error_shape(answer)
    assert api.state() == before


def test_unknown_privacy_officer_is_422_and_writes_nothing(api, world):
    before = api.state()
    answer = api.patch(f"/teams/{world.team.id}/privacy/settings", {"privacy_officer_id": "ghost"},
                       token=world.team.token)
    assert answer.status_code == 422
    error_shape(answer)
    assert api.state() == before


# --- query strings and link pages ------------------------------------------------------------------------------------

def test_bad_dossier_list_queries_are_400(api, world):
    for query in ["client_email=not-an-email", "client_email=%20", "next=%7B%7D", "next=AAAA"]:
        answer = api.get(f"/teams/{world.team.id}/dossiers?{query}", token=world.team.token)
        assert answer.status_code == 400, (query, answer.body)
        error_shape(answer)


def test_bad_request_list_queries_are_400(api, world):
    for query in ["status=done", "status=PENDING", "next=AAAA", "next=W3siUyI6ICJ4In1d"]:
        answer = api.get(f"/teams/{world.team.id}/privacy/requests?{query}", token=world.team.token)
        assert answer.status_code == 400, (query, answer.body)
        error_shape(answer)


def test_garbage_link_tokens_answer_a_4xx_page(api, world):
    before = api.state()
    for token in ["x", "a.b.c", "eyJhbGciOiJub25lIn0.eyJhdWQiOiJhY3Rpb24ifQ.", "%00"]:
        for method, path in (("GET", f"/portal/privacy/verify/{token}"), ("GET", f"/actions/{token}"),
                             ("POST", f"/actions/{token}")):
            form = {"Content-Type": "application/x-www-form-urlencoded"} if method == "POST" else {}
            answer = api.call(method, path, raw=b"", headers=form)
            assert 400 <= answer.status_code < 500, (method, path, answer.status_code)
            assert answer.headers["Content-Type"].startswith("text/html"), (method, path)
    assert api.state() == before


def test_action_post_with_a_non_utf8_form_is_4xx_and_changes_nothing(api, world):
    link = api.last_link_to(world.team.admin_email, "/actions/")
    before = api.state()
    answer = api.post(link, raw=b"note=\xff\xfe", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert 400 <= answer.status_code < 500, answer.status_code
    assert api.state() == before
