"""The other applications a team tells about its clients' requests (Art. 19): the registry of connected systems.

A system is a `webhook` (the module POSTs signed events to its `url`) or `manual` (an application with no API:
its `owner_email` is asked to act by hand). PUT replaces the whole description; a webhook's signing secret is
answered once, when issued (on creation, on `rotate_secret`, or when a manual system becomes a webhook), and
never shown again. After a rotation the previous secret keeps signing for a day, so receivers can switch.
"""
import base64
import datetime as dt
import re
import secrets as random

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from . import clock, emails, ids, schemas, text, webhooks
from .db import cancellation_codes, cancelled_by_condition, condition_failed, connection, transaction_conflict
from .errors import BadRequest, Conflict, NotFound
from .models import System, TeamSettings
from .teams import require_team

KINDS = ("webhook", "manual")
# What recipients must be told: Art. 19's three, and an opt-out of sale/sharing (CCPA §7026(f)(2): the third
# parties the data was sold or shared to are told to stop).
REQUEST_TYPES = ["erasure", "rectification", "restriction", "opt_out_sale"]
COMPLETIONS = ("callback", "2xx")
MAX_SYSTEMS = 50
MAX_ID_LENGTH = 100
ROTATION_OVERLAP = dt.timedelta(hours=24)
MAX_REASON = 500


