"""Issue 9 §2: on deployed stages the built-in tokens' key lives in Secrets Manager (TOKEN_SECRET_ARN), two keys
are active at once, and a token's kid says which signed it, so rotating the key breaks no link in flight."""
import json
import time

import boto3
import jwt
import pytest

from chalicelib import config, request_record, signing_keys, tokens

STRONG_1 = "k1-9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
STRONG_2 = "k2-60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
STRONG_3 = "k3-fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13"


def keys_json(current, previous=None) -> str:
    value = {"current": {"kid": current[0], "key": current[1]}}
    if previous:
        value["previous"] = {"kid": previous[0], "key": previous[1]}
    return json.dumps(value)


@pytest.fixture
def secret(aws, monkeypatch):
    """A Secrets Manager secret holding one key (kid k1), named by TOKEN_SECRET_ARN; TOKEN_SECRET holds another
    value that must never be used."""
    client = boto3.client("secretsmanager")
    arn = client.create_secret(Name="privacy-desk/token-key", SecretString=keys_json(("k1", STRONG_1)))["ARN"]
    monkeypatch.setenv("TOKEN_SECRET_ARN", arn)
    signing_keys.reset()
    yield arn
    signing_keys.reset()


def put(arn, value):
    boto3.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=value)
    signing_keys.reset()  # as a new container would see it; the cache's own timing is tested below


def kid_of(token):
    return jwt.get_unverified_header(token).get("kid")


def settings(api, team, token):
    return api.get(f"/teams/{team.id}/privacy/settings", token=token)


def test_tokens_are_signed_with_the_secrets_current_key_and_name_its_kid(api, secret):
    team = api.new_team()
    assert kid_of(team.token) == "k1"
    jwt.decode(team.token, STRONG_1, algorithms=["HS256"], audience="bearer")  # raises if another key signed
    assert settings(api, team, team.token).status_code == 200


def test_the_environments_token_secret_is_never_used_when_the_arn_is_set(api, secret):
    team = api.new_team()
    claims = jwt.decode(team.token, STRONG_1, algorithms=["HS256"], audience="bearer")
    forged = jwt.encode(claims, "local-only-secret-not-for-deployment", algorithm="HS256", headers={"kid": "k1"})
    assert settings(api, team, forged).status_code == 401
    unnamed = jwt.encode(claims, "local-only-secret-not-for-deployment", algorithm="HS256")
    assert settings(api, team, unnamed).status_code == 401


def test_after_a_rotation_tokens_of_the_previous_key_still_work_and_new_ones_use_the_new_key(api, secret):
    team = api.new_team()
    old_token = team.token
    link = tokens.sign(tokens.ACTION, {"team": team.id, "req": "r_x"})
    put(secret, keys_json(("k2", STRONG_2), ("k1", STRONG_1)))
    assert settings(api, team, old_token).status_code == 200
    assert tokens.read(link, tokens.ACTION)["req"] == "r_x"
    from chalicelib import teams

    new_token = teams.bearer_token(team.id, team.admin_id)
    assert kid_of(new_token) == "k2"
    assert settings(api, team, new_token).status_code == 200


def test_two_rotations_later_a_token_of_the_dropped_key_is_refused(api, secret):
    team = api.new_team()
    put(secret, keys_json(("k2", STRONG_2), ("k1", STRONG_1)))
    put(secret, keys_json(("k3", STRONG_3), ("k2", STRONG_2)))
    assert settings(api, team, team.token).status_code == 401


def test_a_kid_picks_its_key_only(api, secret):
    """A token naming k2 but signed with k1's key is refused although k1 is active."""
    team = api.new_team()
    put(secret, keys_json(("k2", STRONG_2), ("k1", STRONG_1)))
    claims = jwt.decode(team.token, STRONG_1, algorithms=["HS256"], audience="bearer")
    assert settings(api, team, jwt.encode(claims, STRONG_1, algorithm="HS256", headers={"kid": "k2"})).status_code == 401


