"""The keys of the built-in tokens: one signs (current), two verify (current and previous), named by kid.

Deployed stages set TOKEN_SECRET_ARN: the keys are read at run time from that Secrets Manager secret, never
from an environment variable holding the value (a Lambda's variables are readable by anyone who can read its
configuration). The secret's value is JSON,
    {"current": {"kid": "k_...", "key": "..."}, "previous": {"kid": "k_...", "key": "..."}}
or, for its first version, the key as a plain string (tokens then carry no kid). Rotating (`python -m
chalicelib.cli rotate-key`) makes a new current and keeps the old one as previous, so links mailed before the
rotation keep working until they expire or the next rotation.

The local stage (and any stage without TOKEN_SECRET_ARN) keeps one key, TOKEN_SECRET, without kid.

The same secret keys the requests' records (request_record.py), so that whoever can write the requests table
can't rewrite a record: entries are MACed with a key derived from a signing key (a derived key signs no
token). Rotating would orphan old records once their key is dropped, so the secret also pins one record key,
    {"current": ..., "previous": ..., "record": {"key": "..."}}
which rotations carry forward untouched: the first rotation pins the record key derived from the key it
retires, the very key records were MACed with until then. Without a pinned key, records are MACed with the
key derived from the current key.
"""
import json
import secrets
import threading
import time
from typing import NamedTuple

from . import config, request_record

CACHE_SECONDS = 300.0  # a warm container reads the secret at most every 5 minutes...
RELOAD_ON_UNKNOWN_KID_SECONDS = 30.0  # ...or sooner when a token names a kid it doesn't know (a rotation)


class Key(NamedTuple):
    kid: str | None
    key: str


def _monotonic() -> float:  # tests move it to pass the cache's lifetime
    return time.monotonic()


class Secret(NamedTuple):
    keys: list[Key]  # token keys, current first
    record: str | None  # the pinned record key, if any


_lock = threading.Lock()
_cache: dict = {}  # arn → (loaded_at, Secret)


def reset() -> None:
    """Forget the cached keys (a new container)."""
    _cache.clear()


def parse(value: str) -> list[Key]:
    """The secret's keys, current first."""
    try:
        document = json.loads(value)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        return [Key(None, value)]  # the first version: the key itself
    keys = []
    for role in ("current", "previous"):
        entry = document.get(role)
        if entry is None and role == "previous":
            continue
        if not (isinstance(entry, dict) and isinstance(entry.get("key"), str) and isinstance(entry.get("kid"), str)):
            raise RuntimeError(f"the token secret's {role!r} must be {{\"kid\": \"...\", \"key\": \"...\"}}")
        keys.append(Key(entry["kid"], entry["key"]))
    return keys


def parse_record(value: str) -> str | None:
    """The secret's pinned record key, if it has one."""
    try:
        entry = json.loads(value).get("record")
    except (ValueError, AttributeError):
        return None
    if entry is None:
        return None
    if not (isinstance(entry, dict) and isinstance(entry.get("key"), str)):
        raise RuntimeError("the token secret's 'record' must be {\"key\": \"...\"}")
    return entry["key"]


def _read(arn: str) -> Secret:
    from . import aws

    value = aws.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    keys, record = parse(value), parse_record(value)
    for key in keys:  # a placeholder in the secret is as forgeable as one in the environment
        config.strong_secret("TOKEN_SECRET_ARN's key " + (key.kid or "(no kid)"), key.key,
                             "anyone could forge its tokens")
    if record is not None:
        config.strong_secret("TOKEN_SECRET_ARN's record key", record, "anyone could forge request records")
    return Secret(keys, record)


def _secret(arn: str, unknown_kid: bool = False) -> Secret:
    with _lock:
        now = _monotonic()
        loaded = _cache.get(arn)
        age = now - loaded[0] if loaded else None
        if age is None or age >= CACHE_SECONDS or (unknown_kid and age >= RELOAD_ON_UNKNOWN_KID_SECONDS):
            loaded = _cache[arn] = (now, _read(arn))
        return loaded[1]


def _keys(arn: str, unknown_kid: bool = False) -> list[Key]:
    return _secret(arn, unknown_kid).keys


def current() -> Key:
    """The key that signs new tokens."""
    arn = config.optional("TOKEN_SECRET_ARN")
    if not arn:
        return Key(None, config.token_secret())
    return _keys(arn)[0]


def for_kid(kid: str | None) -> list[str]:
    """The keys that may have signed a token naming `kid`: that one key, or (no kid: older tokens, or a
    secret's first plain version) every key we hold. A kid we don't know rereads the secret, not more often
    than every RELOAD_ON_UNKNOWN_KID_SECONDS, since another container may already sign with a newer key."""
    arn = config.optional("TOKEN_SECRET_ARN")
    if not arn:
        return [config.token_secret()]
    keys = _keys(arn)
    if kid is None:
        return [k.key for k in keys]
    found = [k.key for k in keys if k.kid == kid]
    if not found:
        found = [k.key for k in _keys(arn, unknown_kid=True) if k.kid == kid]
    return found


def _record_keys(unknown_kid: bool = False) -> list[Key]:
    """The record keys we hold, the one that MACs new entries first: the pinned one, then those derived from
    the current and previous token keys. Each is named by a kid derived from it (request_record.key_id)."""
    arn = config.optional("TOKEN_SECRET_ARN")
    if not arn:
        found = [request_record.derive(config.token_secret())]
    else:
        secret = _secret(arn, unknown_kid)
        found = ([secret.record] if secret.record else []) + [request_record.derive(k.key) for k in secret.keys]
    unique = list(dict.fromkeys(found))
    return [Key(request_record.key_id(key), key) for key in unique]


def record_key() -> Key:
    """The key that MACs new record entries."""
    return _record_keys()[0]


def record_key_for(kid: str) -> str | None:
    """The record key named `kid`, if we hold it (an unknown kid rereads the secret, as for tokens)."""
    for unknown in (False, True):
        found = [k.key for k in _record_keys(unknown_kid=unknown) if k.kid == kid]
        if found:
            return found[0]
        if not config.optional("TOKEN_SECRET_ARN"):
            return None
    return None


def new_kid() -> str:
    from . import ids

    return ids.new_id("k_")


def rotate(arn: str) -> Key:
    """A new random current key; the old current becomes previous (the one before is dropped: tokens signed
    with it stop working); the record key stays (pinned at the first rotation). A plain-string first version
    becomes previous under a kid of its own: tokens signed with it carry no kid and are still tried against
    every key."""
    from . import aws

    client = aws.client("secretsmanager")
    value = client.get_secret_value(SecretId=arn)["SecretString"]
    old = parse(value)[0]
    previous = {"kid": old.kid or new_kid(), "key": old.key}
    # Records were MACed with the key derived from the retiring one: pin it, so they verify for good.
    record = parse_record(value) or request_record.derive(old.key)
    fresh = Key(new_kid(), secrets.token_urlsafe(48))
    client.put_secret_value(SecretId=arn, SecretString=json.dumps(
        {"current": {"kid": fresh.kid, "key": fresh.key}, "previous": previous, "record": {"key": record}}))
    _cache.pop(arn, None)
    return fresh
