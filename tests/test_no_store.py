"""Issue 15 §2: no JSON answer is kept by a browser's or a proxy's cache (`Cache-Control: no-store`), as no HTML
page is: they carry a client's address and request, a dossier's data, a signing secret, or answer a link whose
token is in the URL. A shared computer's back button or a proxy must not show them to the next person."""

import pytest

from chalicelib import privacy_requests
from chalicelib.models import PrivacyRequest

from tests.support import resolve_hooks_publicly

CLIENT = "alice@client.example"


def not_stored(answer) -> None:
    assert answer.headers.get("Cache-Control") == "no-store", dict(answer.headers)


def status_path(api, team) -> str:
    request_id = api.verified_request(team, CLIENT)
    token = privacy_requests.status_token(PrivacyRequest.get(team.id, request_id))
    return f"/portal/privacy/requests/{request_id}?token={token}"


def test_the_clients_status_answer_is_not_stored(api, team):
    answer = api.get(status_path(api, team))
    assert answer.status_code == 200 and answer.json_body["status"], answer.body
    not_stored(answer)


def test_the_clients_cancel_answer_is_not_stored(api, team):
    path, _, query = status_path(api, team).partition("?")
    answer = api.post(f"{path}/cancel?{query}")
    assert answer.status_code == 200 and answer.json_body["status"] == "cancelled", answer.body
    not_stored(answer)


def test_the_portal_receipt_is_not_stored(api, team):
    answer = api.submit(team, CLIENT)
    assert answer.status_code == 202, answer.body
    not_stored(answer)


def test_a_request_as_the_team_reads_it_is_not_stored(api, team):
    request_id = api.verified_request(team, CLIENT)
    answer = api.get(f"/teams/{team.id}/privacy/requests/{request_id}", token=team.token)
    assert answer.status_code == 200 and answer.json_body["email"] == CLIENT, answer.body
    not_stored(answer)


def test_a_dossier_is_not_stored(api, team):
    dossier = api.new_dossier(team, CLIENT)
    answer = api.get(f"/teams/{team.id}/dossiers/{dossier['dossier_id']}", token=team.token)
    assert answer.status_code == 200, answer.body
    not_stored(answer)


@pytest.fixture
def public_dns(monkeypatch):
    resolve_hooks_publicly(monkeypatch)


def test_a_webhooks_signing_secret_is_not_stored(api, team, public_dns):
    body = {"name": "CRM", "kind": "webhook", "url": "https://hooks.example.com/privacy"}
    answer = api.put(f"/teams/{team.id}/privacy/systems/crm", body, token=team.token)
    assert answer.status_code == 201 and answer.json_body["secret"], answer.body
    not_stored(answer)


def test_a_json_error_is_not_stored(api, team):
    answer = api.get(f"/teams/{team.id}/privacy/requests/r_missing", token=team.token)
    assert answer.status_code == 404, answer.body
    not_stored(answer)