def new_secret() -> str:
    """Standard Webhooks format: whsec_ + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(random.token_bytes(32)).decode()


def view(system: System) -> dict:
    """What members see: never a secret (only when the previous one stops signing, during a rotation)."""
    previous = [s["expires_at"] for s in (system.secrets or [])
                if s.get("expires_at") and clock.parse(s["expires_at"]) > clock.now()]
    return {
        "team_id": system.team_id,
        "system_id": system.system_id,
        "name": system.name,
        "kind": system.kind,
        "url": system.url,
        "owner_email": system.owner_email,
        "request_types": list(system.request_types),
        "completion": system.completion,
        "previous_secret_expires_at": max(previous) if previous else None,
        "disabled_at": system.disabled_at,
        "disabled_reason": system.disabled_reason,
        "created_at": system.created_at,
        "updated_at": system.updated_at,
    }


def get(team_id: str, system_id: str) -> System | None:
    if not (ids.plausible(team_id) and ids.plausible(system_id)):
        return None
    try:
        return System.get(team_id, system_id, consistent_read=True)
    except DoesNotExist:
        return None


def get_view(team_id: str, system_id: str) -> dict:
    system = get(team_id, system_id)
    if system is None:
        raise NotFound(f"system {system_id} does not exist in team {team_id}")
    return view(system)


def list_systems(team_id: str) -> dict:
    """Every system of the team (at most 50: one page), by id."""
    require_team(team_id)
    return {"items": [view(s) for s in System.query(team_id, consistent_read=True)], "next_key": None}


def for_request_type(team_id: str, request_type: str) -> list[System]:
    """The enabled systems that receive this type of request."""
    if not ids.plausible(team_id):
        return []
    return [s for s in System.query(team_id, consistent_read=True)
            if s.disabled_at is None and request_type in (s.request_types or [])]


def put(team_id: str, system_id: str, body) -> tuple[dict, bool]:
    """Create or replace a system; (its view, created). The view carries `secret` only when one was just issued."""
    data = schemas.validate("system_put", body)
    _check_id(system_id)
    require_team(team_id)
    existing = get(team_id, system_id)
    if existing is None:
        _check_new_id(system_id)
    stamp = clock.iso(clock.now())
    kind = data["kind"]
    fields = {"name": data["name"], "kind": kind, "request_types": _request_types(data), "url": None,
              "owner_email": None, "completion": None, "secrets": None}
    if kind == "webhook":
        _refuse(data, "owner_email", "only a manual system has an owner_email")
        if "url" not in data:
            raise BadRequest("body.url is required for a webhook", field="body.url")
        fields.update(url=webhooks.check_url(data["url"]), completion=data.get("completion", "callback"))
    else:
        for name in ("url", "completion", "rotate_secret"):
            _refuse(data, name, f"only a webhook has a {name}")
        if "owner_email" not in data:
            raise BadRequest("body.owner_email is required for a manual system", field="body.owner_email")
        fields["owner_email"] = emails.normalise(data["owner_email"], "body.owner_email")
    issued = None
    if kind == "webhook":
        kept = existing.secrets if existing is not None and existing.kind == "webhook" else None
        if not kept or data.get("rotate_secret"):
            issued = new_secret()
        fields["secrets"] = _rotated(kept or [], issued, stamp) if issued else kept
    if existing is None:
        system = System(team_id, system_id, generation=ids.new_id("g_"), created_at=stamp, updated_at=stamp,
                        **fields)
        _create(system)
    else:
        # A PUT is the admin looking at the system again: it re-enables one that deliveries had disabled.
        system = System(team_id, system_id, generation=existing.generation, created_at=existing.created_at,
                        updated_at=stamp, disabled_at=None, disabled_reason=None, **fields)
        _replace(system, existing)
    out = view(system)
    if issued:
        out["secret"] = issued
    return out, existing is None


def delete(team_id: str, system_id: str) -> dict:
    """Remove a system; its view as it was. Work already bound to it can tell by its generation."""
    system = get(team_id, system_id)
    if system is None:
        raise NotFound(f"system {system_id} does not exist in team {team_id}")
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.delete(system, condition=System.generation == system.generation)
            tx.update(TeamSettings(team_id), actions=[TeamSettings.system_count.add(-1)],
                      condition=TeamSettings.team_id.exists())
    except TransactWriteError as exc:
        if transaction_conflict(exc) or cancelled_by_condition(exc):
            raise Conflict(f"system {system_id} changed meanwhile; reload and try again") from None
        raise
    return view(system)


def disable(system: System, reason: str) -> bool:
    """Stop sending to a system (a receiver answering 410, failing for days...): True if this call disabled
    it, False if it already was, or was deleted or re-created meanwhile."""
    stamp = clock.iso(clock.now())
    reason = (reason or "disabled")[:MAX_REASON]
    try:
        system.update(actions=[System.disabled_at.set(stamp), System.disabled_reason.set(reason)],
                      condition=System.disabled_at.does_not_exist() & (System.generation == system.generation))
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


# --- helpers -------------------------------------------------------------------------------------------------

def _check_id(system_id: str) -> None:
    text.check_label(system_id, "system_id")  # shown to officers, named in events
    if not ids.plausible(system_id) or len(system_id) > MAX_ID_LENGTH or system_id.strip() != system_id:
        raise BadRequest(f"system_id must be 1 to {MAX_ID_LENGTH} characters, without surrounding spaces",
                         field="system_id")
    if "@" in system_id:
        # The id is written into requests' records, which must never hold a client's address (a record entry
        # that would is refused, and the request's work with it): no id can contain one.
        raise BadRequest("system_id must not contain @: it is written into request records, which never hold an "
                         "email address", field="system_id")


NEW_ID = re.compile(r"[A-Za-z0-9_-]{1,%d}" % MAX_ID_LENGTH)


def _check_new_id(system_id: str) -> None:
    """A new system's id is a path segment of the console's forms and of the API: letters, digits, - and _ only
    (an id with `/`, `?` or `..` would point a form at another page). Older ids keep working."""
    if not NEW_ID.fullmatch(system_id):
        raise BadRequest("system_id must be letters, digits, - and _ only", field="system_id")


def _request_types(data: dict) -> list[str]:
    wanted = set(data.get("request_types") or REQUEST_TYPES)
    return [t for t in REQUEST_TYPES if t in wanted]  # stable order, whatever the body's


def _refuse(data: dict, name: str, why: str) -> None:
    if name in data:
        raise BadRequest(f"body.{name}: {why}", field=f"body.{name}")


def _rotated(kept: list[dict], issued: str, stamp: str) -> list[dict]:
    """The new secret current; the one it replaces signs for another day; those already expired go."""
    now, out = clock.now(), []
    until = clock.iso(now + ROTATION_OVERLAP)
    for entry in kept:
        expires = entry.get("expires_at")
        if expires is None:
            out.append({**entry, "expires_at": until})
        elif clock.parse(expires) > now:
            out.append(entry)
    return out + [{"secret": issued, "created_at": stamp, "expires_at": None}]


def _create(system: System) -> None:
    """Written with the team's system_count in one transaction: the cap is a condition, not a count read before."""
    under_cap = TeamSettings.system_count.does_not_exist() | (TeamSettings.system_count < MAX_SYSTEMS)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(system, condition=System.system_id.does_not_exist())
            tx.update(TeamSettings(system.team_id), actions=[TeamSettings.system_count.add(1)],
                      condition=TeamSettings.team_id.exists() & under_cap)
    except TransactWriteError as exc:
        codes = cancellation_codes(exc)
        if transaction_conflict(exc):
            raise Conflict("the team changed while saving the system; try again") from None
        if not cancelled_by_condition(exc):
            raise
        if codes[0] == "ConditionalCheckFailed":
            raise Conflict(f"system {system.system_id} was created meanwhile; reload and try again") from None
        require_team(system.team_id)
        raise Conflict(f"a team may connect at most {MAX_SYSTEMS} systems; delete one first") from None


def _replace(system: System, existing: System) -> None:
    """Only over the version read: a concurrent change (or a delete and re-create) answers 409, not lost."""
    try:
        # updated_at has one-second steps; the secrets too, so two rotations racing can't both answer a secret.
        same_secrets = System.secrets.does_not_exist() if existing.secrets is None \
            else System.secrets == existing.secrets
        system.save(condition=(System.generation == existing.generation)
                    & (System.updated_at == existing.updated_at) & same_secrets)
    except PutError as exc:
        if condition_failed(exc):
            raise Conflict(f"system {system.system_id} changed meanwhile; reload and try again") from None
        raise
