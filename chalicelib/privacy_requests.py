"""Clients' privacy requests (seed §4–5) and their life cycle.

    awaiting_verification ──verify──▶ pending ──execute──▶ in_progress ──▶ completed
            │                            │    ▲                 │
            └──(7 days: expired)         │    └──execute again──┴──▶ failed
                                         └──deny / cancel──▶ denied / cancelled

Every transition is one conditional write (or transaction) on the current status, so two officers clicking
at once, a replayed link or a retried call can't act twice. While a request is open, a lock item keyed by
team, type and email makes a duplicate submission return the same request instead of creating another.
Emails are never sent here: the requests table's stream drives notifications (see notifications.py).
"""
import datetime as dt
import json
from typing import Callable, NamedTuple, TypeVar

from pynamodb.expressions.condition import Condition
from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from . import actors, clock, config, emails, ids, languages, ratelimit, regimes, request_record, schemas, signing_keys, tokens
from .db import cancellation_codes, cancelled_by_condition, check_cursor, condition_failed, connection, transaction_conflict
from .errors import BadRequest, Conflict, NotFound
from .models import Marker, PrivacyRequest, TeamSettings
from .teams import require_team

AWAITING, PENDING, IN_PROGRESS, COMPLETED, FAILED = (
    "awaiting_verification", "pending", "in_progress", "completed", "failed")
DENIED, CANCELLED, EXPIRED = "denied", "cancelled", "expired"
CONSENT_WITHDRAWAL = "consent_withdrawal"
OPT_OUT_SALE = regimes.OPT_OUT_SALE  # needs no verification and no officer: it starts when submitted (§7026)
STATUSES = [AWAITING, PENDING, IN_PROGRESS, COMPLETED, FAILED, DENIED, CANCELLED, EXPIRED]
OPEN = {AWAITING, PENDING, IN_PROGRESS, FAILED}
EXECUTABLE = {PENDING, FAILED}

# A verification link lives 24 h; an unverified request lives as long as its newest link, so once every link
# has expired a new submission starts afresh (new message, new links) instead of meeting a lock.
LINK_LIFETIME = tokens.LIFETIMES[tokens.VERIFY]
MAX_VERIFICATION_SENDS = 4  # verification emails per request in any rolling LINK_LIFETIME
# However often it is re-sent, an unverified request stops being extended this long after it was received.
UNVERIFIED_LIFETIME = dt.timedelta(days=7)
PAGE_SIZE = 25
OPEN_DUE = "open"
T = TypeVar("T")


APPEND_ATTEMPTS = 3  # writes tried when other entries keep being appended meanwhile (see chained)


class Append(NamedTuple):
    """One history entry chained to the item's head as it was read, and how to write it: add `actions` to the
    update and AND `condition` into its condition, so the entry lands only on the head it was chained to."""
    entry: dict
    actions: list
    condition: Condition


def genesis(team_id: str, request_id: str, request_type: str, received_at: str, address: str) -> dict:
    """The first entry, binding the record to its request; the client is named by a keyed hash only."""
    return request_record.chained([], signing_keys.record_key().key, received_at, "received", actors.client(),
                                  team_id=team_id, request_id=request_id, type=request_type,
                                  received_at=received_at, client=emails.pseudonym(address))


def record(item: PrivacyRequest, name: str, by: dict | None = None, /, **details) -> Append:
    """Append an entry after the history of `item` (as read), by the typed actor `by`. Callers whose condition
    may still hold when only the head moved use `chained`, which retries; others get the head condition's
    failure like their own."""
    actors.check_new(by)
    if "@" in (item.email or ""):
        # The record outlives the address (pseudonymisation rewrites no entry): whatever would carry it — a
        # member id or a system id that happens to contain it — is written with the keyed hash instead.
        by, details = json.loads(_without_address(json.dumps([by, details]), item.email))
    entry = request_record.chained(list(item.history or []), signing_keys.record_key().key,
                                   clock.iso(clock.now()), name, by, **details)
    if "@" in (item.email or "") and item.email in json.dumps(entry, ensure_ascii=False):
        raise ValueError(f"a history entry ({name}) must not hold the client's address")
    head = PrivacyRequest.history_head
    return Append(entry, [PrivacyRequest.history.set((PrivacyRequest.history | []).append([entry])),
                          head.set(entry["hash"])],
                  head == item.history_head if item.history_head else head.does_not_exist())


def _without_address(text: str | None, address: str) -> str | None:
    if text is None or address not in text:
        return text
    return text.replace(address, emails.pseudonym(address))


def chained(item: PrivacyRequest, write: Callable[[Append], T], name: str, by: dict | None = None, /,
            **details) -> T:
    """`write(append)` makes the caller's conditional write with the entry added. Callers read the item before
    writing, so an entry appended meanwhile (an email alert from the stream, a notice) fails the head
    condition although the caller's own condition may still hold: then the entry is chained again onto the
    fresh head and the same write retried. If the head held, the caller's condition failed: its error is
    raised as it always was."""
    for attempt in range(APPEND_ATTEMPTS):
        append = record(item, name, by, **details)
        try:
            return write(append)
        except (UpdateError, TransactWriteError) as exc:
            lost = condition_failed(exc) if isinstance(exc, UpdateError) else \
                (cancelled_by_condition(exc) or transaction_conflict(exc))
            if not lost or attempt == APPEND_ATTEMPTS - 1:
                raise
            try:
                fresh = PrivacyRequest.get(item.team_id, item.request_id, consistent_read=True)
            except DoesNotExist:
                raise exc from None
            if fresh.history_head == item.history_head:
                raise
            item = fresh
    raise AssertionError("unreachable")


