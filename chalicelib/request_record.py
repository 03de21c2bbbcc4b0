"""A request's record (Art. 5(2), Art. 19): its history as a keyed hash chain, so an edited, removed or forged
entry shows, even to someone who can rewrite the table.

Each entry is `{seq, at, event, by, ...details, prev, kid, hash}`: `seq` counts from 0, `prev` is the `hash` of
the entry before (GENESIS for the first), `by` the typed actor (actors.py), and `hash` is HMAC-SHA256 over the
entry's canonical JSON without `hash`, keyed with the record key named by `kid` (signing_keys.py: derived from
the Secrets Manager key, never stored in DynamoDB). A plain sha256 chain, as records were first written, could
be recomputed by whoever can write the table; a MAC can't without the key.

The first entry ("received") names the team, the request, its type and when it came, and the client only by a
keyed hash: the record proves the work without keeping who the client was. The request item also stores the
last hash (`history_head`). What a table writer can still do is cut the record back to an earlier, genuine
prefix and move the head back with it; `verify` catches that when the request's own state says more happened
than the record holds (`state`), which leaves rolling the whole item back to an earlier state: only a copy kept
elsewhere (an archived GET .../record) shows that.

Entries written before records were keyed have no `kid` and a plain sha256 `hash`. They are still read and
checked as a chain (an edit shows as before), and new keyed entries are chained after them, but a record that
holds any never verifies: a table writer could have rebuilt them, and letting the next keyed entry vouch for
them would bless whatever the writer rebuilt before it.

Pure Python on purpose (no AWS, no Chalice): `python -m chalicelib.cli verify-record` checks a record offline.
"""
import hashlib
import hmac
import json
from typing import Callable

GENESIS = "0" * 64
_DERIVE = b"privacy-desk/request-record/v1"  # a record key is never a token key, nor the other way round

# The status each event leaves the request in: the record must end in the status the request has.
STATUS_AFTER = {"received": "awaiting_verification", "verified": "pending", "execution_started": "in_progress",
                "execution_failed": "failed", "completed": "completed", "denied": "denied",
                "cancelled": "cancelled", "appealed": "pending"}
TASK_CLOSED = ("recipient_answered", "recipient_skipped", "recipient_failed")


def derive(secret: str) -> str:
    """The record key derived from a signing key: knowing it signs no token."""
    return hmac.new(secret.encode(), _DERIVE, hashlib.sha256).hexdigest()


def key_id(key: str) -> str:
    """A record key's public name, derived from it (so a key without a kid has one too)."""
    return "rk_" + hmac.new(key.encode(), b"kid", hashlib.sha256).hexdigest()[:16]


