"""Time-ordered identifiers (ULID layout: 48-bit milliseconds + 80 random bits, Crockford base32).

Sorting ids sorts by creation time, so a DynamoDB range key of these ids lists newest first in reverse."""
import datetime as dt
import hashlib
import hmac
import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def new_id(prefix: str = "") -> str:
    return prefix + _encode((int(time.time() * 1000) << _RANDOM_BITS) | int.from_bytes(os.urandom(10), "big"))


def bound_for(moment: dt.datetime, prefix: str = "", last: bool = False) -> str:
    """The first id `new_id(prefix)` can make in `moment`'s millisecond (last=True: the last one), so that a
    range key BETWEEN bound_for(start) AND bound_for(end, last=True) holds exactly the ids made from the
    millisecond of `start` to that of `end`, both included. `moment` must be timezone-aware."""
    millis = (moment - _EPOCH) // dt.timedelta(milliseconds=1)
    randomness = (1 << _RANDOM_BITS) - 1 if last else 0
    return prefix + _encode((millis << _RANDOM_BITS) | randomness)


def _encode(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def keyed_hash(text: str, key: str) -> str:
    """A stable pseudonym for logs and keys: the same input maps to the same value, but it can't be reversed."""
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()[:32]


MAX_ID_LENGTH = 200


def plausible(value: str | None) -> bool:
    """Ids come from URLs: anything empty or huge can't exist (and real DynamoDB rejects keys over 1 KiB with a
    ValidationException, which would otherwise surface as a 500)."""
    return bool(value) and len(value.encode()) <= MAX_ID_LENGTH