def lock_key(team_id: str, request_type: str, email: str) -> str:
    return f"open#{team_id}#{request_type}#{emails.pseudonym(email)}"  # no address in a key


def view(r: PrivacyRequest) -> dict:
    return {
        "request_id": r.request_id,
        "team_id": r.team_id,
        "type": r.type,
        "status": effective_status(r),
        "email": r.email,
        "message": r.message,
        "locale": r.locale,
        "accept_language": r.accept_language,
        "received_at": r.received_at,
        "due_at": r.due_at,
        "original_due_at": r.original_due_at or r.due_at,
        "extension_months": int(r.extension_months or 0),
        "extension_reason": r.extension_reason,
        "extension_days": int(r.extension_days or 0),
        "regime": r.regime or regimes.DEFAULT,
        "receipt_due_at": r.receipt_due_at,
        "gpc": bool(r.gpc),
        "paused_at": r.paused_at,
        "paused_days": int(r.paused_days or 0),
        "clarification_question": r.clarification_question,
        "clarification_answer": r.clarification_answer,
        "appealed_at": r.appealed_at,
        "appeal_reason": r.appeal_reason,
        "first_denial_reason": r.first_denial_reason,
        "verified_at": r.verified_at,
        "started_at": r.started_at,
        "completed_at": r.completed_at,
        "executed_by": r.executed_by,  # typed (ActorAttribute), older strings read by their rule
        "result": r.result,
        "progress": r.progress,
        "failure_reason": r.failure_reason,
        "note": r.note,
        "denial_reason": r.denial_reason,
        "denial_basis": r.denial_basis,
        "lifted_at": r.lifted_at,
        "overdue": is_overdue(r),
        "history": list(r.history or []),
        "alerts": list(r.alerts or []),
        "sweep": r.sweep,
        "pseudonymised_at": r.pseudonymised_at,
        "work_done_at": r.work_done_at,
        "recipients": recipient_tasks(r),
    }


RECIPIENT_FIELDS = ("system_id", "name", "kind", "status", "attempts", "last_error", "next_attempt_at",
                    "delivered_at", "answered_at", "answered_by", "note", "gave_up_at", "reminders_sent")


def recipient_tasks(r: PrivacyRequest) -> list[dict]:
    """Art. 19: one entry per connected system told of this request (see recipients.py), by name."""
    tasks = sorted((r.recipients or {}).values(), key=lambda task: (task["name"], task["system_id"]))
    return [{key: actors.read(task.get(key)) if key == "answered_by" else task.get(key) for key in RECIPIENT_FIELDS}
            for task in tasks]


def effective_status(r: PrivacyRequest) -> str:
    # TTL deletion is lazy: an unverified request past its expiry is expired even if DynamoDB still holds it.
    if r.status == AWAITING and r.expires_at is not None and r.expires_at <= clock.now():
        return EXPIRED
    return r.status


def is_overdue(r: PrivacyRequest) -> bool:
    """Not while the clock stands still for the client's clarification (UK GDPR Art. 12A)."""
    return r.status in OPEN - {AWAITING} and not r.paused_at and clock.parse(r.due_at) < clock.now()


def get_item(team_id: str, request_id: str, consistent: bool = False) -> PrivacyRequest:
    if not (ids.plausible(team_id) and ids.plausible(request_id)):
        raise NotFound("privacy request does not exist")
    try:
        item = PrivacyRequest.get(team_id, request_id, consistent_read=consistent)
    except DoesNotExist:
        raise NotFound(f"privacy request {request_id} does not exist in team {team_id}") from None
    if effective_status(item) == EXPIRED:
        raise NotFound(f"privacy request {request_id} does not exist in team {team_id}")
    return item


def get_request(team_id: str, request_id: str) -> dict:
    require_team(team_id)
    return view(get_item(team_id, request_id))


def get_record(team_id: str, request_id: str) -> dict:
    """The request's record (Art. 5(2), Art. 19) and whether it verifies: every MAC with the record keys we
    hold, the stored head, the first entry against the request, and the request's state against what the
    record says happened. Read consistently: a record just appended to must not look truncated."""
    require_team(team_id)
    return record_of(get_item(team_id, request_id, consistent=True))


def record_of(item: PrivacyRequest) -> dict:
    """get_record's answer for a request already read (consistently)."""
    entries = list(item.history or [])
    verdict = request_record.verify(entries, item.history_head, keys=signing_keys.record_key_for,
                                    first=expected_first(item), state=record_state(item))
    return {"request_id": item.request_id, "team_id": item.team_id, "entries": entries, "head": item.history_head,
            "verifies": verdict["verifies"], "problem": verdict["problem"], "at_seq": verdict["at_seq"]}


def expected_first(item: PrivacyRequest) -> dict:
    """What the record's first entry must say of this request. The client: the stored keyed hash once
    pseudonymised, else the address's hash under any key the pseudonym key may have been (see client_hashes)."""
    client = item.email if item.email.startswith("h:") else client_hashes(item.email)
    return {"team_id": item.team_id, "request_id": item.request_id, "type": item.type,
            "received_at": item.received_at, "client": client}


