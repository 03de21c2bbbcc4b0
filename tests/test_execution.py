"""Issue 2 §6–7: executing a verified request, what an erasure deletes (and what it must not), the client's
notice, and the requests list (newest first, ?status=, pagination)."""
import pytest
from botocore.exceptions import ClientError

from chalicelib import aws, config
from tests.support import error_shape


def settings_path(team):
    return f"/teams/{team.id}/privacy/settings"


def requests_path(team, query=""):
    return f"/teams/{team.id}/privacy/requests" + (f"?{query}" if query else "")


def s3_exists(key: str) -> bool:
    try:
        aws.s3().head_object(Bucket=config.get("DOCUMENTS_BUCKET"), Key=key)
        return True
    except ClientError:
        return False


def dossier_exists(api, team, dossier_id) -> bool:
    answer = api.get(f"/teams/{team.id}/dossiers/{dossier_id}", token=team.token)
    assert answer.status_code in (200, 404), answer.body
    return answer.status_code == 200


def deletion_notices(api, email):
    return [m for m in api.mail_to(email) if "deleted" in m["subject"].lower()]


# --- the request resource ----------------------------------------------------------------------------------------

def test_a_request_carries_its_id_type_status_email_received_and_due(api, team):
    request_id = api.verified_request(team, "alice@client.example")
    request = api.request_view(team, request_id)
    assert request["request_id"] == request_id
    assert request["type"] == "erasure"
    assert request["status"] == "pending"
    assert request["email"] == "alice@client.example"
    assert request["received_at"]
    assert request["due_at"] > request["received_at"]
    assert request["result"] is None


def test_unknown_request_is_404(api, team):
    answer = api.get(requests_path(team) + "/r_nope", token=team.token)
    assert answer.status_code == 404
    error_shape(answer)


def test_another_teams_request_is_404_through_this_team(api, team):
    other = api.new_team("Other", "admin@other.example")
    theirs = api.verified_request(other, "alice@client.example")
    assert api.get(requests_path(team) + f"/{theirs}", token=team.token).status_code == 404
    assert api.execute(team, theirs).status_code == 404
    assert api.request_view(other, theirs)["status"] == "pending"


# --- executing ---------------------------------------------------------------------------------------------------

def test_execute_with_confirm_completes_the_request_with_its_result(api, team):
    dossier = api.new_dossier(team, "alice@client.example")
    api.add_document(team, dossier["dossier_id"])
    request_id = api.verified_request(team, "alice@client.example")
    answer = api.execute(team, request_id)
    assert answer.status_code == 202, answer.body
    assert answer.json_body["request_id"] == request_id
    assert answer.json_body["status"] == "in_progress"  # answered at once; the worker then did the work
    stored = api.request_view(team, request_id)
    assert stored["status"] == "completed"
    assert stored["result"] == {"dossiers_deleted": 1, "documents_deleted": 1, "exports_deleted": 0}
    assert stored["completed_at"]
    assert stored["executed_by"] == {"kind": "member", "id": team.admin_id}


@pytest.mark.parametrize("body", [{}, {"confirm": False}, {"confirm": "true"}, {"confirm": 1}])
def test_execute_without_confirm_true_is_400_and_changes_nothing(api, team, body):
    api.new_dossier(team, "alice@client.example")
    request_id = api.verified_request(team, "alice@client.example")
    before = api.state()
    answer = api.execute(team, request_id, body=body)
    assert answer.status_code == 400, answer.body
    error_shape(answer)
    assert api.state() == before


def test_execute_with_an_empty_body_is_400(api, team):
    request_id = api.verified_request(team, "alice@client.example")
    answer = api.post(requests_path(team) + f"/{request_id}/execute", raw=b"", token=team.token)
    assert answer.status_code == 400
    assert api.request_view(team, request_id)["status"] == "pending"


def test_executing_an_executed_request_again_is_409(api, team):
    request_id = api.verified_request(team, "alice@client.example")
    assert api.execute(team, request_id).status_code == 202
    before = api.state()
    again = api.execute(team, request_id)
    assert again.status_code == 409
    error_shape(again)
    assert api.state() == before


