"""Who did something to a request, typed: `{"kind": ..., "id": ...}`.

Actors used to be strings ("client", "system", "system:<id>", "owner:<id>", else a member id), so a member whose
id was one of those read as someone else: a skip by member "system:crm" looked like the CRM's own answer, an
execution by member "client" like the client's. Now every actor is stored with its kind:

    member   a team member (id: the member id), through a bearer token or an action link
    client   the data subject (id: null), through their verification or status link
    system   a connected system (id: its system id), through its callback or a 2xx of its webhook
    owner    the owner of a manual system (id: the system id), through their task link
    service  the module itself (id: null): the worker, the stream handler, housekeeping

Strings stored before (history entries, tasks' answered_by, executed_by) are still read, by the rule they were
written with; which of them a look-alike member wrote can't be told any more.
"""
from .errors import BadRequest

MEMBER, CLIENT, SYSTEM, OWNER, SERVICE = "member", "client", "system", "owner", "service"
KINDS = (MEMBER, CLIENT, SYSTEM, OWNER, SERVICE)
# Member ids that could be read as another kind, in a record, a log or by a person: the kinds, the words the
# legacy strings used, and any `kind:id` form.
RESERVED_MEMBER_IDS = frozenset(KINDS) | {"module", "officer", "admin", "anonymous", "nobody"}


def member(member_id: str) -> dict:
    return {"kind": MEMBER, "id": member_id}


def client() -> dict:
    return {"kind": CLIENT, "id": None}


def system(system_id: str) -> dict:
    return {"kind": SYSTEM, "id": system_id}


def owner(system_id: str) -> dict:
    return {"kind": OWNER, "id": system_id}


def service() -> dict:
    return {"kind": SERVICE, "id": None}


def read(value) -> dict | None:
    """A stored actor as a typed one: typed values as they are, legacy strings by the rule they were written
    with ("system" was the module, "system:<id>" a connected system, "owner:<id>" a manual system's owner)."""
    if value is None or isinstance(value, dict):
        return value
    text = str(value)
    if text == CLIENT:
        return client()
    if text == SYSTEM:
        return service()
    for kind in (SYSTEM, OWNER):
        if text.startswith(kind + ":"):
            return {"kind": kind, "id": text[len(kind) + 1:]}
    return member(text)


def kind(value) -> str | None:
    actor = read(value)
    return actor.get("kind") if actor else None


def check_new(actor) -> dict | None:
    """`actor` if it is typed (or None); a bare string is a caller that forgot to say who it means."""
    if actor is not None and not (isinstance(actor, dict) and actor.get("kind") in KINDS):
        raise TypeError(f"an actor must be typed ({{'kind': ..., 'id': ...}}), not {actor!r}")
    return actor


def check_member_id(member_id: str) -> str:
    """A new member's id must not read as another kind of actor: 400 naming the field otherwise."""
    if ":" in member_id:
        raise BadRequest("member_id must not contain ':' (it would read as another kind of actor, like "
                         "system:<id>)", field="member_id")
    if member_id.strip().casefold() in RESERVED_MEMBER_IDS:
        raise BadRequest(f"member_id {member_id!r} is reserved: it would read as another kind of actor",
                         field="member_id")
    return member_id
