"""Art. 19 and Art. 5(2): a request's record proves the work — a hash chain that shows any edited or removed
entry, readable through GET .../record, checkable offline, and naming the client only by a keyed hash."""
import datetime as dt
import io
import json

import pytest

from chalicelib import actors, aws, cli, clock, config, emails, housekeeping, notifications, request_record, signing_keys
from chalicelib import privacy_requests as pr
from chalicelib.errors import Conflict
from chalicelib.models import PrivacyRequest
from tests.test_hostile_mail import _ses_rejecting

CLIENT = "zelda.record-proof@client.example"


def _record(api, team, request_id) -> dict:
    answer = api.get(f"/teams/{team.id}/privacy/requests/{request_id}/record", token=team.token)
    assert answer.status_code == 200, answer.body
    return answer.json_body


def _completed_erasure(api, team) -> str:
    request_id = api.verified_request(team, CLIENT, "erasure")
    api.executed(team, request_id)
    api.pump()  # the client's notice
    return request_id


def _tamper(team, request_id, expression: str, values: dict | None = None, names: dict | None = None) -> None:
    """Change the stored item behind the product's back, as someone with table access could."""
    kwargs = {"TableName": config.get("REQUESTS_TABLE"),
              "Key": {"team_id": {"S": team.id}, "request_id": {"S": request_id}}, "UpdateExpression": expression}
    if values:
        kwargs["ExpressionAttributeValues"] = values
    if names:
        kwargs["ExpressionAttributeNames"] = names
    aws.client("dynamodb").update_item(**kwargs)


def _verify_file(capsys, tmp_path, data: dict) -> tuple[int, str]:
    path = tmp_path / "record.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    status = cli.main(["verify-record", str(path)])
    return status, capsys.readouterr().out


# --- a request's life ---------------------------------------------------------------------------------------

def test_a_completed_request_has_a_record_that_verifies_with_every_step(api, team):
    request_id = _completed_erasure(api, team)
    record = _record(api, team, request_id)
    assert record["verifies"] is True and record["problem"] is None and record["at_seq"] is None
    events = [e["event"] for e in record["entries"]]
    for step in ("received", "verified", "execution_started", "completed", "notice_sent"):
        assert step in events, events
    assert [e["seq"] for e in record["entries"]] == list(range(len(events)))
    assert record["head"] == record["entries"][-1]["hash"]


def test_the_first_entry_binds_the_record_to_its_request_and_names_the_client_by_a_keyed_hash(api, team):
    request_id = api.verified_request(team, CLIENT, "access")
    first = _record(api, team, request_id)["entries"][0]
    assert first["event"] == "received" and first["prev"] == request_record.GENESIS
    assert (first["team_id"], first["request_id"], first["type"]) == (team.id, request_id, "access")
    assert first["client"] == emails.pseudonym(CLIENT)


def test_the_notice_is_recorded_once_however_often_it_is_recorded(api, team):
    request_id = _completed_erasure(api, team)
    item = pr.get_item(team.id, request_id, consistent=True)
    notifications.record_notice(item, "client_completed_erasure")
    notifications.record_notice(pr.get_item(team.id, request_id, consistent=True), "client_completed_erasure")
    record = _record(api, team, request_id)
    assert [e["event"] for e in record["entries"]].count("notice_sent") == 1
    assert record["verifies"] is True


def test_the_record_is_the_history_the_request_shows(api, team):
    request_id = _completed_erasure(api, team)
    assert _record(api, team, request_id)["entries"] == api.request_view(team, request_id)["history"]


def test_a_record_is_only_for_the_teams_members(api, team):
    request_id = api.verified_request(team, CLIENT, "access")
    other = api.new_team("Other", "admin@other.example")
    assert api.get(f"/teams/{team.id}/privacy/requests/{request_id}/record").status_code == 401
    assert api.get(f"/teams/{team.id}/privacy/requests/{request_id}/record", token=other.token).status_code == 403


# --- tampering ------------------------------------------------------------------------------------------------

def test_editing_one_entry_in_the_table_makes_the_record_fail_at_that_entry(api, team):
    request_id = _completed_erasure(api, team)
    _tamper(team, request_id, "SET history[1].#by = :v", {":v": {"S": "someone-else"}}, {"#by": "by"})
    record = _record(api, team, request_id)
    assert record["verifies"] is False and record["at_seq"] == 1
    assert "altered" in record["problem"]