def test_an_unverified_request_cannot_be_executed(api, team):
    dossier = api.new_dossier(team, "alice@client.example")
    request_id = api.submit(team, "alice@client.example").json_body["request_id"]
    answer = api.execute(team, request_id)
    assert answer.status_code == 409
    assert dossier_exists(api, team, dossier["dossier_id"])
    assert api.request_view(team, request_id)["status"] == "awaiting_verification"


def test_a_member_who_is_neither_admin_nor_officer_cannot_execute(api, team):
    token = api.add_member(team, "m1", "m1@team.example")
    dossier = api.new_dossier(team, "alice@client.example")
    request_id = api.verified_request(team, "alice@client.example")
    before = api.state()
    answer = api.execute(team, request_id, token=token)
    assert answer.status_code == 403
    error_shape(answer)
    assert api.state() == before
    assert dossier_exists(api, team, dossier["dossier_id"])


def test_the_privacy_officer_with_member_role_may_execute(api, team):
    officer = api.add_member(team, "dpo", "dpo@team.example", role="member")
    api.patch(settings_path(team), {"privacy_officer_id": "dpo"}, token=team.token)
    request_id = api.verified_request(team, "alice@client.example")
    assert api.executed(team, request_id, token=officer)["executed_by"] == {"kind": "member", "id": "dpo"}


def test_an_admin_may_execute_even_when_an_officer_is_set(api, team):
    api.add_member(team, "dpo", "dpo@team.example")
    api.patch(settings_path(team), {"privacy_officer_id": "dpo"}, token=team.token)
    request_id = api.verified_request(team, "alice@client.example")
    assert api.execute(team, request_id).status_code == 202


def test_a_former_officer_may_no_longer_execute(api, team):
    officer = api.add_member(team, "dpo", "dpo@team.example")
    api.patch(settings_path(team), {"privacy_officer_id": "dpo"}, token=team.token)
    api.patch(settings_path(team), {"privacy_officer_id": None}, token=team.token)
    request_id = api.verified_request(team, "alice@client.example")
    assert api.execute(team, request_id, token=officer).status_code == 403


# --- what an erasure deletes --------------------------------------------------------------------------------------

def test_erasure_deletes_every_dossier_of_the_client_in_this_team(api, team):
    first = api.new_dossier(team, "alice@client.example")
    second = api.new_dossier(team, "ALICE@client.example ")
    request_id = api.verified_request(team, "alice@client.example")
    assert api.executed(team, request_id)["result"]["dossiers_deleted"] == 2
    assert not dossier_exists(api, team, first["dossier_id"])
    assert not dossier_exists(api, team, second["dossier_id"])


def test_erasure_keeps_another_clients_dossier(api, team):
    api.new_dossier(team, "alice@client.example")
    bob = api.new_dossier(team, "bob@client.example")
    plus = api.new_dossier(team, "alice+work@client.example")
    dots = api.new_dossier(team, "a.lice@client.example")
    request_id = api.verified_request(team, "alice@client.example")
    api.execute(team, request_id)
    for kept in (bob, plus, dots):
        assert dossier_exists(api, team, kept["dossier_id"]), kept["client_email"]


def test_erasure_keeps_another_teams_dossier_with_the_same_email(api, team):
    other = api.new_team("Other", "admin@other.example")
    mine = api.new_dossier(team, "alice@client.example")
    theirs = api.new_dossier(other, "alice@client.example")
    their_doc = api.add_document(other, theirs["dossier_id"])
    request_id = api.verified_request(team, "alice@client.example")
    api.execute(team, request_id)
    assert not dossier_exists(api, team, mine["dossier_id"])
    assert dossier_exists(api, other, theirs["dossier_id"])
    assert api.s3_keys(f"teams/{other.id}/dossiers/{theirs['dossier_id']}/") != []
    assert their_doc["document_id"] in api.s3_keys(f"teams/{other.id}/")[0]


