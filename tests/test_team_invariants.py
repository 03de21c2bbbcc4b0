"""Issue 7, point 5: invariants that must hold when two people act at the same moment, and tokens that die
with the member they were issued to."""
import contextlib

from chalicelib import teams
from chalicelib.models import Member, TeamSettings


@contextlib.contextmanager
def _racing(monkeypatch, rival):
    """Run `rival()` after the caller has read everything it reads, just before its first write."""
    real = teams.TransactWrite
    state = {"done": False}

    class Racing(real):
        def __enter__(self):
            if not state["done"]:
                state["done"] = True
                monkeypatch.setattr(teams, "TransactWrite", real)
                rival()
            return super().__enter__()

    monkeypatch.setattr(teams, "TransactWrite", Racing)
    yield
    monkeypatch.setattr(teams, "TransactWrite", real)


def _admins(team_id):
    return sorted(m.member_id for m in teams.list_admins(team_id))


def test_two_admins_demoting_each_other_at_once_leave_one_admin(api, team, monkeypatch):
    other = api.add_member(team, "bea", "bea@team.example", role="admin")
    demote_ada = lambda: api.put(f"/teams/{team.id}/members/{team.admin_id}",  # noqa: E731
                                 {"email": team.admin_email, "name": "Ada", "role": "member"}, token=other)
    with _racing(monkeypatch, demote_ada):
        answer = api.put(f"/teams/{team.id}/members/bea", {"email": "bea@team.example", "name": "Bea",
                                                           "role": "member"}, token=team.token)
    assert answer.status_code == 409
    assert _admins(team.id) == ["bea"]


def test_two_admins_removing_each_other_at_once_leave_one_admin(api, team, monkeypatch):
    other = api.add_member(team, "bea", "bea@team.example", role="admin")
    remove_ada = lambda: api.delete(f"/teams/{team.id}/members/{team.admin_id}", token=other)  # noqa: E731
    with _racing(monkeypatch, remove_ada):
        answer = api.delete(f"/teams/{team.id}/members/bea", token=team.token)
    assert answer.status_code in (401, 409)
    assert _admins(team.id) == ["bea"]


def test_the_last_admin_cannot_be_demoted(api, team):
    answer = api.put(f"/teams/{team.id}/members/{team.admin_id}",
                     {"email": team.admin_email, "name": "Ada", "role": "member"}, token=team.token)
    assert answer.status_code == 409
    assert "at least one admin" in answer.json_body["Message"]


def test_the_admin_count_follows_promotions_demotions_and_removals(api, team):
    api.add_member(team, "bea", "bea@team.example", role="admin")
    api.add_member(team, "cal", "cal@team.example", role="member")
    api.put(f"/teams/{team.id}/members/cal", {"email": "cal@team.example", "name": "Cal", "role": "admin"},
            token=team.token)
    api.delete(f"/teams/{team.id}/members/bea", token=team.token)
    assert int(TeamSettings.get(team.id).admin_count) == len(_admins(team.id)) == 2


def test_a_team_from_before_the_admin_count_gets_it_counted_once(api, team):
    TeamSettings.get(team.id).update(actions=[TeamSettings.admin_count.remove()])
    api.add_member(team, "bea", "bea@team.example", role="admin")
    assert int(TeamSettings.get(team.id).admin_count) == 2


def test_a_privacy_officer_named_while_being_removed_is_not_removed(api, team, monkeypatch):
    api.add_member(team, "dpo", "dpo@team.example")
    name_officer = lambda: api.patch(f"/teams/{team.id}/privacy/settings",  # noqa: E731
                                     {"privacy_officer_id": "dpo"}, token=team.token)
    with _racing(monkeypatch, name_officer):
        answer = api.delete(f"/teams/{team.id}/members/dpo", token=team.token)
    assert answer.status_code == 409
    assert teams.get_member(team.id, "dpo") is not None


def test_a_recreated_member_id_does_not_revive_the_old_bearer_token(api, team):
    old_token = api.add_member(team, "sam", "sam@team.example")
    assert api.delete(f"/teams/{team.id}/members/sam", token=team.token).status_code == 200
    new_token = api.add_member(team, "sam", "someone.else@team.example")
    assert api.get(f"/teams/{team.id}/privacy/settings", token=old_token).status_code == 401
    assert api.get(f"/teams/{team.id}/privacy/settings", token=new_token).status_code == 200


def test_updating_a_member_keeps_their_tokens(api, team):
    token = api.add_member(team, "sam", "sam@team.example")
    api.put(f"/teams/{team.id}/members/sam", {"email": "sam@team.example", "name": "Samuel", "role": "member"},
            token=team.token)
    assert api.get(f"/teams/{team.id}/privacy/settings", token=token).status_code == 200


def test_a_recreated_officer_id_does_not_revive_the_old_action_link(api, team):
    api.add_member(team, "dpo", "dpo@team.example", role="admin")
    api.new_dossier(team, "alice@client.example")
    api.verified_request(team, "alice@client.example")
    link = api.last_link_to("dpo@team.example", "/actions/")
    api.delete(f"/teams/{team.id}/members/dpo", token=team.token)
    api.add_member(team, "dpo", "stranger@team.example", role="admin")
    assert api.get(link).status_code == 403
    assert api.post(link, raw=b"", headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 403
    assert Member.get(team.id, "dpo").email == "stranger@team.example"