def test_removing_a_middle_entry_makes_the_record_fail(api, team):
    request_id = _completed_erasure(api, team)
    _tamper(team, request_id, "REMOVE history[2]")
    record = _record(api, team, request_id)
    assert record["verifies"] is False and record["at_seq"] == 2


def test_removing_the_last_entry_makes_the_record_fail_against_its_stored_head(api, team):
    request_id = _completed_erasure(api, team)
    count = len(_record(api, team, request_id)["entries"])
    _tamper(team, request_id, f"REMOVE history[{count - 1}]")
    record = _record(api, team, request_id)
    assert record["verifies"] is False and record["at_seq"] == count - 1
    assert "removed from its end" in record["problem"]


def test_an_entry_rewritten_with_a_recomputed_mac_still_breaks_the_next_one(api, team):
    request_id = _completed_erasure(api, team)
    entries = _record(api, team, request_id)["entries"]
    forged = dict(entries[1], by=actors.member("someone-else"))
    forged["hash"] = request_record.entry_mac(forged, signing_keys.record_key().key)
    entries[1] = forged
    verdict = request_record.verify(entries, keys=signing_keys.record_key_for)
    assert verdict["verifies"] is False and verdict["at_seq"] == 2


# --- offline, from the command line -----------------------------------------------------------------------------

def test_the_cli_verifies_a_good_record_with_the_stages_key(api, team, capsys, tmp_path):
    record = _record(api, team, _completed_erasure(api, team))
    status, out = _verify_file(capsys, tmp_path, record)
    assert status == 0 and out.startswith("verifies:")


def test_the_cli_rejects_a_tampered_record(api, team, capsys, tmp_path):
    record = _record(api, team, _completed_erasure(api, team))
    record["entries"][1]["at"] = "2020-01-01T00:00:00Z"
    status, out = _verify_file(capsys, tmp_path, record)
    assert status == 1 and "does NOT verify" in out and "seq 1" in out


def test_the_cli_rejects_a_record_cut_short_before_its_head(api, team, capsys, tmp_path):
    record = _record(api, team, _completed_erasure(api, team))
    record["entries"].pop()
    status, _ = _verify_file(capsys, tmp_path, record)
    assert status == 1


def test_the_cli_reads_a_record_from_stdin(api, team, capsys, monkeypatch):
    record = _record(api, team, _completed_erasure(api, team))
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(record)))
    assert cli.main(["verify-record", "-"]) == 0


# --- what the record keeps of the client ---------------------------------------------------------------------

def test_no_entry_holds_the_clients_address(api, team):
    request_id = api.verified_request(team, CLIENT, "access", message="please, Zelda here")
    api.executed(team, request_id)
    api.pump()
    dumped = json.dumps(_record(api, team, request_id))
    assert CLIENT not in dumped and "zelda" not in dumped.lower()


def test_a_pseudonymised_request_keeps_a_record_that_verifies_and_holds_no_address(api, team):
    request_id = _completed_erasure(api, team)
    housekeeping.run(clock.now() + dt.timedelta(minutes=3))  # the erasure's sweep
    housekeeping.run(clock.now() + dt.timedelta(days=31))  # past retention: pseudonymised
    record = _record(api, team, request_id)
    events = [e["event"] for e in record["entries"]]
    assert events[-2:] == ["erasure_swept", "pseudonymised"]
    assert record["verifies"] is True
    assert CLIENT not in json.dumps(record)
    assert record["entries"][0]["client"] == api.request_view(team, request_id)["email"]


def test_an_entry_that_would_hold_the_address_holds_its_keyed_hash_instead(api, team):
    item = pr.get_item(team.id, api.verified_request(team, CLIENT, "access"), consistent=True)
    entry = pr.record(item, "oops", actors.member(f"member-{CLIENT}"), to=CLIENT).entry
    assert CLIENT not in json.dumps(entry)
    assert entry["to"] == emails.pseudonym(CLIENT) and entry["by"]["id"] == f"member-{emails.pseudonym(CLIENT)}"


