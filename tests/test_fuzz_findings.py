"""Inputs found while building `make fuzz` (devtools/fuzz.py) that answered 500 or non-JSON: each is a 4xx naming
the field now, or is handled as the schema says."""
import pytest

from tests.support import error_shape


@pytest.mark.parametrize("due_before", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_due_before_at_the_edge_of_the_calendar_is_400_not_500(api, team, due_before):
    from urllib.parse import quote

    answer = api.get(f"/teams/{team.id}/privacy/requests?due_before={quote(due_before)}", token=team.token)
    assert answer.status_code == 400, answer.body
    assert error_shape(answer) and answer.json_body["field"] == "due_before"


@pytest.mark.parametrize("number", ["1e400", "-1e400"])
def test_a_json_number_beyond_float_range_is_400_not_stored_as_infinity(api, team, number):
    raw = ('{"client_email": "a@client.example", "title": "T", "fields": {"n": %s}}' % number).encode()
    answer = api.post(f"/teams/{team.id}/dossiers", raw=raw, token=team.token)
    assert answer.status_code == 400, answer.body
    assert error_shape(answer) and answer.json_body["field"] == "body"
    assert api.get(f"/teams/{team.id}/dossiers", token=team.token).json_body["items"] == []


@pytest.mark.parametrize("raw, field", [
    (rb'{"client_email": "a@client.example", "title": "\ud800"}', "body.title"),
    (rb'{"client_email": "a@client.example", "title": "T", "fields": {"k": ["ok", "\udfff"]}}', "body.fields.k[1]"),
])
def test_an_unpaired_surrogate_escape_is_400_naming_the_field(api, team, raw, field):
    answer = api.post(f"/teams/{team.id}/dossiers", raw=raw, token=team.token)
    assert answer.status_code == 400, answer.body
    assert error_shape(answer) and answer.json_body["field"] == field
    assert api.get(f"/teams/{team.id}/dossiers", token=team.token).json_body["items"] == []


def test_an_unpaired_surrogate_in_a_portal_message_is_400_not_a_duplicate(api, team):
    raw = rb'{"email": "a@client.example", "type": "erasure", "message": "\ud800"}'
    answer = api.post(f"/portal/{team.id}/privacy/requests", raw=raw)
    assert answer.status_code == 400, answer.body
    assert answer.json_body["field"] == "body.message"


def test_an_extension_of_1_0_months_is_one_month(api, team):
    """JSON Schema's enum [1, 2] admits 1.0 (numbers compare by value), so the app must take it as 1."""
    request_id = api.verified_request(team, "alice@client.example", "access")
    path = f"/teams/{team.id}/privacy/requests/{request_id}/extend"
    answer = api.post(path, raw=b'{"months": 1.0, "reason": "many dossiers"}', token=team.token)
    assert answer.status_code == 200, answer.body
    assert answer.json_body["extension_months"] == 1


@pytest.mark.parametrize("content_type", ["W\n", "text/plain\r\nX-Amz-Meta-A: b", "tëxt/plain"])
def test_a_document_content_type_that_cant_be_a_header_is_400(api, team, content_type):
    """It becomes S3's Content-Type header: a newline made botocore raise (a 500, found by the fuzzer); non-ASCII
    isn't a header value either (RFC 9110), so only printable ASCII is taken."""
    dossier = api.new_dossier(team, "a@client.example")
    answer = api.post(f"/teams/{team.id}/dossiers/{dossier['dossier_id']}/documents",
                      {"filename": "a.pdf", "content_base64": "", "content_type": content_type}, token=team.token)
    assert answer.status_code == 400, answer.body
    assert answer.json_body["field"] == "body.content_type"
    assert api.get(f"/teams/{team.id}/dossiers/{dossier['dossier_id']}", token=team.token).json_body["documents"] == []