def client_hashes(address: str) -> frozenset:
    """The address's keyed hash under the pseudonym key, or, when PSEUDONYM_KEY is unset (it is then the token
    key), under every token key we hold: a request received before a rotation was hashed with the older one."""
    if config.optional("PSEUDONYM_KEY"):
        return frozenset({emails.pseudonym(address)})
    return frozenset({"h:" + ids.keyed_hash(address, key) for key in signing_keys.for_kid(None)})


def record_state(item: PrivacyRequest) -> dict:
    """What the request item says happened, which its record must hold (request_record._check_state)."""
    return {
        "status": item.status, "resends": int(item.verification_sends or 1) - 1,
        "extension_months": int(item.extension_months or 0), "extension_days": int(item.extension_days or 0),
        "alerts": len(item.alerts or []),
        "work_done": bool(item.work_done_at), "restriction_lifted": bool(item.lifted_at),
        "erasure_swept": bool(item.sweep), "pseudonymised": bool(item.pseudonymised_at),
        "closed_tasks": sorted(sid for sid, task in (item.recipients or {}).items()
                               if task.get("status") in ("completed", "not_found", "failed", "skipped")),
    }


# --- submission and verification (public portal) -------------------------------------------------------------

def submit(team_id: str, body, source_ip: str | None, accept_language: str | None = None, gpc: bool = False,
           start: Callable[[str, str], None] | None = None) -> dict:
    """`accept_language`: the portal's Accept-Language header, for a submission naming no `locale`; `gpc`: the
    browser sent `Sec-GPC: 1`, which a law honouring Global Privacy Control takes as an opt-out of sale/sharing
    (CCPA regs §7025), recorded beside whatever was asked. `start(team_id, request_id)` queues the work of a
    request that starts when submitted (execution.enqueue; without it the watchdog queues it within minutes)."""
    data = schemas.validate("portal_request", body)
    locale = languages.check(data.get("locale"), "body.locale")
    settings = require_team(team_id)
    regime = regimes.choose(settings, data.get("regime"))
    regimes.check_right(regime, data["type"])
    new = Submission(team_id, data["email"], locale, accept_language, regime, settings, start)
    receipt = _create(new, data["type"], data.get("message"), source_ip)
    if gpc and regime.gpc and data["type"] != OPT_OUT_SALE:
        _create(new, OPT_OUT_SALE, None, None, gpc=True)
    return receipt


def submit_consent_withdrawal(team_id: str, body, source_ip: str | None, accept_language: str | None = None) -> dict:
    """Art. 7(3): withdrawing consent is as easy as giving it — one verified step, no officer decision."""
    data = schemas.validate("consent_withdraw", body)
    locale = languages.check(data.get("locale"), "body.locale")
    settings = require_team(team_id)
    new = Submission(team_id, data["email"], locale, accept_language, regimes.get(settings.regime), settings)
    return _create(new, CONSENT_WITHDRAWAL, None, source_ip)


class Submission(NamedTuple):
    team_id: str
    email: str
    locale: str | None
    accept_language: str | None
    regime: regimes.Regime
    settings: TeamSettings
    start: Callable[[str, str], None] | None = None


def _create(new: Submission, request_type: str, message: str | None, source_ip: str | None,
            gpc: bool = False) -> dict:
    """Record a submission. The answer is the same receipt whatever already exists for this address (a new
    request, a duplicate, a verified one): only the email tells its owner anything, so the portal can't be
    used to learn who has a request. `source_ip` None: already counted (a GPC opt-out beside a request)."""
    team_id, address = new.team_id, emails.normalise(new.email)
    if source_ip is not None:
        ratelimit.check_source(source_ip)
    received = clock.now()
    request_id = ids.new_id("r_")
    starts_at_once = request_type == OPT_OUT_SALE
    receipt = {"request_id": request_id, "status": IN_PROGRESS if starts_at_once else AWAITING}
    if not ratelimit.tagged_inbox_allows(team_id, address):
        return receipt
    request = PrivacyRequest(
        team_id, request_id, type=request_type, email=address, team_email=f"{team_id}#{address}", message=message,
        locale=new.locale, accept_language=_header(new.accept_language) if new.locale is None else None,
        received_at=clock.iso(received), regime=new.regime.code, gpc=gpc or None,
        due_at=clock.iso(regimes.answer_due(new.regime, received, request_type)),
        retain_days=regimes.retention_days(regimes.offered(new.settings)) or None,
        lock_key=lock_key(team_id, request_type, address))
    if new.regime.receipt is not None:
        request.receipt_due_at = clock.iso(regimes.due_after(new.regime, received, new.regime.receipt))
    first = genesis(team_id, request_id, request_type, request.received_at, address)
    request.history = [first]
    if starts_at_once:
        _started_by_client(request, received)
        lock = Marker(request.lock_key, value=request_id, created_at=request.received_at)
    else:
        links_expire = received + LINK_LIFETIME
        request.status, request.team_status = AWAITING, f"{team_id}#{AWAITING}"
        request.verification_sends, request.verification_sent_at = 1, [clock.iso(received)]
        request.expires_at = links_expire
        lock = Marker(request.lock_key, value=request_id, created_at=request.received_at, expires_at=links_expire)
    request.history_head = request.history[-1]["hash"]
    try:
        with TransactWrite(connection=connection()) as tx:
            # The team may be deleted between the read and this write: checked again here.
            tx.condition_check(TeamSettings, team_id, condition=TeamSettings.team_id.exists())
            # A lock whose request's links have all expired doesn't block a new request: it starts afresh.
            tx.save(lock, condition=Marker.pk.does_not_exist() | (Marker.expires_at < received))
            tx.save(request, condition=PrivacyRequest.request_id.does_not_exist())
    except TransactWriteError as exc:
        codes = cancellation_codes(exc)
        if codes[:1] == ["ConditionalCheckFailed"]:
            raise NotFound(f"team {team_id} does not exist") from None
        if codes[1:2] == ["ConditionalCheckFailed"]:
            _duplicate(team_id, request.lock_key, received)
            return receipt
        if transaction_conflict(exc):
            raise Conflict("a request for this email is being recorded; try again") from None
        raise
    if starts_at_once and new.start is not None:
        new.start(team_id, request_id)
    return receipt