def test_erasure_deletes_the_clients_s3_documents_and_keeps_the_others(api, team):
    alice = api.new_dossier(team, "alice@client.example")
    bob = api.new_dossier(team, "bob@client.example")
    api.add_document(team, alice["dossier_id"], content=b"alice passport")
    api.add_document(team, alice["dossier_id"], content=b"alice payslip", filename="payslip.pdf")
    api.add_document(team, bob["dossier_id"], content=b"bob passport")
    alice_keys = api.s3_keys(f"teams/{team.id}/dossiers/{alice['dossier_id']}/")
    bob_keys = api.s3_keys(f"teams/{team.id}/dossiers/{bob['dossier_id']}/")
    assert len(alice_keys) == 2 and len(bob_keys) == 1
    request_id = api.verified_request(team, "alice@client.example")
    api.execute(team, request_id)
    assert not any(s3_exists(k) for k in alice_keys)
    assert all(s3_exists(k) for k in bob_keys)


def test_erasure_deletes_the_consent_records_with_the_dossiers(api, team):
    api.patch(settings_path(team), {"consent_capture_enabled": True, "consent_text": "I agree."}, token=team.token)
    api.new_dossier(team, "alice@client.example", consent={"accepted": True})
    request_id = api.verified_request(team, "alice@client.example")
    api.execute(team, request_id)
    stored = "".join(item for table in api.state().values() for item in table)
    assert "accepted_at" not in stored  # the consent record went with its dossier (the team's wordings stay)


def test_erasure_result_counts_dossiers_and_documents(api, team):
    for n in range(3):
        dossier = api.new_dossier(team, "alice@client.example", title=f"File {n}")
        for _ in range(n):
            api.add_document(team, dossier["dossier_id"])
    request_id = api.verified_request(team, "alice@client.example")
    result = api.executed(team, request_id)["result"]
    assert result == {"dossiers_deleted": 3, "documents_deleted": 3, "exports_deleted": 0}


def test_erasure_of_a_client_without_dossiers_completes_with_zero_counts(api, team):
    request_id = api.verified_request(team, "nobody@client.example")
    assert api.executed(team, request_id)["result"] == {"dossiers_deleted": 0, "documents_deleted": 0,
                                                         "exports_deleted": 0}


def test_erasure_deletes_more_dossiers_than_one_batch(api, team):
    from chalicelib import purge

    created = [api.new_dossier(team, "alice@client.example", title=f"F{n}") for n in range(purge.BATCH + 3)]
    request_id = api.verified_request(team, "alice@client.example")
    result = api.executed(team, request_id)["result"]
    assert result["dossiers_deleted"] == len(created)
    listed = api.get(f"/teams/{team.id}/dossiers?client_email=alice@client.example", token=team.token).json_body
    assert listed["items"] == []


def test_a_failed_erasure_records_the_reason_and_executing_again_finishes(api, team, monkeypatch):
    from chalicelib import purge

    first = api.new_dossier(team, "alice@client.example")
    api.add_document(team, first["dossier_id"])
    request_id = api.verified_request(team, "alice@client.example")
    real = purge._delete

    def broken(page, keys):
        raise purge.PurgeError("S3 is down")

    monkeypatch.setattr(purge, "_delete", broken)
    assert api.execute(team, request_id).status_code == 202  # the worker's failure is recorded, not answered
    stored = api.request_view(team, request_id)
    assert stored["status"] == "failed"
    assert "S3 is down" in stored["failure_reason"]
    assert dossier_exists(api, team, first["dossier_id"])

    monkeypatch.setattr(purge, "_delete", real)
    done = api.executed(team, request_id)
    assert done["status"] == "completed"
    assert done["result"] == {"dossiers_deleted": 1, "documents_deleted": 1, "exports_deleted": 0}
    assert not dossier_exists(api, team, first["dossier_id"])


# --- the client's notice ------------------------------------------------------------------------------------------

def test_the_client_is_told_once_after_execution(api, team):
    api.new_dossier(team, "alice@client.example")
    request_id = api.verified_request(team, "alice@client.example")
    api.execute(team, request_id)
    records = api.stream_records()
    api.deliver(records)
    api.deliver(records)
    assert len(deletion_notices(api, "alice@client.example")) == 1


def test_a_refused_second_execution_sends_no_second_notice(api, team):
    request_id = api.verified_request(team, "alice@client.example")
    api.execute(team, request_id)
    api.pump()
    api.execute(team, request_id)
    api.pump()
    assert len(deletion_notices(api, "alice@client.example")) == 1