def test_a_member_whose_id_is_the_clients_address_can_still_act(api, team):
    """An odd team may name members by address; one handling their own address's request gets no 500."""
    api.add_member(team, CLIENT, "officer@team.example", role="admin")
    from chalicelib import teams

    token = teams.bearer_token(team.id, CLIENT)
    request_id = api.verified_request(team, CLIENT, "erasure")
    assert api.execute(team, request_id, token=token).status_code == 202
    api.pump()
    assert api.request_view(team, request_id)["status"] == "completed"
    record = api.get(f"/teams/{team.id}/privacy/requests/{request_id}/record", token=team.token).json_body
    assert record["verifies"] and CLIENT not in json.dumps(record["entries"])


# --- concurrent appends -----------------------------------------------------------------------------------------

def test_an_append_on_a_stale_read_is_chained_again_instead_of_forking(api, team, monkeypatch):
    request_id = api.verified_request(team, CLIENT, "access")
    stale = pr.get_item(team.id, request_id, consistent=True)
    # Meanwhile the stream records an alert on the same request: the head moves on.
    notifications._record_failure(pr.get_item(team.id, request_id, consistent=True), "client_receipt", "client",
                                  "rejected")
    writes = []
    real = PrivacyRequest.update

    def counting(self, *args, **kwargs):
        writes.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(PrivacyRequest, "update", counting)
    pr.start(stale, actors.member(team.admin_id))
    assert len(writes) == 2  # refused on the stale head, then chained onto the fresh one
    record = _record(api, team, request_id)
    assert record["verifies"] is True
    assert [e["event"] for e in record["entries"]][-2:] == ["email_failed", "execution_started"]


def test_a_stale_read_whose_status_moved_on_still_gets_its_conflict(api, team):
    request_id = api.verified_request(team, CLIENT, "access")
    stale = pr.get_item(team.id, request_id, consistent=True)
    pr.start(pr.get_item(team.id, request_id, consistent=True), actors.member(team.admin_id))
    with pytest.raises(Conflict):
        pr.start(stale, actors.member(team.admin_id))
    record = _record(api, team, request_id)
    assert [e["event"] for e in record["entries"]].count("execution_started") == 1 and record["verifies"]


def test_a_stale_extension_is_still_refused_when_another_extension_came_first(api, team, monkeypatch):
    request_id = api.verified_request(team, CLIENT, "access")
    path = f"/teams/{team.id}/privacy/requests/{request_id}/extend"
    stale = pr.get_item(team.id, request_id, consistent=True)
    assert api.post(path, {"months": 1, "reason": "busy"}, token=team.token).status_code == 200
    real_get = pr.get_item
    calls = []

    def stale_first(*args, **kwargs):
        calls.append(1)
        return stale if len(calls) == 1 else real_get(*args, **kwargs)

    monkeypatch.setattr(pr, "get_item", stale_first)
    answer = api.post(path, {"months": 1, "reason": "busy too"}, token=team.token)
    assert answer.status_code == 409, answer.body
    record = _record(api, team, request_id)
    assert [e["event"] for e in record["entries"]].count("extended") == 1 and record["verifies"]


# --- alerts -------------------------------------------------------------------------------------------------------

def test_an_email_failed_alert_is_chained_like_any_entry(api, team, monkeypatch):
    request_id = api.submit(team, CLIENT).json_body["request_id"]
    monkeypatch.setattr("chalicelib.mailer.aws.ses", _ses_rejecting(CLIENT))
    api.pump()
    record = _record(api, team, request_id)
    failed = [e for e in record["entries"] if e["event"] == "email_failed"]
    assert len(failed) == 1 and failed[0]["recipient"] == "client" and failed[0]["email"] == "verify"
    assert failed[0]["prev"] == record["entries"][failed[0]["seq"] - 1]["hash"]
    assert record["verifies"] is True and CLIENT not in json.dumps(record)


def test_a_request_from_before_the_chain_still_moves_on_and_its_record_says_why_it_does_not_verify(api, team):
    request_id = api.verified_request(team, CLIENT, "access")
    _tamper(team, request_id, "SET history = :old REMOVE history_head", {":old": {"L": [{"M": {
        "at": {"S": "2026-01-01T00:00:00Z"}, "event": {"S": "received"}, "by": {"S": "client"}}}]}})
    assert api.post(f"/teams/{team.id}/privacy/requests/{request_id}/extend", {"months": 1, "reason": "busy"},
                    token=team.token).status_code == 200
    record = _record(api, team, request_id)
    assert [e["event"] for e in record["entries"]] == ["received", "extended"]
    assert record["verifies"] is False and record["at_seq"] == 0 and "no hash" in record["problem"]