def _started_by_client(request: PrivacyRequest, now: dt.datetime) -> None:
    """An opt-out of sale/sharing needs no verification (§7026(d)) nor anyone's approval: it is written already
    claimed for the worker (the chore the watchdog queues), so it runs even if nothing else happens."""
    request.status, request.team_status = IN_PROGRESS, f"{request.team_id}#{IN_PROGRESS}"
    request.open_due, request.started_at, request.executed_by = OPEN_DUE, clock.iso(now), actors.client()
    request.chore, request.chore_at = EXECUTE, clock.iso(now)
    request.history = request.history + [request_record.chained(
        request.history, signing_keys.record_key().key, clock.iso(now), "execution_started", actors.client())]


def _header(value: str | None) -> str | None:
    """Accept-Language as stored: bounded, printable ASCII (it is only ever parsed for language tags)."""
    value = "".join(c for c in (value or "")[:languages.MAX_HEADER] if " " <= c <= "~").strip()
    return value or None


def _duplicate(team_id: str, key: str, now) -> None:
    """The same address asked the same thing while a request is open. If it still awaits verification this
    counts as a re-send of the verification email (within the cap); otherwise nothing happens."""
    try:
        lock = Marker.get(key, consistent_read=True)
        existing = PrivacyRequest.get(team_id, lock.value, consistent_read=True)
    except DoesNotExist:
        return  # released meanwhile (cancelled, closed): the client may simply submit again
    if effective_status(existing) == AWAITING:
        try:
            _bump_verification(existing, now)
        except Conflict:
            pass  # over the cap: the inbox already holds working links


def resend_verification(team_id: str, request_id: str, source_ip: str | None) -> dict:
    """Same receipt whatever the id names (nothing, a verified request, an unverified one): see _create."""
    require_team(team_id)
    ratelimit.check_source(source_ip)
    receipt = {"request_id": request_id, "status": AWAITING}
    try:
        item = get_item(team_id, request_id, consistent=True)
    except NotFound:
        return receipt
    if effective_status(item) != AWAITING or not ratelimit.tagged_inbox_allows(team_id, item.email):
        return receipt
    try:
        _bump_verification(item, clock.now())
    except Conflict:
        pass
    return receipt


def _bump_verification(item: PrivacyRequest, now) -> None:
    """One more verification email, if fewer than MAX_VERIFICATION_SENDS went in the last LINK_LIFETIME and the
    request is younger than UNVERIFIED_LIFETIME. The request and its lock then live as long as the new link.

    A compare-and-set on the send counter: two racing re-sends can't both pass the cap."""
    recent = [t for t in (item.verification_sent_at or []) if clock.parse(t) > now - LINK_LIFETIME]
    if len(recent) >= MAX_VERIFICATION_SENDS or clock.parse(item.received_at) <= now - UNVERIFIED_LIFETIME:
        raise Conflict("the verification email was already sent the maximum number of times")
    sends = int(item.verification_sends or 1)
    links_expire = now + LINK_LIFETIME

    def write(append: Append) -> None:
        with TransactWrite(connection=connection()) as tx:
            tx.update(item, actions=[
                PrivacyRequest.verification_sends.set(sends + 1),
                PrivacyRequest.verification_sent_at.set(recent + [clock.iso(now)]),
                PrivacyRequest.expires_at.set(links_expire),
                *append.actions,
            ], condition=(PrivacyRequest.status == AWAITING) & (PrivacyRequest.verification_sends == sends)
                & (PrivacyRequest.expires_at > now) & append.condition)
            tx.update(Marker(item.lock_key), actions=[Marker.expires_at.set(links_expire)],
                      condition=Marker.value == item.request_id)

    try:
        chained(item, write, "verification_resent", actors.client())
    except TransactWriteError as exc:
        if not (cancelled_by_condition(exc) or transaction_conflict(exc)):
            raise
        raise Conflict("the request changed meanwhile") from None


def verification_token(item: PrivacyRequest) -> str:
    return tokens.sign(tokens.VERIFY, {"team": item.team_id, "req": item.request_id})


def status_token(item: PrivacyRequest) -> str:
    return tokens.sign(tokens.STATUS, {"team": item.team_id, "req": item.request_id})