# --- the requests list ---------------------------------------------------------------------------------------------

def submit_many(api, team, count, prefix="c"):
    ids = []
    for n in range(count):
        answer = api.submit(team, f"{prefix}{n}@client.example")
        assert answer.status_code == 202, answer.body
        ids.append(answer.json_body["request_id"])
    return ids


def walk(api, team, query=""):
    """Every page of the list, following `next`; returns (items, pages)."""
    items, pages, cursor = [], 0, None
    while True:
        parts = [q for q in (query, f"next={cursor}" if cursor else "") if q]
        answer = api.get(requests_path(team, "&".join(parts)), token=team.token)
        assert answer.status_code == 200, answer.body
        assert set(answer.json_body) == {"items", "next"}
        items.extend(answer.json_body["items"])
        pages += 1
        cursor = answer.json_body["next"]
        if not cursor:
            return items, pages


def test_requests_list_answers_items_and_next(api, team):
    api.submit(team, "alice@client.example")
    body = api.get(requests_path(team), token=team.token).json_body
    assert set(body) == {"items", "next"}
    assert len(body["items"]) == 1
    assert body["next"] is None


def test_requests_list_of_a_team_without_requests_is_empty(api, team):
    assert api.get(requests_path(team), token=team.token).json_body == {"items": [], "next": None}


def test_requests_are_listed_newest_first(api, team):
    ids = submit_many(api, team, 4)
    items = api.get(requests_path(team), token=team.token).json_body["items"]
    assert [r["request_id"] for r in items] == list(reversed(ids))


def test_requests_list_shows_only_this_teams_requests(api, team):
    other = api.new_team("Other", "admin@other.example")
    mine = api.submit(team, "alice@client.example").json_body["request_id"]
    api.submit(other, "alice@client.example")
    items = api.get(requests_path(team), token=team.token).json_body["items"]
    assert [r["request_id"] for r in items] == [mine]


def test_requests_list_filters_by_status(api, team):
    awaiting = api.submit(team, "a@client.example").json_body["request_id"]
    pending = api.verified_request(team, "p@client.example")
    completed = api.verified_request(team, "c@client.example")
    api.execute(team, completed)
    for status, expected in (("awaiting_verification", awaiting), ("pending", pending), ("completed", completed)):
        items = api.get(requests_path(team, f"status={status}"), token=team.token).json_body["items"]
        assert [r["request_id"] for r in items] == [expected], status
        assert all(r["status"] == status for r in items)


def test_requests_list_with_an_unknown_status_is_400(api, team):
    answer = api.get(requests_path(team, "status=nonsense"), token=team.token)
    assert answer.status_code == 400
    error_shape(answer)


def test_requests_list_paginates_more_than_a_page_with_next(api, team):
    from chalicelib import privacy_requests

    ids = submit_many(api, team, privacy_requests.PAGE_SIZE + 2)
    first = api.get(requests_path(team), token=team.token).json_body
    assert len(first["items"]) == privacy_requests.PAGE_SIZE
    assert first["next"]
    items, pages = walk(api, team)
    assert pages == 2
    assert [r["request_id"] for r in items] == list(reversed(ids))


def test_requests_list_small_pages_follow_next_to_the_end_newest_first(api, team, monkeypatch):
    from chalicelib import privacy_requests

    monkeypatch.setattr(privacy_requests, "PAGE_SIZE", 2)
    ids = submit_many(api, team, 5)
    items, pages = walk(api, team)
    assert pages >= 3
    assert [r["request_id"] for r in items] == list(reversed(ids))


def test_requests_list_status_filter_paginates_too(api, team, monkeypatch):
    from chalicelib import privacy_requests

    monkeypatch.setattr(privacy_requests, "PAGE_SIZE", 2)
    ids = submit_many(api, team, 5)
    items, pages = walk(api, team, "status=awaiting_verification")
    assert pages >= 3
    assert [r["request_id"] for r in items] == list(reversed(ids))


@pytest.mark.parametrize("cursor", ["garbage", "eyJub3QiOiAiYSBjdXJzb3IifQ", "W10", "%%%", "bnVsbA"])
def test_requests_list_with_a_bad_cursor_is_400(api, team, cursor):
    answer = api.get(requests_path(team, f"next={cursor}"), token=team.token)
    assert answer.status_code == 400, answer.body
    error_shape(answer)


