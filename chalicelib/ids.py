"""Time-ordered identifiers (ULID layout: 48-bit milliseconds + 80 random bits, Crockford base32).

Sorting ids sorts by creation time, so a DynamoDB range key of these ids lists newest first in reverse."""
import hashlib
import hmac
import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str = "") -> str:
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return prefix + "".join(reversed(chars))


def keyed_hash(text: str, key: str) -> str:
    """A stable pseudonym for logs and keys: the same input maps to the same value, but it can't be reversed."""
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()[:32]


MAX_ID_LENGTH = 200


def plausible(value: str | None) -> bool:
    """Ids come from URLs: anything empty or huge can't exist (and real DynamoDB rejects keys over 1 KiB with a
    ValidationException, which would otherwise surface as a 500)."""
    return bool(value) and len(value.encode()) <= MAX_ID_LENGTH