def verify(token: str) -> PrivacyRequest:
    """The client opened the link: the request is theirs, and now reaches the officer."""
    claims = tokens.read(token, tokens.VERIFY)
    item = get_item(claims["team"], claims["req"], consistent=True)
    if item.status in (CANCELLED, DENIED):
        raise Conflict(f"request {item.request_id} was {item.status}")
    if item.status != AWAITING:
        return item  # opened twice: already verified, nothing to do
    stamp = clock.now()

    def write(append: Append) -> None:
        with TransactWrite(connection=connection()) as tx:
            tx.update(item, actions=[
                PrivacyRequest.status.set(PENDING),
                PrivacyRequest.team_status.set(f"{item.team_id}#{PENDING}"),
                PrivacyRequest.verified_at.set(clock.iso(stamp)),
                PrivacyRequest.expires_at.remove(),
                PrivacyRequest.open_due.set(OPEN_DUE),
                *append.actions,
            ], condition=(PrivacyRequest.status == AWAITING) & (PrivacyRequest.expires_at > stamp) & append.condition)
            # The lock now lives as long as the request is open.
            tx.update(Marker(item.lock_key), actions=[Marker.expires_at.remove()],
                      condition=Marker.value == item.request_id)

    try:
        chained(item, write, "verified", actors.client())
    except TransactWriteError as exc:
        if not (cancelled_by_condition(exc) or transaction_conflict(exc)):
            raise
        current = get_item(item.team_id, item.request_id, consistent=True)
        if current.status == AWAITING:
            raise Conflict("the request could not be verified; open the link again") from None
        return current
    return get_item(item.team_id, item.request_id, consistent=True)


# --- listing ------------------------------------------------------------------------------------------------

def list_requests(team_id: str, status: str | None, cursor: dict | None, overdue: bool = False,
                  due_before: str | None = None, sort: str | None = None) -> dict:
    require_team(team_id)
    if sort not in (None, "received_at", "due_at"):
        raise BadRequest("sort must be received_at (newest first) or due_at (soonest first)", field="sort")
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {STATUSES}", field="status")
    now = clock.now()
    condition, status = _by_expiry(status, now)
    if overdue:
        condition = _and(condition, PrivacyRequest.due_at < clock.iso(now))
        condition = _and(condition, PrivacyRequest.status.is_in(PENDING, IN_PROGRESS, FAILED))
    if due_before is not None:
        try:
            limit_date = clock.parse(due_before)
            if limit_date.tzinfo is None:
                limit_date = limit_date.replace(tzinfo=clock.UTC)
            limit_iso = clock.iso(limit_date)  # OverflowError near year 1 or 9999 (e.g. 0001-01-01T00:00+01:00)
        except (ValueError, OverflowError):
            raise BadRequest("due_before must be an ISO 8601 date", field="due_before") from None
        condition = _and(condition, PrivacyRequest.due_at < limit_iso)
    if sort == "due_at":
        if status is not None:
            condition = _and(condition, PrivacyRequest.status == status)
        check_cursor(cursor, {"team_id": team_id}, ("request_id", "due_at"))
        results = PrivacyRequest.by_team_due.query(team_id, filter_condition=condition, scan_index_forward=True,
                                                   last_evaluated_key=cursor, limit=PAGE_SIZE)
    elif status is not None:
        check_cursor(cursor, {"team_id": team_id, "team_status": f"{team_id}#{status}"}, ("request_id",))
        results = PrivacyRequest.by_status.query(f"{team_id}#{status}", filter_condition=condition,
                                                 scan_index_forward=False, last_evaluated_key=cursor,
                                                 limit=PAGE_SIZE)
    else:
        check_cursor(cursor, {"team_id": team_id}, ("request_id",))
        results = PrivacyRequest.query(team_id, filter_condition=condition, scan_index_forward=False,
                                       last_evaluated_key=cursor, limit=PAGE_SIZE)
    items = [view(r) for r in results]
    return {"items": items, "next_key": results.last_evaluated_key}


def _and(left, right):
    return right if left is None else left & right


def _unexpired(now):
    return PrivacyRequest.expires_at.does_not_exist() | (PrivacyRequest.expires_at > now)


def _by_expiry(status: str | None, now) -> tuple:
    """(filter, status to query) for a status filter: "expired" is an unverified request past its expiry (TTL
    deletes lazily), "awaiting_verification" one before it; no filter hides the expired ones."""
    if status == AWAITING:
        return PrivacyRequest.expires_at > now, AWAITING
    if status == EXPIRED:
        return PrivacyRequest.expires_at <= now, AWAITING
    return (_unexpired(now) if status is None else None), status


ACTIONABLE = (PENDING, IN_PROGRESS, FAILED)  # open and confirmed by the client: what an officer must act on
MAX_OPEN = 2000  # open requests are read whole to sort by due date; a team this far behind sees the first ones


def open_requests(team_id: str, request_type: str | None = None) -> list[PrivacyRequest]:
    """The team's confirmed open requests, soonest due first: one Query per open status (the by_status index),
    so the read is bounded by what is open, never by the team's history."""
    require_team(team_id)
    condition = PrivacyRequest.type == request_type if request_type else None
    found: list[PrivacyRequest] = []
    for status in ACTIONABLE:
        found += list(PrivacyRequest.by_status.query(f"{team_id}#{status}", filter_condition=condition,
                                                     limit=MAX_OPEN - len(found), page_size=100))
    return sorted(found, key=lambda r: (r.due_at, r.request_id))


