"""Issue 7, point 6: what the data still says after the client's rights were exercised. The team keeps the
proof that requests were received and answered; it stops keeping who the client was."""
import datetime as dt
import json

from chalicelib import clock, housekeeping, purge
from chalicelib.models import Dossier, PrivacyRequest

CLIENT = "erin@client.example"


def _everything(api) -> str:
    return json.dumps(api.state())


def _past_retention():
    return clock.now() + dt.timedelta(days=31)


def test_no_guard_item_holds_a_clients_address(api, team):
    api.new_dossier(team, CLIENT)
    objection = api.verified_request(team, CLIENT, "objection")
    api.execute(team, objection)
    api.submit(team, CLIENT, "access")
    markers = json.dumps(api.state()["privacy-desk-local-markers"])
    assert CLIENT not in markers and "erin" not in markers


def test_an_objection_is_still_honoured_for_new_dossiers_after_pseudonymisation(api, team):
    objection = api.verified_request(team, CLIENT, "objection")
    api.execute(team, objection)
    housekeeping.run(_past_retention())
    assert api.new_dossier(team, CLIENT)["objection"]["request_id"] == objection


def test_after_objection_access_erasure_and_retention_nothing_names_the_client(api, team):
    dossier = api.new_dossier(team, CLIENT)
    api.add_document(team, dossier["dossier_id"])
    for kind in ("objection", "access", "erasure"):
        request_id = api.verified_request(team, CLIENT, kind, message=f"my {kind} request, Erin")
        assert api.execute(team, request_id).status_code == 202
    api.pump()
    housekeeping.run(clock.now() + dt.timedelta(minutes=3))  # the erasure's sweep
    assert CLIENT in _everything(api)  # within retention the team can still answer the client
    housekeeping.run(_past_retention())
    everything = _everything(api)
    assert CLIENT not in everything and "Erin" not in everything


def test_a_pseudonymised_request_keeps_its_proof(api, team):
    request_id = api.verified_request(team, CLIENT, "objection", message="stop the marketing")
    api.execute(team, request_id)
    before = api.request_view(team, request_id)
    housekeeping.run(_past_retention())
    after = api.request_view(team, request_id)
    assert after["email"].startswith("h:") and after["message"] is None
    for kept in ("type", "status", "received_at", "verified_at", "completed_at", "executed_by", "result"):
        assert after[kept] == before[kept], kept
    assert [e["event"] for e in after["history"]][:len(before["history"])] == [e["event"] for e in before["history"]]
    assert after["history"][-1]["event"] == "pseudonymised"


def test_an_open_request_is_never_pseudonymised(api, team):
    request_id = api.verified_request(team, CLIENT, "access")
    housekeeping.run(_past_retention())
    assert api.request_view(team, request_id)["email"] == CLIENT


def test_housekeeping_run_twice_does_nothing_twice(api, team):
    request_id = api.verified_request(team, CLIENT, "objection")
    api.execute(team, request_id)
    assert housekeeping.run(_past_retention())["scrubbed"] == 1
    assert housekeeping.run(_past_retention())["scrubbed"] == 0
    assert [e["event"] for e in api.request_view(team, request_id)["history"]].count("pseudonymised") == 1


# --- the index's lag ---------------------------------------------------------------------------------------------

def _lagging_index(monkeypatch, hidden: set[str]):
    """The by_client index as AWS may serve it for a moment: without the dossiers written just now."""
    real = purge.query_client

    class Page(list):
        last_evaluated_key = None

    def query(team_id, email, last_key=None, limit=None):
        results = real(team_id, email, last_key=last_key, limit=limit)
        page = Page(d for d in results if d.dossier_id not in hidden)
        page.last_evaluated_key = results.last_evaluated_key
        return page

    monkeypatch.setattr(purge, "query_client", query)
    return real


def test_a_dossier_the_lagging_index_hid_from_the_erasure_is_swept_and_recorded(api, team, monkeypatch):
    api.new_dossier(team, CLIENT, title="old")
    late = api.new_dossier(team, CLIENT, title="written a second before the erasure")["dossier_id"]
    api.add_document(team, late)
    request_id = api.verified_request(team, CLIENT)
    real = _lagging_index(monkeypatch, {late})
    assert api.executed(team, request_id)["result"]["dossiers_deleted"] == 1
    assert Dossier.count(team.id) == 1  # missed
    monkeypatch.setattr(purge, "query_client", real)  # the index caught up
    assert housekeeping.run(clock.now() + dt.timedelta(minutes=3))["swept"] == 1
    assert Dossier.count(team.id) == 0
    view = api.request_view(team, request_id)
    assert (view["sweep"]["dossiers_deleted"], view["sweep"]["documents_deleted"]) == (1, 1)
    assert view["history"][-1]["event"] == "erasure_swept"
    assert api.s3_keys("teams/") == []


def test_the_sweep_waits_for_the_index_to_catch_up(api, team):
    request_id = api.verified_request(team, CLIENT)
    api.execute(team, request_id)
    assert housekeeping.run()["swept"] == 0
    assert PrivacyRequest.get(team.id, request_id).chore == "sweep"


def test_the_sweep_leaves_a_dossier_opened_after_the_erasure(api, team, monkeypatch):
    request_id = api.verified_request(team, CLIENT)
    api.execute(team, request_id)
    later = clock.now() + dt.timedelta(seconds=5)
    monkeypatch.setattr(clock, "now", lambda: later)
    api.new_dossier(team, CLIENT, title="a new relationship")
    housekeeping.run(later + dt.timedelta(minutes=3))
    assert Dossier.count(team.id) == 1
    assert api.request_view(team, request_id)["sweep"]["dossiers_deleted"] == 0


def test_an_export_does_not_outlive_its_requests_pseudonymisation(api, team):
    api.new_dossier(team, CLIENT)
    request_id = api.verified_request(team, CLIENT, "access")
    api.execute(team, request_id)
    assert api.s3_keys("exports/")
    housekeeping.run(_past_retention())
    assert api.s3_keys("exports/") == []
    assert api.request_view(team, request_id)["email"].startswith("h:")