def test_dossiers_list_with_a_bad_cursor_is_400(api, team):
    answer = api.get(f"/teams/{team.id}/dossiers?next=garbage", token=team.token)
    assert answer.status_code == 400
    error_shape(answer)


def encode_cursor(value) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_requests_list_with_a_well_formed_cursor_of_other_keys_is_400(api, team):
    other = api.new_team("Other", "admin@other.example")
    submit_many(api, team, 2)
    forged = [
        {"foo": {"S": "x"}},
        {"team_id": {"S": team.id}},
        {"team_id": {"S": other.id}, "request_id": {"S": "r_1"}},
        {"team_id": {"S": team.id}, "request_id": {"S": "r_1"}, "extra": {"S": "x"}},
    ]
    for cursor in forged:
        for query in ("", "status=awaiting_verification&"):
            answer = api.get(requests_path(team, f"{query}next={encode_cursor(cursor)}"), token=team.token)
            assert answer.status_code == 400, (cursor, query, answer.body)
            error_shape(answer)


def test_a_cursor_of_one_status_does_not_continue_another(api, team, monkeypatch):
    from chalicelib import privacy_requests

    monkeypatch.setattr(privacy_requests, "PAGE_SIZE", 1)
    submit_many(api, team, 3)
    cursor = api.get(requests_path(team, "status=awaiting_verification"), token=team.token).json_body["next"]
    assert cursor
    assert api.get(requests_path(team, f"status=pending&next={cursor}"), token=team.token).status_code == 400


def test_an_erasure_that_failed_halfway_resumes_and_counts_everything(api, team, monkeypatch):
    from chalicelib import purge

    monkeypatch.setattr(purge, "BATCH", 1)
    created = [api.new_dossier(team, "alice@client.example", title=f"F{n}") for n in range(3)]
    for dossier in created:
        api.add_document(team, dossier["dossier_id"])
    request_id = api.verified_request(team, "alice@client.example")
    real, calls = purge._delete, []

    def fails_on_second_page(page, keys):
        calls.append(len(page))
        if len(calls) == 2:
            raise purge.PurgeError("S3 refused")
        return real(page, keys)

    monkeypatch.setattr(purge, "_delete", fails_on_second_page)
    assert api.execute(team, request_id).status_code == 202
    failed = api.request_view(team, request_id)
    assert failed["status"] == "failed"
    assert failed["progress"]["dossiers_deleted"] == 1
    monkeypatch.setattr(purge, "_delete", real)
    done = api.executed(team, request_id)
    assert done["status"] == "completed"
    assert done["result"] == {"dossiers_deleted": 3, "documents_deleted": 3, "exports_deleted": 0}
    assert api.s3_keys(f"teams/{team.id}/") == []


def test_erasure_finds_dossiers_with_a_query_and_deletes_in_batches_never_a_scan(api, team, monkeypatch):
    from pynamodb.connection.base import Connection

    for n in range(3):
        api.new_dossier(team, "alice@client.example", title=f"F{n}")
    request_id = api.verified_request(team, "alice@client.example")

    def forbidden(*args, **kwargs):
        raise AssertionError("erasure must not Scan nor delete items one by one")

    monkeypatch.setattr(Connection, "scan", forbidden)
    monkeypatch.setattr(Connection, "delete_item", forbidden)
    assert api.executed(team, request_id)["result"]["dossiers_deleted"] == 3


def test_execution_moves_the_request_through_in_progress_to_completed(api, team):
    from chalicelib.models import PrivacyRequest

    request_id = api.verified_request(team, "alice@client.example")
    api.execute(team, request_id)
    statuses = []
    for record in api.stream_records():
        image = record["dynamodb"].get("NewImage")
        if image and image["request_id"]["S"] == request_id:
            status = PrivacyRequest.from_raw_data(image).status
            if not statuses or statuses[-1] != status:
                statuses.append(status)
    assert statuses == ["in_progress", "completed"]
    assert api.request_view(team, request_id)["status"] == "completed"