def requests_by(team_id: str, status: str | None, request_type: str | None, cursor: dict | None,
                email: str | None = None, size: int = PAGE_SIZE) -> dict:
    """A page of the team's requests, newest first: of one status, of one client (by their address), or all."""
    require_team(team_id)
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {STATUSES}", field="status")
    now = clock.now()
    condition, status = _by_expiry(status, now)
    if condition is None:  # a status of its own: still hide what the TTL has not deleted yet
        condition = _unexpired(now)
    condition = _and(PrivacyRequest.type == request_type if request_type else None, condition)
    if email is not None:
        key = f"{team_id}#{emails.normalise(email, 'email')}"
        if status is not None:
            condition = _and(condition, PrivacyRequest.status == status)
        check_cursor(cursor, {"team_id": team_id, "team_email": key}, ("request_id",))
        results = PrivacyRequest.by_requester.query(key, filter_condition=condition, scan_index_forward=False,
                                                    last_evaluated_key=cursor, limit=size, page_size=100)
    elif status is not None:
        check_cursor(cursor, {"team_id": team_id, "team_status": f"{team_id}#{status}"}, ("request_id",))
        results = PrivacyRequest.by_status.query(f"{team_id}#{status}", filter_condition=condition,
                                                 scan_index_forward=False, last_evaluated_key=cursor,
                                                 limit=size, page_size=100)
    else:
        check_cursor(cursor, {"team_id": team_id}, ("request_id",))
        results = PrivacyRequest.query(team_id, filter_condition=condition, scan_index_forward=False,
                                       last_evaluated_key=cursor, limit=size, page_size=100)
    items = list(results)
    return {"items": items, "next_key": results.last_evaluated_key if len(items) == size else None}


# --- transitions used by execution ---------------------------------------------------------------------------

def start(item: PrivacyRequest, actor: dict, extra: list | None = None) -> PrivacyRequest:
    """pending|failed → in_progress, exactly once however many clicks race for it. An in_progress request is
    never claimed again by a click: its worker carries on, and a dead worker is replaced automatically."""
    now = clock.now()
    try:
        chained(item, lambda append: item.update(actions=[
            PrivacyRequest.status.set(IN_PROGRESS),
            PrivacyRequest.team_status.set(f"{item.team_id}#{IN_PROGRESS}"),
            PrivacyRequest.started_at.set(clock.iso(now)),
            PrivacyRequest.executed_by.set(actor),
            PrivacyRequest.failure_reason.remove(),
            *append.actions,
            *(extra or []),
        ], condition=PrivacyRequest.status.is_in(*EXECUTABLE) & append.condition), "execution_started", actor)
    except UpdateError as exc:
        if condition_failed(exc):
            current = get_item(item.team_id, item.request_id, consistent=True)
            raise Conflict(f"request {item.request_id} is {effective_status(current)}: it can't be executed "
                           "now", status=effective_status(current)) from None
        raise
    return item


def record_progress(item: PrivacyRequest, progress: dict) -> None:
    item.update(actions=[PrivacyRequest.progress.set(progress)], condition=PrivacyRequest.status == IN_PROGRESS)


def fail(item: PrivacyRequest, reason: str, progress: dict | None) -> None:
    actions = [PrivacyRequest.status.set(FAILED), PrivacyRequest.team_status.set(f"{item.team_id}#{FAILED}"),
               PrivacyRequest.chore.remove(), PrivacyRequest.chore_at.remove(), PrivacyRequest.lease_until.remove(),
               PrivacyRequest.failure_reason.set(reason[:1000])]
    if progress is not None:
        actions.append(PrivacyRequest.progress.set(progress))
    chained(item, lambda append: item.update(actions=actions + append.actions,
                                             condition=(PrivacyRequest.status == IN_PROGRESS) & append.condition),
            "execution_failed", item.executed_by)


# --- housekeeping queued when a request closes (run by housekeeping.py) -------------------------------------

SWEEP, SCRUB = "sweep", "scrub"
EXECUTE = "execute"  # the chore of a request that a worker must carry on (execution.py)
SWEEP_DELAY = dt.timedelta(minutes=2)  # GSIs usually catch up within a second; this leaves a wide margin


def retention(item: PrivacyRequest | None = None) -> dt.timedelta:
    """How long a closed request keeps the client's address and words before they are pseudonymised: the
    stage's setting, or longer when a law the team offered at submission keeps records longer (CCPA §7101)."""
    days = config.get_int("CLOSED_REQUEST_RETENTION_DAYS")
    return dt.timedelta(days=max(days, int(getattr(item, "retain_days", None) or 0)))


def chore_on_close(item: PrivacyRequest, status: str, now: dt.datetime) -> list:
    """An erasure is swept again once the index caught up; every closed request is scrubbed after retention."""
    if item.type == "erasure" and status == COMPLETED:
        return [PrivacyRequest.chore.set(SWEEP), PrivacyRequest.chore_at.set(clock.iso(now + SWEEP_DELAY))]
    return [PrivacyRequest.chore.set(SCRUB), PrivacyRequest.chore_at.set(clock.iso(now + retention(item)))]


def close(item: PrivacyRequest, status: str, from_statuses: set[str], by: dict | None = None,
          **fields) -> PrivacyRequest:
    """Move an open request to a final status and release its lock, in one transaction."""
    now = clock.now()
    actions = [PrivacyRequest.status.set(status), PrivacyRequest.team_status.set(f"{item.team_id}#{status}"),
               PrivacyRequest.completed_at.set(clock.iso(now)), PrivacyRequest.open_due.remove(),
               PrivacyRequest.lease_until.remove(), *chore_on_close(item, status, now)]
    # expires_at stays: a request cancelled before it was verified still vanishes with its TTL.
    for name, value in fields.items():
        actions.append(getattr(PrivacyRequest, name).set(value))

    def write(append: Append) -> None:
        with TransactWrite(connection=connection()) as tx:
            tx.update(item, actions=actions + append.actions,
                      condition=PrivacyRequest.status.is_in(*from_statuses) & append.condition)
            tx.delete(Marker(item.lock_key), condition=Marker.pk.does_not_exist() | (Marker.value == item.request_id))

    try:
        chained(item, write, status, by or item.executed_by)
    except TransactWriteError as exc:
        if not (cancelled_by_condition(exc) or transaction_conflict(exc)):
            raise
        current = get_item(item.team_id, item.request_id, consistent=True)
        raise Conflict(f"request {item.request_id} is {effective_status(current)}",
                       status=effective_status(current)) from None
    return get_item(item.team_id, item.request_id, consistent=True)