def canonical(entry: dict) -> bytes:
    """The bytes an entry's hash covers: every field but `hash`, keys sorted, no whitespace."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(entry: dict) -> str:
    """The unkeyed hash of entries written before records were keyed."""
    return hashlib.sha256(canonical(entry)).hexdigest()


def entry_mac(entry: dict, key: str) -> str:
    return hmac.new(key.encode(), canonical(entry), hashlib.sha256).hexdigest()


def chained(entries: list, key: str, at: str, event: str, by: dict | None, /, **details) -> dict:
    """The next entry after `entries` (the stored history, oldest first), MACed with `key`."""
    # By position, and tolerant of entries written before the chain existed: appending must never fail on an
    # old request; verify() then reports where the unchained part is.
    prev = entries[-1].get("hash") if entries and isinstance(entries[-1], dict) else None
    entry = {"seq": len(entries), "at": at, "event": event, "by": by, **details, "prev": prev or GENESIS,
             "kid": key_id(key)}
    entry["hash"] = entry_mac(entry, key)
    return entry


class _Broken(Exception):
    def __init__(self, problem: str, at_seq: int | None):
        super().__init__(problem)
        self.problem, self.at_seq = problem, at_seq


def verify(entries: list, head: str | None = None, *, keys: Callable[[str], str | None] | None = None,
           first: dict | None = None, state: dict | None = None) -> dict:
    """Recompute the chain. `keys(kid)` gives a record key (None: checked without keys, see `authenticated`);
    `head` is the stored hash of the last entry; `first` the values the first entry must hold (a value may be
    a set of acceptable ones); `state` what the request item says happened (see explained)."""
    last, authenticated = GENESIS, False
    try:
        if not entries:
            raise _Broken("the record has no entries", 0)
        last, authenticated = _check_chain(entries, keys)
        _check_first(entries[0], first or {})
        if head is not None and head != last:
            raise _Broken("the record ends before its stored head: entries were removed from its end",
                          len(entries))
        if state is not None:
            _check_state(entries, state)
    except _Broken as broken:
        return {"verifies": False, "authenticated": False, "entries": len(entries), "problem": broken.problem,
                "at_seq": broken.at_seq, "head": last}
    return {"verifies": True, "authenticated": authenticated, "entries": len(entries), "problem": None,
            "at_seq": None, "head": last}


def _check_chain(entries: list, keys) -> tuple[str, bool]:
    """The last hash, and whether keys checked the whole chain."""
    prev, keyed, unkeyed = GENESIS, False, 0
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise _Broken(f"entry {position} is not an object", position)
        if "hash" not in entry:
            raise _Broken(f"entry {position} has no hash: written before records were chained, or stripped",
                          position)
        seq = entry.get("seq")
        if type(seq) is not int or seq != position:
            raise _Broken(f"entry {position} has seq {seq!r}: an entry was removed, added or reordered", position)
        if entry.get("prev") != prev:
            raise _Broken(f"entry {position} does not follow the entry before it", position)
        if "kid" in entry:
            keyed = True
            _check_mac(entry, position, keys)
        elif keyed:
            raise _Broken(f"entry {position} is not keyed although entries before it are: it was not written "
                          "by the module", position)
        elif entry.get("hash") != entry_hash(entry):
            raise _Broken(f"entry {position} was altered after it was written", position)
        else:
            unkeyed += 1
        prev = entry["hash"]
    if keys is not None and unkeyed:
        raise _Broken(f"entries 0 to {unkeyed - 1} are not keyed (written before records were keyed, or rebuilt "
                      "without the key): they can't be told from entries rewritten by someone with access to the "
                      "table", 0)
    return prev, keys is not None


def _check_mac(entry: dict, position: int, keys) -> None:
    if keys is None:
        return  # offline without the key: the links are checked, the MACs can't be
    key = keys(str(entry["kid"]))
    if key is None:
        raise _Broken(f"entry {position} is keyed with record key {entry['kid']!r}, which is not among the "
                      "keys this deployment holds: forged, or its key was dropped", position)
    if not hmac.compare_digest(str(entry.get("hash")), entry_mac(entry, key)):
        raise _Broken(f"entry {position} was altered after it was written", position)


def _check_first(entry: dict, expected: dict) -> None:
    if entry.get("event") != "received":
        raise _Broken("the first entry is not the request's reception", 0)
    for name, wanted in expected.items():
        if wanted is None:
            continue
        accepted = wanted if isinstance(wanted, (set, frozenset)) else {wanted}
        if entry.get(name) not in accepted:
            hint = " (or, without PSEUDONYM_KEY, the token key was rotated twice since)" if name == "client" else ""
            raise _Broken(f"the first entry's {name} ({entry.get(name)!r}) is not the request's: the record "
                          f"belongs to another request, or the request was changed{hint}", 0)


def _check_state(entries: list, state: dict) -> None:
    """The request item must not say more happened than the record holds (a record cut back to an earlier
    prefix, its head moved with it)."""
    found = _explained(entries)
    for name, stored in state.items():
        if name == "closed_tasks":
            missing = sorted(set(stored) - found["closed_tasks"])
            if missing:
                raise _Broken(f"the request's task for {missing[0]} is closed, but the record does not say so: "
                              "entries were removed from its end", len(entries))
        elif found.get(name) != stored:
            raise _Broken(f"the request's {name} is {stored!r}, but its record says {found.get(name)!r}: entries "
                          "were removed from its end, or the request was changed", len(entries))


def _explained(entries: list) -> dict:
    events = [entry.get("event") for entry in entries]
    status = next((STATUS_AFTER[e] for e in reversed(events) if e in STATUS_AFTER), None)
    return {
        "status": status,
        "resends": events.count("verification_resent"),
        "extension_months": sum(int(e.get("months") or 0) for e in entries if e.get("event") == "extended"),
        "extension_days": sum(int(e.get("days") or 0) for e in entries if e.get("event") == "extended"),
        "alerts": events.count("email_failed"),
        "work_done": "work_done" in events,
        "restriction_lifted": "restriction_lifted" in events,
        "erasure_swept": "erasure_swept" in events,
        "pseudonymised": "pseudonymised" in events,
        "closed_tasks": {e.get("system") for e in entries if e.get("event") in TASK_CLOSED},
    }
