"""Issue 2 §2 (tokens): a signed bearer token names a member of a team. 401 without a valid token, 403 for another
team's path or a member-role token on admin routes — and a refused call changes nothing."""
import datetime as dt

import jwt
import pytest

from chalicelib import tokens
from tests.support import alter_one_char, error_shape


def settings_path(team):
    return f"/teams/{team.id}/privacy/settings"


def admin_calls(team):
    """Every admin-only change, as (method, path, body)."""
    return [
        ("PATCH", settings_path(team), {"consent_capture_enabled": True}),
        ("PUT", f"/teams/{team.id}/members/newbie", {"email": "n@team.example", "name": "N", "role": "admin"}),
    ]


def member_calls(team):
    """Routes any member of the team may call, as (method, path, body)."""
    return [
        ("GET", settings_path(team), None),
        ("GET", f"/teams/{team.id}/dossiers", None),
        ("POST", f"/teams/{team.id}/dossiers", {"client_email": "c@client.example", "title": "T"}),
        ("GET", f"/teams/{team.id}/privacy/requests", None),
    ]


def refused(api, team, token, expected_status, headers=None):
    for method, path, body in admin_calls(team) + member_calls(team):
        before = api.state()
        answer = api.call(method, path, body, token=token, headers=headers)
        assert answer.status_code == expected_status, (method, path, answer.body)
        error_shape(answer)
        assert api.state() == before, (method, path)


def test_no_token_is_401_and_changes_nothing(api, team):
    refused(api, team, None, 401)


def test_garbled_token_is_401_and_changes_nothing(api, team):
    refused(api, team, "not-a-token", 401)


def test_token_altered_by_one_character_is_401(api, team):
    refused(api, team, alter_one_char(team.token), 401)


def test_expired_token_is_401_and_changes_nothing(api, team):
    expired = tokens.sign(tokens.BEARER, {"team": team.id, "sub": team.admin_id}, lifetime=dt.timedelta(seconds=-60))
    refused(api, team, expired, 401)


def test_token_signed_with_another_secret_is_401(api, team):
    forged = jwt.encode({"team": team.id, "sub": team.admin_id, "aud": "bearer", "iat": 1,
                         "exp": int(dt.datetime.now().timestamp()) + 3600}, "another-secret-that-is-long-enough-for-hs256", algorithm="HS256")
    refused(api, team, forged, 401)


def test_a_link_token_is_not_a_bearer_token(api, team):
    action = tokens.sign(tokens.ACTION, {"team": team.id, "sub": team.admin_id, "req": "r_x", "officer": team.admin_id})
    refused(api, team, action, 401)


def test_authorization_header_without_bearer_scheme_is_401(api, team):
    refused(api, team, None, 401, headers={"Authorization": f"Basic {team.token}"})


def test_token_of_another_team_is_403_and_changes_nothing(api, team):
    other = api.new_team("Other", "admin@other.example")
    refused(api, team, other.token, 403)


def test_token_of_a_removed_member_is_401(api, team):
    token = api.add_member(team, "m1", "m1@team.example")
    assert api.delete(f"/teams/{team.id}/members/m1", token=team.token).status_code == 200
    answer = api.get(settings_path(team), token=token)
    assert answer.status_code == 401


@pytest.mark.parametrize("index", [0, 1])
def test_member_role_token_is_403_on_admin_routes_and_changes_nothing(api, team, index):
    token = api.add_member(team, "m1", "m1@team.example")
    method, path, body = admin_calls(team)[index]
    before = api.state()
    answer = api.call(method, path, body, token=token)
    assert answer.status_code == 403, answer.body
    error_shape(answer)
    assert api.state() == before


def test_member_role_token_may_use_member_routes(api, team):
    token = api.add_member(team, "m1", "m1@team.example")
    for method, path, body in member_calls(team):
        answer = api.call(method, path, body, token=token)
        assert answer.status_code in (200, 201), (method, path, answer.body)


def test_admin_token_may_use_admin_routes(api, team):
    for method, path, body in admin_calls(team):
        answer = api.call(method, path, body, token=team.token)
        assert answer.status_code in (200, 201), (method, path, answer.body)


def test_role_change_applies_to_an_existing_token_at_once(api, team):
    token = api.add_member(team, "m1", "m1@team.example", role="admin")
    assert api.patch(settings_path(team), {"policy_links_enabled": True}, token=token).status_code == 200
    api.add_member(team, "m1", "m1@team.example", role="member")
    assert api.patch(settings_path(team), {"policy_links_enabled": False}, token=token).status_code == 403
