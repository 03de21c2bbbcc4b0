"""Issue 2 §3: dossiers, their consent record (Art. 7(1)) and their documents in S3; client email matching."""
import base64
import hashlib

import pytest

from chalicelib import aws, config
from tests.support import error_shape


def enable_consent(api, team, text="I agree to the processing of my data."):
    answer = api.patch(f"/teams/{team.id}/privacy/settings", {"consent_capture_enabled": True, "consent_text": text},
                       token=team.token)
    assert answer.status_code == 200, answer.body
    return answer.json_body


def list_for(api, team, email):
    from urllib.parse import quote

    answer = api.get(f"/teams/{team.id}/dossiers?client_email={quote(email)}", token=team.token)
    assert answer.status_code == 200, answer.body
    return answer.json_body


# --- creating and reading --------------------------------------------------------------------------------------

def test_create_dossier_answers_201_with_its_dossier_id(api, team):
    answer = api.post(f"/teams/{team.id}/dossiers",
                      {"client_email": "alice@client.example", "title": "Onboarding", "fields": {"iban": "FR76"}},
                      token=team.token)
    assert answer.status_code == 201, answer.body
    body = answer.json_body
    assert body["dossier_id"]
    assert body["client_email"] == "alice@client.example"
    assert body["title"] == "Onboarding"
    assert body["fields"] == {"iban": "FR76"}


def test_created_dossier_can_be_fetched_by_id(api, team):
    created = api.new_dossier(team, "alice@client.example", title="Onboarding")
    answer = api.get(f"/teams/{team.id}/dossiers/{created['dossier_id']}", token=team.token)
    assert answer.status_code == 200
    assert answer.json_body["dossier_id"] == created["dossier_id"]
    assert answer.json_body["title"] == "Onboarding"
    assert answer.json_body["fields"] == {"name": "Client"}


def test_any_member_may_create_a_dossier(api, team):
    token = api.add_member(team, "m1", "m1@team.example")
    created = api.new_dossier(team, "alice@client.example", token=token)
    assert created["dossier_id"]


def test_unknown_dossier_is_404(api, team):
    answer = api.get(f"/teams/{team.id}/dossiers/d_nope", token=team.token)
    assert answer.status_code == 404
    error_shape(answer)


def test_another_teams_dossier_cannot_be_fetched_through_this_team(api, team):
    other = api.new_team("Other", "admin@other.example")
    theirs = api.new_dossier(other, "alice@client.example")
    answer = api.get(f"/teams/{team.id}/dossiers/{theirs['dossier_id']}", token=team.token)
    assert answer.status_code == 404


def test_dossier_list_answers_items_and_next(api, team):
    api.new_dossier(team, "alice@client.example")
    answer = api.get(f"/teams/{team.id}/dossiers", token=team.token)
    assert answer.status_code == 200
    assert set(answer.json_body) == {"items", "next"}
    assert len(answer.json_body["items"]) == 1
    assert answer.json_body["next"] is None


def test_dossier_list_of_a_team_shows_only_its_own_dossiers(api, team):
    other = api.new_team("Other", "admin@other.example")
    mine = api.new_dossier(team, "alice@client.example")
    api.new_dossier(other, "alice@client.example")
    items = api.get(f"/teams/{team.id}/dossiers", token=team.token).json_body["items"]
    assert [d["dossier_id"] for d in items] == [mine["dossier_id"]]


# --- consent ---------------------------------------------------------------------------------------------------

def test_without_consent_capture_a_dossier_needs_no_consent(api, team):
    created = api.new_dossier(team, "alice@client.example")
    assert created["consent"] is None


def test_with_consent_capture_a_dossier_without_consent_is_422_and_not_stored(api, team):
    enable_consent(api, team)
    before = api.state()
    answer = api.post(f"/teams/{team.id}/dossiers", {"client_email": "alice@client.example", "title": "T"},
                      token=team.token)
    assert answer.status_code == 422
    error_shape(answer)
    assert api.state() == before


def test_with_consent_capture_a_refused_consent_is_422(api, team):
    enable_consent(api, team)
    answer = api.post(f"/teams/{team.id}/dossiers", {"client_email": "alice@client.example", "title": "T",
                                                     "consent": {"accepted": False}}, token=team.token)
    assert answer.status_code == 422
    assert list_for(api, team, "alice@client.example")["items"] == []


