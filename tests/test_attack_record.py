"""Issue 15, finding 2: a request's record was not tamper-evident against whoever can write the requests table:
rewriting `history` and `history_head` with recomputed hashes still verified. Each test replays a rewrite and
states what GET .../record (and the offline check) now answers; the last ones show a genuine record verifying
across key rotations."""
import datetime as dt
import hashlib
import hmac
import json

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer

from chalicelib import aws, cli, clock, config, emails, housekeeping, request_record, signing_keys, teams
from tests.test_signing_keys import STRONG_1, keys_json

CLIENT = "yara.tamper@client.example"


def completed_erasure(api, team) -> str:
    request_id = api.verified_request(team, CLIENT, "erasure")
    api.executed(team, request_id)
    api.pump()  # the client's notice
    return request_id


def record(api, team, request_id) -> dict:
    answer = api.get(f"/teams/{team.id}/privacy/requests/{request_id}/record", token=team.token)
    assert answer.status_code == 200, answer.body
    return answer.json_body


def write(team, request_id, expression: str, values: dict) -> None:
    """Change the stored item behind the product's back, as someone with write access to the table could."""
    serializer = TypeSerializer()
    names = {"ExpressionAttributeNames": {"#type": "type"}} if "#type" in expression else {}
    aws.client("dynamodb").update_item(
        TableName=config.get("REQUESTS_TABLE"), Key={"team_id": {"S": team.id}, "request_id": {"S": request_id}},
        UpdateExpression=expression, **names,
        ExpressionAttributeValues={name: serializer.serialize(value) for name, value in values.items()})


def store(team, request_id, entries: list) -> None:
    write(team, request_id, "SET history = :h, history_head = :head", {":h": entries, ":head": entries[-1]["hash"]})


def rechained(entries: list, key: str | None = None) -> list:
    """The entries renumbered and linked again, each hash recomputed: plain sha256 as the chain used to be, or
    HMAC with a key the writer guessed (keeping a `kid`)."""
    out, prev = [], request_record.GENESIS
    for seq, entry in enumerate(entries):
        entry = {k: v for k, v in entry.items() if k not in ("hash", "kid")} | {"seq": seq, "prev": prev}
        if key is not None:
            entry["kid"] = request_record.key_id(key)
        body = request_record.canonical(entry)
        entry["hash"] = hmac.new(key.encode(), body, hashlib.sha256).hexdigest() if key else \
            hashlib.sha256(body).hexdigest()
        out.append(entry)
        prev = entry["hash"]
    return out


REBUILDS = {"sha256": None, "a guessed key": "a-key-the-writer-guessed-0123456789abcdef"}


# --- the three rewrites of the finding ---------------------------------------------------------------------------

def test_a_record_cut_back_with_its_head_moved_back_does_not_verify(api, team):
    request_id = completed_erasure(api, team)
    entries = record(api, team, request_id)["entries"]
    kept = entries[:3]  # received, verified, execution_started: genuine entries, genuine hashes
    store(team, request_id, kept)
    answer = record(api, team, request_id)
    assert answer["verifies"] is False
    assert "status" in answer["problem"] and "removed from its end" in answer["problem"]


@pytest.mark.parametrize("rebuild", REBUILDS)
def test_entries_removed_and_the_chain_recomputed_do_not_verify(api, team, rebuild):
    request_id = completed_erasure(api, team)
    entries = record(api, team, request_id)["entries"]
    store(team, request_id, rechained([entries[0], *entries[3:]], REBUILDS[rebuild]))
    assert record(api, team, request_id)["verifies"] is False


@pytest.mark.parametrize("rebuild", REBUILDS)
def test_a_rewritten_first_entry_with_the_chain_recomputed_does_not_verify(api, team, rebuild):
    request_id = completed_erasure(api, team)
    entries = record(api, team, request_id)["entries"]
    entries[0] = dict(entries[0], client=emails.pseudonym("someone.else@client.example"))
    store(team, request_id, rechained(entries, REBUILDS[rebuild]))
    answer = record(api, team, request_id)
    assert answer["verifies"] is False and answer["at_seq"] == 0


# --- the first entry against the request ----------------------------------------------------------------------

@pytest.mark.parametrize("expression, values", [
    ("SET #type = :v", {":v": "access"}),
    ("SET received_at = :v", {":v": "2020-01-01T00:00:00Z"}),
    ("SET email = :v", {":v": "someone.else@client.example"}),
])
def test_a_request_changed_in_the_table_no_longer_matches_its_records_first_entry(api, team, expression, values):
    request_id = completed_erasure(api, team)
    write(team, request_id, expression, values)
    answer = record(api, team, request_id)
    assert answer["verifies"] is False and answer["at_seq"] == 0 and "first entry" in answer["problem"]