def require_confirm(body) -> dict:
    data = schemas.validate("execute", body)
    if data.get("confirm") is not True:
        raise BadRequest("executing a request needs {\"confirm\": true}", field="body.confirm")
    return data


PUBLIC_FIELDS = ("request_id", "type", "status", "received_at", "due_at", "completed_at", "extension_months",
                 "extension_reason", "denial_reason", "note", "regime", "extension_days", "paused_at",
                 "clarification_question", "appealed_at")


def public_view(data: dict) -> dict:
    return {k: data[k] for k in PUBLIC_FIELDS}


# --- the clock: extend, deny, cancel (Art. 12) -----------------------------------------------------------------

def extend(team_id: str, request_id: str, body, by: dict | None = None) -> dict:
    """Extend by what the request's law allows, decided and explained before the original due date: the GDPR's
    one or two more months (Art. 12(3)), or a law's one fixed extension (CCPA, US states, PIPEDA)."""
    data = schemas.validate("extend", body)
    require_team(team_id)
    item = get_item(team_id, request_id, consistent=True)
    regime = regimes.get(item.regime)
    now = clock.now()
    original = item.original_due_at or item.due_at
    if clock.parse(original) <= now:
        raise Conflict("an extension must be decided before the original due date "
                       f"({original[:10]}); it has passed")
    field, already, total = _extension(regime, item, data)
    new_due = clock.iso(regimes.answer_due(regime, clock.parse(item.received_at), item.type,
                                           total, int(item.paused_days or 0)))
    attribute = getattr(PrivacyRequest, field)
    unchanged = (attribute == already) if already else attribute.does_not_exist() | (attribute == 0)
    unit = "months" if field == "extension_months" else "days"
    try:
        chained(item, lambda append: item.update(actions=[
            attribute.set(total),
            PrivacyRequest.original_due_at.set(original),
            PrivacyRequest.due_at.set(new_due),
            PrivacyRequest.extension_reason.set(data["reason"]),
            *append.actions,
        ], condition=PrivacyRequest.status.is_in(PENDING, IN_PROGRESS, FAILED) & unchanged & append.condition),
            "extended", by, **{unit: total - already}, due_at=new_due)
    except UpdateError as exc:
        if condition_failed(exc):
            current = get_item(team_id, request_id, consistent=True)
            raise Conflict(f"request {request_id} is {effective_status(current)} or changed meanwhile; "
                           "reload and try again") from None
        raise
    return view(item)


def extension_granted(item: PrivacyRequest) -> int:
    """What was granted, in the law's unit (a request's law counts in months or in days, never both)."""
    return int(item.extension_months or 0) + int(item.extension_days or 0)


def _extension(regime: regimes.Regime, item: PrivacyRequest, data: dict) -> tuple[str, int, int]:
    """(the item's field, what it holds, what it will hold), or why this law allows no (further) extension."""
    if regime.extension is None or item.type == OPT_OUT_SALE:
        what = "an opt-out of sale or sharing" if item.type == OPT_OUT_SALE else "a request"
        raise Conflict(f"{regime.law} allows no extension of {what}: it must be answered by {item.due_at[:10]}")
    if regime.months_choice:
        if "months" not in data:
            raise BadRequest(f"body.months: {regime.law} extends by 1 or 2 months; say which", field="body.months")
        already = int(item.extension_months or 0)
        total = already + int(data["months"])  # the enum [1, 2] also admits 1.0 and 2.0 (JSON Schema equality)
        if total > regime.extension.count:
            raise Conflict(f"at most {regime.extension.count} extra months in all; {already} already granted")
        return "extension_months", already, total
    if "months" in data:
        raise BadRequest(f"body.months: {regime.law} extends by {regime.extension.count} days, once; send only "
                         "the reason", field="body.months")
    already = int(item.extension_days or 0)
    if already:
        raise Conflict(f"{regime.law} allows one extension only, and this request was already extended by "
                       f"{already} days")
    return "extension_days", 0, regime.extension.count


def deny(team_id: str, request_id: str, body, by: dict | None = None) -> dict:
    """Art. 12(4): refuse with reasons; the client's email tells them they may complain and go to court."""
    data = schemas.validate("deny", body)
    require_team(team_id)
    item = get_item(team_id, request_id, consistent=True)
    return view(close(item, DENIED, {PENDING, FAILED}, by=by, denial_reason=data["reason"],
                      denial_basis=data.get("basis") or "other"))


def cancel(token: str, request_id: str) -> dict:
    """The client withdraws their own request, from the link in their receipt."""
    item = _client_item(token, request_id)
    return view(close(item, CANCELLED, {AWAITING, PENDING, FAILED}, by=actors.client(),
                      cancelled_by=actors.client()))


def _client_item(token: str, request_id: str, consistent: bool = True) -> PrivacyRequest:
    """The request a client's status link names: the link must be for this request."""
    claims = tokens.read(token, tokens.STATUS)
    if claims.get("req") != request_id:
        raise tokens.TokenError("this link belongs to another request", "invalid")
    return get_item(claims["team"], request_id, consistent=consistent)