def test_consent_record_keeps_version_text_hash_time_source_ip_and_user_agent(api, team):
    text = "I agree to the processing of my data."
    settings = enable_consent(api, team, text)
    answer = api.post(f"/teams/{team.id}/dossiers", {"client_email": "alice@client.example", "title": "T",
                                                     "consent": {"accepted": True}},
                      token=team.token, headers={"User-Agent": "ClientPortal/1.0 (test)"})
    assert answer.status_code == 201, answer.body
    stored = api.get(f"/teams/{team.id}/dossiers/{answer.json_body['dossier_id']}", token=team.token).json_body
    consent = stored["consent"]
    assert consent["accepted"] is True
    assert consent["version"] == settings["consent_version"] == 1
    assert consent["text_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert consent["accepted_at"].startswith(stored["created_at"][:10])
    assert consent["source_ip"] == "127.0.0.1"  # chalice's local gateway's source IP
    assert consent["user_agent"] == "ClientPortal/1.0 (test)"


def test_consent_record_follows_the_current_wording(api, team):
    enable_consent(api, team, "first wording")
    api.patch(f"/teams/{team.id}/privacy/settings", {"consent_text": "second wording"}, token=team.token)
    created = api.new_dossier(team, "alice@client.example", consent={"accepted": True})
    assert created["consent"]["version"] == 2
    assert created["consent"]["text_sha256"] == hashlib.sha256(b"second wording").hexdigest()


# --- documents -------------------------------------------------------------------------------------------------

def test_add_document_answers_201_with_its_document_id(api, team):
    dossier = api.new_dossier(team, "alice@client.example")
    answer = api.post(f"/teams/{team.id}/dossiers/{dossier['dossier_id']}/documents",
                      {"filename": "id.pdf", "content_base64": base64.b64encode(b"%PDF passport").decode()},
                      token=team.token)
    assert answer.status_code == 201, answer.body
    assert answer.json_body["document_id"]
    assert answer.json_body["filename"] == "id.pdf"
    assert answer.json_body["size"] == len(b"%PDF passport")


def test_document_is_stored_in_s3_encrypted_under_the_team_and_dossier_prefix(api, team):
    dossier = api.new_dossier(team, "alice@client.example")
    doc = api.add_document(team, dossier["dossier_id"], content=b"%PDF secret passport")
    prefix = f"teams/{team.id}/dossiers/{dossier['dossier_id']}/"
    keys = api.s3_keys(prefix)
    assert len(keys) == 1
    assert doc["document_id"] in keys[0]
    head = aws.s3().head_object(Bucket=config.get("DOCUMENTS_BUCKET"), Key=keys[0])
    assert head["ServerSideEncryption"] in ("AES256", "aws:kms")
    body = aws.s3().get_object(Bucket=config.get("DOCUMENTS_BUCKET"), Key=keys[0])["Body"].read()
    assert body == b"%PDF secret passport"


def test_document_is_listed_on_its_dossier(api, team):
    dossier = api.new_dossier(team, "alice@client.example")
    doc = api.add_document(team, dossier["dossier_id"])
    stored = api.get(f"/teams/{team.id}/dossiers/{dossier['dossier_id']}", token=team.token).json_body
    assert [d["document_id"] for d in stored["documents"]] == [doc["document_id"]]


def test_document_for_an_unknown_dossier_is_404_and_stores_nothing(api, team):
    before = api.state()
    answer = api.post(f"/teams/{team.id}/dossiers/d_nope/documents",
                      {"filename": "id.pdf", "content_base64": base64.b64encode(b"x").decode()}, token=team.token)
    assert answer.status_code == 404
    error_shape(answer)
    assert api.state() == before


def test_document_with_invalid_base64_is_400_and_stores_nothing(api, team):
    dossier = api.new_dossier(team, "alice@client.example")
    before = api.state()
    answer = api.post(f"/teams/{team.id}/dossiers/{dossier['dossier_id']}/documents",
                      {"filename": "id.pdf", "content_base64": "***not base64***"}, token=team.token)
    assert answer.status_code == 400
    error_shape(answer)
    assert api.state() == before


# --- client email matching ---------------------------------------------------------------------------------------

def test_client_email_is_stored_trimmed_and_lowercased(api, team):
    created = api.new_dossier(team, "  Alice@Client.Example ")
    assert created["client_email"] == "alice@client.example"


@pytest.mark.parametrize("query", ["alice@client.example", "ALICE@CLIENT.EXAMPLE", " Alice@Client.example "])
def test_dossiers_are_found_by_client_email_case_insensitively_after_trimming(api, team, query):
    created = api.new_dossier(team, "Alice@Client.example")
    items = list_for(api, team, query)["items"]
    assert [d["dossier_id"] for d in items] == [created["dossier_id"]]


@pytest.mark.parametrize("other_address", ["alice+work@client.example", "a.lice@client.example",
                                           "alice@client.example.org"])
def test_plus_tags_and_dots_make_another_client(api, team, other_address):
    alice = api.new_dossier(team, "alice@client.example")
    other = api.new_dossier(team, other_address)
    assert [d["dossier_id"] for d in list_for(api, team, "alice@client.example")["items"]] == [alice["dossier_id"]]
    assert [d["dossier_id"] for d in list_for(api, team, other_address)["items"]] == [other["dossier_id"]]


def test_client_email_filter_answers_items_and_next(api, team):
    body = list_for(api, team, "nobody@client.example")
    assert body == {"items": [], "next": None}


def test_dossier_list_continues_with_the_next_cursor(api, team, monkeypatch):
    from chalicelib import dossiers

    monkeypatch.setattr(dossiers, "PAGE_SIZE", 2)
    created = {api.new_dossier(team, f"c{i}@client.example")["dossier_id"] for i in range(5)}
    seen, cursor, pages = [], None, 0
    while True:
        path = f"/teams/{team.id}/dossiers" + (f"?next={cursor}" if cursor else "")
        body = api.get(path, token=team.token).json_body
        assert set(body) == {"items", "next"}
        seen.extend(d["dossier_id"] for d in body["items"])
        pages += 1
        cursor = body["next"]
        if not cursor:
            break
    assert pages >= 3
    assert sorted(seen) == sorted(created)


def test_client_email_list_continues_with_the_next_cursor(api, team, monkeypatch):
    from chalicelib import dossiers

    monkeypatch.setattr(dossiers, "PAGE_SIZE", 2)
    created = {api.new_dossier(team, "alice@client.example", title=f"F{i}")["dossier_id"] for i in range(5)}
    api.new_dossier(team, "bob@client.example")
    seen, cursor = [], None
    while True:
        path = f"/teams/{team.id}/dossiers?client_email=alice@client.example" + (f"&next={cursor}" if cursor else "")
        body = api.get(path, token=team.token).json_body
        seen.extend(d["dossier_id"] for d in body["items"])
        cursor = body["next"]
        if not cursor:
            break
    assert sorted(seen) == sorted(created)


# --- searching by client email without putting the address in a URL ---------------------------------------------

def search(api, team, body, token=None):
    return api.post(f"/teams/{team.id}/dossiers/search", body, token=token or team.token)


def test_search_by_client_email_in_the_body_answers_as_the_list_does(api, team):
    alice = api.new_dossier(team, "Alice@Client.example")
    api.new_dossier(team, "bob@client.example")
    answer = search(api, team, {"client_email": " ALICE@client.example "})
    assert answer.status_code == 200, answer.body
    assert answer.json_body == list_for(api, team, "alice@client.example")
    assert [d["dossier_id"] for d in answer.json_body["items"]] == [alice["dossier_id"]]


def test_any_member_may_search_dossiers(api, team):
    member = api.add_member(team, "plain", "plain@team.example")
    api.new_dossier(team, "alice@client.example")
    assert len(search(api, team, {"client_email": "alice@client.example"}, token=member).json_body["items"]) == 1


def test_search_continues_with_the_next_cursor_in_the_body(api, team, monkeypatch):
    from chalicelib import dossiers

    monkeypatch.setattr(dossiers, "PAGE_SIZE", 2)
    created = {api.new_dossier(team, "alice@client.example", title=f"F{i}")["dossier_id"] for i in range(5)}
    api.new_dossier(team, "bob@client.example")
    seen, cursor, pages = [], None, 0
    while True:
        body = search(api, team, {"client_email": "alice@client.example", "next": cursor}).json_body
        seen.extend(d["dossier_id"] for d in body["items"])
        pages += 1
        cursor = body["next"]
        if not cursor:
            break
    assert pages >= 3 and sorted(seen) == sorted(created)


def test_a_search_cursor_continues_only_the_same_clients_search(api, team, monkeypatch):
    from chalicelib import dossiers

    monkeypatch.setattr(dossiers, "PAGE_SIZE", 1)
    api.new_dossier(team, "alice@client.example")
    api.new_dossier(team, "alice@client.example")
    alice_cursor = search(api, team, {"client_email": "alice@client.example"}).json_body["next"]
    assert alice_cursor
    for cursor in (alice_cursor, "AAAA", "not a cursor"):
        answer = search(api, team, {"client_email": "bob@client.example", "next": cursor})
        assert answer.status_code == 400, (cursor, answer.body)
        assert error_shape(answer)["field"] == "body.next"


@pytest.mark.parametrize("body, field", [
    ({}, "body"),
    ({"client_email": "not-an-email"}, "body.client_email"),
    ({"client_email": 5}, "body.client_email"),
    ({"client_email": "alice@client.example", "next": 5}, "body.next"),
    ({"client_email": "alice@client.example", "status": "x"}, "body"),
])
def test_a_search_without_a_valid_client_email_or_with_unknown_fields_is_400_naming_the_field(api, team, body,
                                                                                             field):
    answer = search(api, team, body)
    assert answer.status_code == 400, answer.body
    assert error_shape(answer).get("field") == field


def test_dossier_list_with_a_well_formed_cursor_of_other_keys_is_400(api, team, monkeypatch):
    import base64
    import json

    from chalicelib import dossiers

    other = api.new_team("Other", "admin@other.example")
    monkeypatch.setattr(dossiers, "PAGE_SIZE", 1)
    api.new_dossier(team, "alice@client.example")
    api.new_dossier(team, "alice@client.example")
    bob_cursor = api.get(f"/teams/{team.id}/dossiers?client_email=bob@client.example", token=team.token)
    alice_cursor = api.get(f"/teams/{team.id}/dossiers?client_email=alice@client.example",
                           token=team.token).json_body["next"]
    assert bob_cursor.status_code == 200 and alice_cursor
    forged = [base64.urlsafe_b64encode(json.dumps(v).encode()).decode().rstrip("=") for v in (
        {"foo": {"S": "x"}},
        {"team_id": {"S": other.id}, "dossier_id": {"S": "d_1"}},
        {"team_id": {"S": team.id}, "dossier_id": {"S": "d_1"}, "extra": {"S": "x"}},
    )]
    for cursor in forged:
        for query in ("", "client_email=alice@client.example&"):
            answer = api.get(f"/teams/{team.id}/dossiers?{query}next={cursor}", token=team.token)
            assert answer.status_code == 400, (cursor, query, answer.body)
            error_shape(answer)
    # a cursor of Alice's list doesn't continue Bob's
    answer = api.get(f"/teams/{team.id}/dossiers?client_email=bob@client.example&next={alice_cursor}",
                     token=team.token)
    assert answer.status_code == 400


def test_every_consent_wording_is_kept_with_its_version_and_hash(api, team):
    import hashlib

    for text in ("First wording.", "Second wording."):
        api.patch(f"/teams/{team.id}/privacy/settings", {"consent_capture_enabled": True, "consent_text": text},
                  token=team.token)
    versions = api.get(f"/teams/{team.id}/privacy/consent/versions", token=team.token).json_body
    assert [(v["version"], v["text"]) for v in versions["items"]] == [(2, "Second wording."), (1, "First wording.")]
    dossier = api.new_dossier(team, "alice@client.example", consent={"accepted": True})
    assert dossier["consent"]["text_sha256"] == hashlib.sha256(b"Second wording.").hexdigest()
    assert versions["items"][0]["text_sha256"] == dossier["consent"]["text_sha256"]


def test_consent_accepted_on_an_outdated_wording_is_refused(api, team):
    api.patch(f"/teams/{team.id}/privacy/settings", {"consent_capture_enabled": True, "consent_text": "v1"},
              token=team.token)
    api.patch(f"/teams/{team.id}/privacy/settings", {"consent_text": "v2"}, token=team.token)
    answer = api.post(f"/teams/{team.id}/dossiers", {"client_email": "a@client.example", "title": "t",
                                                     "consent": {"accepted": True, "version": 1}}, token=team.token)
    assert answer.status_code == 409
    assert api.get(f"/teams/{team.id}/dossiers", token=team.token).json_body["items"] == []
    ok = api.post(f"/teams/{team.id}/dossiers", {"client_email": "a@client.example", "title": "t",
                                                 "consent": {"accepted": True, "version": 2}}, token=team.token)
    assert ok.status_code == 201 and ok.json_body["consent"]["version"] == 2
