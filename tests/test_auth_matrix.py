"""Every account route refuses callers who may not act, and a refused call changes nothing."""
import datetime as dt

import boto3
import jwt
import pytest

from chalicelib import config, tokens

# route → (method, path template, body) ; {team} and {other} ids are filled in per test
ROUTES = [
    ("PUT", "/teams/{team}/members/newbie", {"email": "n@team.example", "name": "N", "role": "admin"}),
    ("DELETE", "/teams/{team}/members/{member}", None),
    ("GET", "/teams/{team}/privacy/settings", None),
    ("GET", "/teams/{team}/privacy/consent/versions", None),
    ("PATCH", "/teams/{team}/privacy/settings", {"consent_capture_enabled": True}),
    ("POST", "/teams/{team}/dossiers", {"client_email": "c@client.example", "title": "t"}),
    ("GET", "/teams/{team}/dossiers", None),
    ("POST", "/teams/{team}/dossiers/search", {"client_email": "alice@client.example"}),
    ("GET", "/teams/{team}/dossiers/{dossier}", None),
    ("PATCH", "/teams/{team}/dossiers/{dossier}", {"title": "changed"}),
    ("POST", "/teams/{team}/dossiers/{dossier}/documents", {"filename": "a.txt", "content_base64": "YQ=="}),
    ("GET", "/teams/{team}/privacy/requests", None),
    ("GET", "/teams/{team}/privacy/requests/{request}", None),
    ("POST", "/teams/{team}/privacy/requests/{request}/execute", {"confirm": True}),
    ("POST", "/teams/{team}/privacy/requests/{request}/extend", {"months": 1, "reason": "r"}),
    ("POST", "/teams/{team}/privacy/requests/{request}/deny", {"reason": "r"}),
    ("POST", "/teams/{team}/privacy/requests/{request}/lift-restriction", {}),
    ("GET", "/teams/{team}/privacy/systems", None),
    ("GET", "/teams/{team}/privacy/systems/{system}", None),
    ("PUT", "/teams/{team}/privacy/systems/{system}", {"name": "N", "kind": "manual", "owner_email": "o@team.example"}),
    ("DELETE", "/teams/{team}/privacy/systems/{system}", None),
]
ADMIN_ONLY = {("PUT", "/teams/{team}/members/newbie"), ("DELETE", "/teams/{team}/members/{member}"),
              ("PATCH", "/teams/{team}/privacy/settings"), ("PUT", "/teams/{team}/privacy/systems/{system}"),
              ("DELETE", "/teams/{team}/privacy/systems/{system}")}
EXECUTOR_ONLY = {(m, p) for m, p, _ in ROUTES if p.endswith(("/execute", "/extend", "/deny", "/lift-restriction"))}


def expired_token(team):
    now = int(dt.datetime.now(dt.timezone.utc).timestamp())
    return jwt.encode({"team": team.id, "sub": team.admin_id, "aud": tokens.BEARER, "iat": now - 7200,
                       "exp": now - 60}, config.token_secret(), algorithm="HS256")


def snapshot():
    """Every item of every table (rate-limit counters aside): what 'nothing changed' is checked against."""
    ddb = boto3.client("dynamodb")
    state = {}
    for table in ddb.list_tables()["TableNames"]:
        items = ddb.scan(TableName=table)["Items"]
        state[table] = sorted(str(i) for i in items if not i.get("pk", {}).get("S", "").startswith("rate#"))
    return state


@pytest.fixture
def world(api, team):
    member_token = api.add_member(team, "plain", "plain@team.example")
    dossier = api.new_dossier(team, "alice@client.example")
    request_id = api.verified_request(team, "alice@client.example")
    other = api.new_team("Other", "admin@other.example")
    from chalicelib import systems

    systems.put(team.id, "archive", {"name": "Archive", "kind": "manual", "owner_email": "a@team.example"})
    ids = {"team": team.id, "member": "plain", "dossier": dossier["dossier_id"], "request": request_id,
           "system": "archive"}
    return {"api": api, "team": team, "ids": ids, "member_token": member_token, "other": other}


CALLERS = {
    "no token": lambda w: None,
    "malformed token": lambda w: "not-a-jwt",
    "tampered token": lambda w: w["team"].token[:-3] + ("AAA" if not w["team"].token.endswith("AAA") else "BBB"),
    "expired token": lambda w: expired_token(w["team"]),
    "another team's admin": lambda w: w["other"].token,
    "a verification token": lambda w: tokens.sign(tokens.VERIFY, {"team": w["team"].id, "req": "x"}),
}
EXPECTED = {"no token": 401, "malformed token": 401, "tampered token": 401, "expired token": 401,
            "another team's admin": 403, "a verification token": 401}


@pytest.mark.parametrize("method, path, body", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_account_routes_refuse_callers_without_a_valid_token_of_this_team(world, method, path, body):
    api = world["api"]
    before = snapshot()
    for caller, make_token in CALLERS.items():
        answer = api.call(method, path.format(**world["ids"]), body, token=make_token(world))
        assert answer.status_code == EXPECTED[caller], (caller, answer.body)
        assert set(answer.json_body) >= {"Code", "Message"}, caller
    assert snapshot() == before


@pytest.mark.parametrize("method, path, body", [r for r in ROUTES if (r[0], r[1]) in ADMIN_ONLY | EXECUTOR_ONLY],
                         ids=[f"{m} {p}" for m, p, _ in ROUTES if (m, p) in ADMIN_ONLY | EXECUTOR_ONLY])
def test_member_role_cannot_use_admin_routes(world, method, path, body):
    api = world["api"]
    before = snapshot()
    answer = api.call(method, path.format(**world["ids"]), body, token=world["member_token"])
    assert answer.status_code == 403, answer.body
    assert snapshot() == before