# --- appeals (US state laws) and clarifications (UK GDPR Art. 12A) ------------------------------------------------

def appeal(token: str, request_id: str, body) -> dict:
    """A denied client appeals, once, from their status page (e.g. Va. Code §59.1-577(C)): the request is open
    again, due within the law's appeal period, for the team to grant (execute) or deny with reasons."""
    data = schemas.validate("appeal", body if body is not None else {})
    item = _client_item(token, request_id)
    regime = regimes.get(item.regime)
    if regime.appeal is None:
        raise Conflict(f"{regime.law} gives no appeal against a denial; the denial email says where to complain")
    if item.appealed_at:
        raise Conflict("this request was already appealed, and the appeal answered or under way: a denial can be "
                       "appealed once")
    if item.status != DENIED:
        raise Conflict(f"only a denied request can be appealed; this one is {effective_status(item)}")
    now = clock.now()
    due = clock.iso(regimes.due_after(regime, now, regime.appeal))
    reason = (data.get("reason") or "").strip() or None
    actions = [PrivacyRequest.status.set(PENDING), PrivacyRequest.team_status.set(f"{item.team_id}#{PENDING}"),
               PrivacyRequest.open_due.set(OPEN_DUE), PrivacyRequest.appealed_at.set(clock.iso(now)),
               PrivacyRequest.first_denial_reason.set(item.denial_reason or ""), PrivacyRequest.denial_reason.remove(),
               PrivacyRequest.completed_at.remove(), PrivacyRequest.chore.remove(), PrivacyRequest.chore_at.remove(),
               PrivacyRequest.due_at.set(due), PrivacyRequest.original_due_at.set(due)]
    if reason:
        actions.append(PrivacyRequest.appeal_reason.set(reason))
    _client_write(item, actions, (PrivacyRequest.status == DENIED) & PrivacyRequest.appealed_at.does_not_exist(),
                  "appealed", due_at=due)
    return view(get_item(item.team_id, request_id, consistent=True))


def ask_clarification(team_id: str, request_id: str, body, by: dict | None = None) -> dict:
    """UK GDPR Art. 12A: the team needs the client to clarify what they ask; the clock stands still from now
    until the client answers (from their status page), and the client is emailed the question."""
    data = schemas.validate("clarify", body)
    require_team(team_id)
    item = get_item(team_id, request_id, consistent=True)
    regime = regimes.get(item.regime)
    if not regime.pauses:
        raise Conflict(f"{regime.law} doesn't stop the clock for a clarification: ask the client, and answer by "
                       f"{item.due_at[:10]} all the same")
    if item.status not in EXECUTABLE:
        raise Conflict(f"request {request_id} is {effective_status(item)}: a clarification is asked before acting")
    if item.paused_at:
        raise Conflict("a clarification is already awaited from the client")
    try:
        chained(item, lambda append: item.update(actions=[
            PrivacyRequest.paused_at.set(clock.iso(clock.now())),
            PrivacyRequest.clarification_question.set(data["question"]),
            PrivacyRequest.clarification_answer.remove(), PrivacyRequest.open_due.remove(), *append.actions,
        ], condition=PrivacyRequest.status.is_in(*EXECUTABLE) & PrivacyRequest.paused_at.does_not_exist()
            & append.condition), "clarification_requested", by)
    except UpdateError as exc:
        if condition_failed(exc):
            raise Conflict(f"request {request_id} changed meanwhile; reload and try again") from None
        raise
    return view(item)


def clarify(token: str, request_id: str, body) -> dict:
    """The client's clarification: the clock starts again, the due date moved by the whole days it stood still."""
    data = schemas.validate("clarification", body)
    item = _client_item(token, request_id)
    if not item.paused_at:
        raise Conflict("no clarification is awaited for this request")
    regime = regimes.get(item.regime)
    now = clock.now()
    stood = (regimes.local_date(regime, now) - regimes.local_date(regime, clock.parse(item.paused_at))).days
    paused = int(item.paused_days or 0) + stood
    received = clock.parse(item.received_at)
    extension = extension_granted(item)
    actions = [PrivacyRequest.paused_at.remove(), PrivacyRequest.paused_days.set(paused),
               PrivacyRequest.clarification_answer.set(data["answer"]),
               PrivacyRequest.due_at.set(clock.iso(regimes.answer_due(regime, received, item.type, extension, paused)))]
    if item.original_due_at:
        actions.append(PrivacyRequest.original_due_at.set(
            clock.iso(regimes.answer_due(regime, received, item.type, 0, paused))))
    if item.status in ACTIONABLE:
        actions.append(PrivacyRequest.open_due.set(OPEN_DUE))
    _client_write(item, actions, PrivacyRequest.paused_at == item.paused_at, "clarification_received", days=stood)
    return view(get_item(item.team_id, request_id, consistent=True))


def _client_write(item: PrivacyRequest, actions: list, condition, event: str, **details) -> None:
    try:
        chained(item, lambda append: item.update(actions=actions + append.actions, condition=condition & append.condition),
                event, actors.client(), **details)
    except UpdateError as exc:
        if condition_failed(exc):
            raise Conflict("the request changed meanwhile; open its page again") from None
        raise


def status_for_client(token: str, request_id: str) -> tuple[dict, bool]:
    item = _client_item(token, request_id, consistent=False)
    return view(item), effective_status(item) in {AWAITING, PENDING, FAILED}