def test_a_plain_string_first_version_signs_without_kid_and_survives_the_first_rotation(api, secret):
    put(secret, STRONG_1)
    team = api.new_team()
    assert kid_of(team.token) is None
    assert settings(api, team, team.token).status_code == 200
    fresh = signing_keys.rotate(secret)
    stored = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"])
    assert stored["current"] == {"kid": fresh.kid, "key": fresh.key}
    assert stored["previous"]["key"] == STRONG_1 and stored["previous"]["kid"]
    assert settings(api, team, team.token).status_code == 200  # no kid: tried against both keys


def test_the_secret_is_read_once_per_five_minutes_and_sooner_for_an_unknown_kid(api, secret, monkeypatch):
    now = [time.monotonic()]
    monkeypatch.setattr(signing_keys, "_monotonic", lambda: now[0])
    assert signing_keys.current().kid == "k1"
    boto3.client("secretsmanager").put_secret_value(  # another container... or an operator, rotated
        SecretId=secret, SecretString=keys_json(("k2", STRONG_2), ("k1", STRONG_1)))
    now[0] += 10
    assert signing_keys.current().kid == "k1"  # cached
    assert signing_keys.for_kid("k2") == []  # unknown, but read less than 30 s ago: not reread
    now[0] += signing_keys.RELOAD_ON_UNKNOWN_KID_SECONDS
    assert signing_keys.for_kid("k2") == [STRONG_2]  # a token of the new key is accepted without waiting 5 min
    assert signing_keys.current().kid == "k2"
    boto3.client("secretsmanager").put_secret_value(
        SecretId=secret, SecretString=keys_json(("k3", STRONG_3), ("k2", STRONG_2)))
    now[0] += signing_keys.CACHE_SECONDS
    assert signing_keys.current().kid == "k3"


@pytest.mark.parametrize("weak", ["replace-me-with-a-long-random-secret", "short", "ab" * 40])
def test_a_weak_key_in_the_secret_is_refused_outside_local(api, secret, monkeypatch, weak):
    put(secret, keys_json(("k2", weak), ("k1", STRONG_1)))
    monkeypatch.setenv("STAGE", "dev")
    with pytest.raises(config.WeakSecret):
        tokens.sign(tokens.BEARER, {"team": "t_x", "sub": "m_x"})
    with pytest.raises(config.WeakSecret):
        signing_keys.for_kid(None)


def test_rotating_keeps_the_old_current_as_previous_and_pins_the_record_key(api, secret):
    fresh = signing_keys.rotate(secret)
    stored = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"])
    assert stored == {"current": {"kid": fresh.kid, "key": fresh.key}, "previous": {"kid": "k1", "key": STRONG_1},
                      "record": {"key": request_record.derive(STRONG_1)}}
    assert config.weak_secret_reason(fresh.key) is None
    assert signing_keys.current() == fresh


def test_records_are_keyed_with_a_key_derived_from_the_token_key_never_with_the_token_key(api, secret):
    key = signing_keys.record_key()
    assert key.key == request_record.derive(STRONG_1) and key.key != STRONG_1
    assert key.kid == request_record.key_id(key.key)


def test_the_record_key_outlives_two_rotations(api, secret):
    before = signing_keys.record_key()
    signing_keys.rotate(secret)
    signing_keys.rotate(secret)
    signing_keys.reset()
    assert signing_keys.record_key() == before
    assert signing_keys.record_key_for(before.kid) == before.key


def test_a_secret_whose_keys_were_replaced_by_hand_still_verifies_records_of_its_previous_key(api, secret):
    before = signing_keys.record_key()
    put(secret, keys_json(("k2", STRONG_2), ("k1", STRONG_1)))
    assert signing_keys.record_key() != before  # no pinned key: new entries use the current key's
    assert signing_keys.record_key_for(before.kid) == before.key