def test_a_record_moved_to_another_request_does_not_verify(api, team):
    source = completed_erasure(api, team)
    target = api.verified_request(team, "other@client.example", "erasure")
    store(team, target, record(api, team, source)["entries"])
    assert record(api, team, target)["verifies"] is False


# --- records written before they were keyed ----------------------------------------------------------------------

def test_a_record_from_before_keying_is_readable_but_does_not_verify_even_once_appended_to(api, team):
    request_id = api.verified_request(team, CLIENT, "access")
    store(team, request_id, rechained(record(api, team, request_id)["entries"]))
    answer = record(api, team, request_id)
    assert answer["verifies"] is False and "not keyed" in answer["problem"]
    assert api.post(f"/teams/{team.id}/privacy/requests/{request_id}/extend", {"months": 1, "reason": "busy"},
                    token=team.token).status_code == 200
    answer = record(api, team, request_id)
    assert [e["event"] for e in answer["entries"]] == ["received", "verified", "extended"]
    assert "kid" in answer["entries"][-1] and answer["verifies"] is False


# --- offline -----------------------------------------------------------------------------------------------------

def verify_file(capsys, tmp_path, data: dict, *flags) -> tuple[int, str]:
    path = tmp_path / "record.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    status = cli.main(["verify-record", *flags, str(path)])
    return status, capsys.readouterr().out


def test_offline_a_rebuilt_record_is_refused_with_the_key(api, team, capsys, tmp_path):
    saved = record(api, team, completed_erasure(api, team))
    saved["entries"] = rechained([saved["entries"][0], *saved["entries"][3:]])
    saved["head"] = saved["entries"][-1]["hash"]
    status, out = verify_file(capsys, tmp_path, saved)
    assert status == 1 and "does NOT verify" in out


def test_offline_without_the_key_a_whole_chain_is_only_said_to_hold_together(api, team, capsys, tmp_path):
    saved = record(api, team, completed_erasure(api, team))
    status, out = verify_file(capsys, tmp_path, saved, "--without-key")
    assert status == 2 and "NOT authenticated" in out


# --- rotations ----------------------------------------------------------------------------------------------------

@pytest.fixture
def secret(aws, monkeypatch):
    arn = boto3.client("secretsmanager").create_secret(
        Name="privacy-desk/token-key", SecretString=keys_json(("k1", STRONG_1)))["ARN"]
    monkeypatch.setenv("TOKEN_SECRET_ARN", arn)
    signing_keys.reset()
    yield arn
    signing_keys.reset()


def test_a_genuine_record_still_verifies_after_a_key_rotation(api, secret):
    team = api.new_team()
    request_id = completed_erasure(api, team)
    signing_keys.rotate(secret)  # the admin's token, signed with the previous key, still works
    assert record(api, team, request_id)["verifies"] is True


def test_a_genuine_record_still_verifies_after_two_rotations_and_later_entries(api, secret, monkeypatch):
    monkeypatch.setenv("PSEUDONYM_KEY", "a-pseudonym-key-of-its-own-0123456789abcdef")
    team = api.new_team()
    request_id = api.verified_request(team, CLIENT, "erasure")
    signing_keys.rotate(secret)
    signing_keys.rotate(secret)
    team.token = teams.bearer_token(team.id, team.admin_id)  # the first key, and its tokens, are gone
    api.executed(team, request_id)
    api.pump()
    answer = record(api, team, request_id)
    assert answer["verifies"] is True, answer["problem"]
    assert len({e["kid"] for e in answer["entries"]}) == 1  # one record key, before and after the rotations


def test_a_request_pseudonymised_after_a_rotation_keeps_the_client_hash_its_record_holds(api, secret):
    team = api.new_team()  # no PSEUDONYM_KEY: the client's hash is keyed with the token key, which rotates
    request_id = completed_erasure(api, team)
    signing_keys.rotate(secret)
    housekeeping.run(clock.now() + dt.timedelta(minutes=3))  # the erasure's sweep
    housekeeping.run(clock.now() + dt.timedelta(days=31))  # past retention: pseudonymised
    answer = record(api, team, request_id)
    assert answer["verifies"] is True, answer["problem"]
    assert api.request_view(team, request_id)["email"] == answer["entries"][0]["client"]
