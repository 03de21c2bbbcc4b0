"""A request's record (Art. 5(2), Art. 19): its history as a hash chain, so an edited or removed entry shows.

Each entry is `{seq, at, event, by, ...details, prev, hash}`: `seq` counts from 0, `prev` is the hash of the
entry before (GENESIS for the first) and `hash` is sha256 over the entry's canonical JSON without `hash`. The
first entry ("received") names the team, the request, its type and when it came, and the client only by a
keyed hash: the record proves the work without keeping who the client was. The request item also stores the
last hash (`history_head`), so a removed tail shows too.

Pure Python on purpose (no AWS, no Chalice): `python -m chalicelib.cli verify-record` checks a record offline.
"""
import hashlib
import json

GENESIS = "0" * 64


def canonical(entry: dict) -> bytes:
    """The bytes an entry's hash covers: every field but `hash`, keys sorted, no whitespace."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(entry: dict) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


def chained(entries: list, at: str, event: str, by: dict | None, /, **details) -> dict:
    """The next entry after `entries` (the stored history, oldest first)."""
    # By position, and tolerant of entries written before the chain existed: appending must never fail on an
    # old request; verify() then reports where the unchained part is.
    prev = entries[-1].get("hash") if entries and isinstance(entries[-1], dict) else None
    entry = {"seq": len(entries), "at": at, "event": event, "by": by, **details, "prev": prev or GENESIS}
    entry["hash"] = entry_hash(entry)
    return entry


def verify(entries: list, head: str | None = None, *, team_id: str | None = None,
           request_id: str | None = None) -> dict:
    """Recompute the chain. `head` is the stored hash of the last entry (finds a removed tail); `team_id` and
    `request_id`, when given, must be the ones the first entry is bound to."""
    def verdict(problem: str | None = None, at_seq: int | None = None, last: str = GENESIS) -> dict:
        return {"verifies": problem is None, "entries": len(entries), "problem": problem, "at_seq": at_seq,
                "head": last}

    if not entries:
        return verdict("the record has no entries", 0)
    prev = GENESIS
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            return verdict(f"entry {position} is not an object", position, prev)
        if "hash" not in entry:
            return verdict(f"entry {position} has no hash: written before records were chained, or stripped",
                           position, prev)
        seq = entry.get("seq")
        if type(seq) is not int or seq != position:
            return verdict(f"entry {position} has seq {seq!r}: an entry was removed, added or reordered",
                           position, prev)
        if entry.get("prev") != prev:
            return verdict(f"entry {position} does not follow the entry before it", position, prev)
        if entry.get("hash") != entry_hash(entry):
            return verdict(f"entry {position} was altered after it was written", position, prev)
        prev = entry["hash"]
    first = entries[0]
    if first.get("event") != "received":
        return verdict("the first entry is not the request's reception", 0, prev)
    for name, expected in (("team_id", team_id), ("request_id", request_id)):
        if expected is not None and first.get(name) != expected:
            return verdict(f"the record belongs to another request ({name} {first.get(name)!r})", 0, prev)
    if head is not None and head != prev:
        return verdict("the record ends before its stored head: entries were removed from its end",
                       len(entries), prev)
    return verdict(last=prev)
