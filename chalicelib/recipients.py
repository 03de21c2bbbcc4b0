"""Art. 19: every other application that received the client's data is told, and every answer is tracked.

When the module has done its own part of an erasure, rectification or restriction, each connected system
(systems.py) that receives that request type gets a task, kept on the request item (`recipients`, one entry
per system):
- a webhook system gets a signed event (webhooks.py, Standard Webhooks) retried on the spec's schedule until
  a 2xx; it answers later by POSTing to the event's `callback_url` (or, if set so, its 2xx is the answer);
  a 410 disables the system and the officer is told;
- a manual system's owner gets an email (the stream sends it) with a page to answer: done, no data for this
  client, or can't do it; reminded every REMIND_EVERY while open.
The request stays in_progress until every task is answered (completed, not_found, failed) or skipped by the
officer with a reason; then it closes as completed and the client's notice names who was informed.

Every change to the tasks is one conditional write on `recipients_rev` (read, change, write if nobody wrote
in between, else read again), so a retried message, a second click or two callbacks at once can't act twice.
A request waiting for its recipients sits in the sparse `by_chore` index (chore = deliver) at the time its
next retry or reminder is due: housekeeping's `run_due` picks it up even if every queued message was lost.
"""
import datetime as dt
import hashlib
import json
import logging

from pynamodb.exceptions import UpdateError

from . import actors, aws, clock, config, emails, schemas, systems, text, tokens
from . import privacy_requests as pr
from .db import condition_failed
from .errors import BadRequest, Conflict, DomainError, Forbidden, NotFound
from .models import PrivacyRequest

log = logging.getLogger(__name__)

ART19_TYPES = ("erasure", "rectification", "restriction", "opt_out_sale")
PENDING, DELIVERED, COMPLETED, NOT_FOUND, FAILED, SKIPPED = (
    "pending", "delivered", "completed", "not_found", "failed", "skipped")
ANSWERS = (COMPLETED, NOT_FOUND, FAILED)
FINAL = {COMPLETED, NOT_FOUND, FAILED, SKIPPED}
DELIVER = "deliver"  # the chore of a request waiting for its recipients
REMIND_EVERY = dt.timedelta(days=5)
IDLE_CHECK = dt.timedelta(days=1)  # nothing due: look again (a deleted system, a lost write) once a day
MAX_SQS_DELAY = 900  # seconds: longer waits are left to housekeeping's run_due
ATTEMPT_LEASE = dt.timedelta(seconds=60)  # one attempt at a time per task; a dead one is retried after this
MAX_TRIES = 5  # optimistic-write retries when another writer changed the tasks meanwhile


def schedule() -> list[float]:
    """Seconds to wait before each retry (Standard Webhooks: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; the
    local stage compresses it so a retry happens within seconds)."""
    return [float(part) for part in config.get("WEBHOOK_RETRY_SCHEDULE").split(",") if part.strip()]


def informed(task: dict) -> bool:
    """A recipient that was told (what the client's notice names): its webhook accepted the event (a 2xx the
    module saw itself), or the system or its owner answered the task. A skip is the team's word, not the
    system's: a task skipped before any delivery was not told, whoever skipped it."""
    if task.get("delivered_at"):
        return True
    answered = actors.read(task.get("answered_by"))
    return task.get("status") in ANSWERS and answered is not None \
        and answered["kind"] in (actors.SYSTEM, actors.OWNER) and answered["id"] == task.get("system_id")


def open_tasks(item: PrivacyRequest) -> list[dict]:
    return [task for task in pr.recipient_tasks(item) if task["status"] not in FINAL]


# --- creating the tasks when the module's own work is done -----------------------------------------------------

def begin(item: PrivacyRequest, result: dict, progress: dict) -> bool:
    """Called by the worker when the request's own work is done. With no system to tell, returns False and
    the caller closes the request; otherwise records the result, creates the tasks and starts them."""
    if item.type not in ART19_TYPES:
        return False
    targets = systems.for_request_type(item.team_id, item.type)
    if not targets:
        return False
    now = clock.now()
    tasks = {}
    for system in targets:
        task = {"system_id": system.system_id, "name": system.name, "kind": system.kind,
                "generation": system.generation, "status": PENDING, "attempts": 0,
                "event_id": f"msg_{item.request_id}_{system.system_id}"[:200]}
        if system.kind == "webhook":
            task["next_attempt_at"] = clock.iso(now)
        else:
            task.update(sends=1, last_sent_at=clock.iso(now), reminders_sent=0)
        tasks[system.system_id] = task

    def write(append: pr.Append) -> None:
        item.update(actions=[
            PrivacyRequest.result.set(result), PrivacyRequest.progress.set(progress),
            PrivacyRequest.work_done_at.set(clock.iso(now)), PrivacyRequest.recipients.set(tasks),
            PrivacyRequest.recipients_rev.set(1), PrivacyRequest.lease_until.remove(),
            PrivacyRequest.chore.set(DELIVER), PrivacyRequest.chore_at.set(clock.iso(_next_due(tasks, now))),
            *append.actions,
        ], condition=(PrivacyRequest.status == pr.IN_PROGRESS) & PrivacyRequest.work_done_at.does_not_exist()
            & append.condition)

    try:
        pr.chained(item, write, "work_done", item.executed_by, recipients=sorted(tasks))
    except UpdateError as exc:
        if condition_failed(exc):
            return True  # a duplicate slice already handed the request to its recipients
        raise
    for task in tasks.values():
        if task["kind"] == "webhook":
            enqueue(item.team_id, item.request_id, task["system_id"])
    return True


def enqueue(team_id: str, request_id: str, system_id: str, delay: float = 0) -> None:
    """Queue one delivery attempt on the execution queue (the worker dispatches on `kind`). A lost message
    costs nothing: housekeeping's run_due queues what is due."""
    try:
        aws.sqs().send_message(
            QueueUrl=aws.queue_url(config.get("EXECUTION_QUEUE")), DelaySeconds=int(min(max(delay, 0), MAX_SQS_DELAY)),
            MessageBody=json.dumps({"kind": DELIVER, "team_id": team_id, "request_id": request_id,
                                    "system_id": system_id}))
    except Exception:  # noqa: BLE001 — housekeeping is the safety net
        log.exception("could not queue a delivery for %s; housekeeping will", request_id)


def _next_due(tasks: dict, now: dt.datetime) -> dt.datetime:
    due = [now + IDLE_CHECK]
    for task in tasks.values():
        if task["status"] != PENDING:
            continue
        if task["kind"] == "webhook" and task.get("next_attempt_at") and not task.get("gave_up_at"):
            due.append(clock.parse(task["next_attempt_at"]))
        elif task["kind"] == "manual":
            due.append(clock.parse(task["last_sent_at"]) + REMIND_EVERY)
    return min(due)


# --- changing tasks: one conditional write per change ----------------------------------------------------------

def change(item: PrivacyRequest, apply) -> PrivacyRequest | None:
    """`apply(tasks, item)` changes the tasks dict in place and returns the history entry to append (a
    (name, by, details) tuple, or () for none), or None for "nothing to do". Written only if nobody changed the
    tasks or the history meanwhile; otherwise read again and apply again. Returns the item as written, or
    None if apply declined."""
    for _ in range(MAX_TRIES):
        if item.status != pr.IN_PROGRESS or not item.recipients:
            return None
        tasks = json.loads(json.dumps(item.recipients))  # a deep copy to change
        entry = apply(tasks, item)
        if entry is None:
            return None
        rev = int(item.recipients_rev or 0)
        actions = [PrivacyRequest.recipients.set(tasks), PrivacyRequest.recipients_rev.set(rev + 1),
                   PrivacyRequest.chore_at.set(clock.iso(_next_due(tasks, clock.now())))]
        condition = (PrivacyRequest.status == pr.IN_PROGRESS) & (PrivacyRequest.recipients_rev == rev)
        if entry:
            name, by, details = entry
            append = pr.record(item, name, by, **details)
            actions += append.actions
            condition = condition & append.condition
        try:
            item.update(actions=actions, condition=condition)
            return item
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
        item = pr.get_item(item.team_id, item.request_id, consistent=True)
    raise Conflict("the request's recipients changed too often at once; try again")


def settle(item: PrivacyRequest) -> PrivacyRequest | None:
    """Close the request as completed once its own work is done and every task is answered or skipped;
    returns the closed request, or None when it stays open (or another answer closed it)."""
    if item.status != pr.IN_PROGRESS or not item.work_done_at:
        return None
    if any(task["status"] not in FINAL for task in (item.recipients or {}).values()):
        return None
    try:
        return pr.close(item, pr.COMPLETED, {pr.IN_PROGRESS}, by=actors.service())
    except Conflict:
        return None  # closed by a concurrent answer


def _digest(words: str) -> str:
    return hashlib.sha256(words.encode()).hexdigest()


def _load(team_id: str, request_id: str) -> PrivacyRequest | None:
    try:
        return pr.get_item(team_id, request_id, consistent=True)
    except DomainError:
        return None


# --- webhook delivery -----------------------------------------------------------------------------------------

def callback_token(item: PrivacyRequest, task: dict) -> str:
    return tokens.sign(tokens.CALLBACK, {"team": item.team_id, "req": item.request_id, "sys": task["system_id"],
                                         "gen": task["generation"]})


def payload(item: PrivacyRequest, task: dict, now: dt.datetime) -> str:
    """The event (Standard Webhooks shape: type, timestamp, data). The client's address is what the receiver
    needs to find the data; the note says what was corrected (rectification)."""
    data = {"request_id": item.request_id, "team_id": item.team_id, "request_type": item.type,
            "email": item.email, "received_at": item.received_at, "due_at": item.due_at,
            "system_id": task["system_id"],
            "callback_url": config.public_url(f"/privacy/callbacks/{callback_token(item, task)}")}
    if item.type == "rectification":
        data["note"] = item.note
    return json.dumps({"type": f"privacy.{item.type}", "timestamp": clock.iso(now), "data": data},
                      separators=(",", ":"), ensure_ascii=False)


def deliver(message: dict, time_left) -> str:
    """One delivery attempt of one task (the worker's `deliver` messages). Returns what happened."""
    from . import webhooks

    team_id, request_id, system_id = (str(message.get(key)) for key in ("team_id", "request_id", "system_id"))
    item = _load(team_id, request_id)
    task = (item.recipients or {}).get(system_id) if item is not None else None
    if item is None or item.status != pr.IN_PROGRESS or task is None or task["kind"] != "webhook":
        return "nothing to do"
    now = clock.now()
    if task["status"] != PENDING or task.get("gave_up_at"):
        return "nothing to do"
    if clock.parse(task["next_attempt_at"]) > now + dt.timedelta(seconds=1):
        return "not due"
    if task.get("lease_until") and clock.parse(task["lease_until"]) > now:
        return "busy"
    system = systems.get(team_id, system_id)
    if system_gone(system, task) or system.disabled_at:
        reason = "the system was deleted" if system_gone(system, task) else f"the system is disabled: {system.disabled_reason}"
        _skip_for_system(item, system_id, task["generation"], reason)
        return "skipped"
    attempt = int(task["attempts"]) + 1

    def claim(tasks, _item):
        current = tasks.get(system_id)
        if current is None or current["status"] != PENDING or int(current["attempts"]) != attempt - 1:
            return None
        current.update(attempts=attempt, lease_until=clock.iso(now + ATTEMPT_LEASE))
        return ()

    item = change(item, claim)
    if item is None:
        return "busy"
    body = payload(item, task, now)
    headers = webhooks.signature_headers(system, task["event_id"], now, body)
    timeout = max(min(10.0, time_left() - 3.0), 1.0)
    try:
        answer = webhooks.post(system.url, headers, body.encode(), timeout=timeout)
        status, error = answer.status, None if 200 <= answer.status < 300 else \
            f"answered {answer.status}" + (f": {answer.excerpt}" if answer.excerpt else "")
    except webhooks.DeliveryError as exc:
        status, error = None, str(exc)[:500]
    if status == 410:
        systems.disable(system, "the receiver answered 410 Gone")
    return _record_attempt(item, system, attempt, status, error)


def _record_attempt(item: PrivacyRequest, system, attempt: int, status: int | None, error: str | None) -> str:
    system_id, now = system.system_id, clock.now()
    delays = schedule()
    outcome = {}

    def apply(tasks, _item):
        task = tasks.get(system_id)
        if task is None or task["status"] != PENDING or int(task["attempts"]) != attempt:
            return None
        task.pop("lease_until", None)
        if error is None:
            task.update(delivered_at=clock.iso(now), last_error=None)
            if system.completion == "2xx":
                task.update(status=COMPLETED, answered_at=clock.iso(now), answered_by=actors.system(system_id))
                outcome["result"] = "completed"
                return ("recipient_answered", actors.system(system_id), {"system": system_id, "status": COMPLETED,
                                                                         "via": "2xx"})
            task["status"] = DELIVERED
            outcome["result"] = "delivered"
            return ("recipient_delivered", actors.service(), {"system": system_id, "attempts": attempt})
        task["last_error"] = error
        if status == 410:
            task.update(status=FAILED, answered_at=clock.iso(now), answered_by=actors.service(),
                        note="the receiver answered 410 Gone: the system was disabled")
            outcome["result"] = "gone"
            return ("recipient_failed", actors.service(), {"system": system_id, "reason": "410 Gone; system disabled"})
        if attempt <= len(delays):
            wait = delays[attempt - 1]
            task["next_attempt_at"] = clock.iso(now + dt.timedelta(seconds=wait))
            outcome.update(result="retry", wait=wait)
            return ()
        task.update(gave_up_at=clock.iso(now), next_attempt_at=None)
        outcome["result"] = "gave up"
        return ("recipient_gave_up", actors.service(), {"system": system_id, "attempts": attempt})

    written = change(item, apply)
    if written is None:
        return "superseded"
    if outcome["result"] == "retry":
        if outcome["wait"] <= MAX_SQS_DELAY:
            enqueue(item.team_id, item.request_id, system_id, outcome["wait"])
        return "retry"
    settle(written)
    return outcome["result"]


def system_gone(system, task: dict) -> bool:
    """The task's system is gone, or its id was deleted and made again (another system, another generation)."""
    return system is None or system.generation != task["generation"]


def _skip_for_system(item: PrivacyRequest, system_id: str, generation: str | None, reason: str,
                     by: dict | None = None) -> PrivacyRequest | None:
    by = by or actors.service()

    def apply(tasks, _item):
        task = tasks.get(system_id)
        if task is None or task["status"] in FINAL or (generation and task["generation"] != generation):
            return None
        task.update(status=SKIPPED, answered_at=clock.iso(clock.now()), answered_by=by, note=reason,
                    next_attempt_at=None)
        task.pop("lease_until", None)
        # the reason stays on the task (shown to the team); the record keeps its digest, never words that
        # might name the client
        return ("recipient_skipped", by, {"system": system_id, "reason_sha256": _digest(reason)})

    written = change(item, apply)
    return None if written is None else settle(written) or written


# --- answers: the receiver's callback, the owner's page, the officer's skip --------------------------------------

def _answer(item: PrivacyRequest, system_id: str, generation: str, status: str, by: dict,
            note: str | None) -> PrivacyRequest:
    refused = {}

    def apply(tasks, _item):
        task = tasks.get(system_id)
        if task is None or task["generation"] != generation:
            refused["error"] = NotFound(f"request {item.request_id} has no task for system {system_id}")
            return None
        if task["status"] in FINAL:
            refused["error"] = Conflict(f"the task of system {system_id} was already answered: {task['status']}",
                                        status=task["status"])
            return None
        task.update(status=status, answered_at=clock.iso(clock.now()), answered_by=by, note=note,
                    next_attempt_at=None)
        task.pop("lease_until", None)
        details = {"system": system_id, "status": status}
        if note:  # the words stay on the task until pseudonymisation; the record keeps only their digest
            details["note_sha256"] = _digest(note)
        return ("recipient_answered", by, details)

    if item.status != pr.IN_PROGRESS or not item.recipients:
        raise Conflict(f"request {item.request_id} is {pr.effective_status(item)}: it has no open task",
                       status=pr.effective_status(item))
    written = change(item, apply)
    if written is None:
        raise refused.get("error") or Conflict(f"request {item.request_id} has no open task")
    return settle(written) or written


def callback(token: str, body) -> dict:
    """POST callback_url: the receiver says what it did. The token (in the path, made for this request and
    this system) is the proof; a wrong one is 401, another request's task 404, a second answer 409."""
    claims = tokens.read(token, tokens.CALLBACK)
    data = schemas.validate("recipient_answer", body)
    item = pr.get_item(str(claims["team"]), str(claims["req"]), consistent=True)
    note = (data.get("note") or "").strip() or None
    written = _answer(item, str(claims["sys"]), str(claims["gen"]), data["status"], actors.system(str(claims["sys"])),
                      note)
    return {"request_id": item.request_id, "system_id": claims["sys"], "status": data["status"],
            "request_status": written.status}


def skip(team_id: str, request_id: str, system_id: str, actor, body) -> dict:
    """The officer closes a task without the system's answer (it will never come), with the reason why."""
    from .execution import require_executor

    require_executor(team_id, actor)
    data = schemas.validate("deny", body)  # {"reason": ...}: the same rules as a denial's reason
    item = pr.get_item(team_id, request_id, consistent=True)
    task = (item.recipients or {}).get(system_id)
    if task is None:
        raise NotFound(f"request {request_id} has no task for system {system_id}")
    if task["status"] in FINAL:
        raise Conflict(f"the task of system {system_id} was already answered: {task['status']}", status=task["status"])
    written = _skip_for_system(item, system_id, None, data["reason"].strip(), by=actors.member(actor.member_id))
    if written is None:
        raise Conflict(f"the task of system {system_id} changed meanwhile; look again")
    return pr.view(written)


def retry(team_id: str, request_id: str, system_id: str, actor) -> dict:
    """Deliver again a webhook event whose retries ran out (after the receiver was fixed)."""
    from .execution import require_executor

    require_executor(team_id, actor)
    item = pr.get_item(team_id, request_id, consistent=True)
    task = (item.recipients or {}).get(system_id)
    if task is None or task["kind"] != "webhook":
        raise NotFound(f"request {request_id} has no webhook task for system {system_id}")
    if task["status"] != PENDING or not task.get("gave_up_at"):
        raise Conflict(f"the task of system {system_id} is {task['status']}"
                       + ("" if task["status"] != PENDING else " and still being retried"), status=task["status"])

    def apply(tasks, _item):
        current = tasks.get(system_id)
        if current is None or current["status"] != PENDING or not current.get("gave_up_at"):
            return None
        current.update(gave_up_at=None, attempts=0, next_attempt_at=clock.iso(clock.now()))
        return ("recipient_retried", actors.member(actor.member_id), {"system": system_id})

    written = change(item, apply)
    if written is None:
        raise Conflict(f"the task of system {system_id} changed meanwhile; look again")
    enqueue(team_id, request_id, system_id)
    return pr.view(written)


# --- the manual owner's page --------------------------------------------------------------------------------------

def task_token(item: PrivacyRequest, task: dict, owner_email: str) -> str:
    """Bound to the task's system generation and to the owner it was mailed to: if the system's owner changes,
    the old owner's link stops working."""
    return tokens.sign(tokens.TASK, {"team": item.team_id, "req": item.request_id, "sys": task["system_id"],
                                     "gen": task["generation"], "owner": emails.pseudonym(owner_email)})


class Revoked(Forbidden):
    reason = "task_revoked"


def load_task(token: str):
    claims = tokens.read(token, tokens.TASK)
    team_id, system_id = str(claims["team"]), str(claims["sys"])
    system = systems.get(team_id, system_id)
    if system is None or system.generation != claims.get("gen"):
        raise Revoked("the system this task was for has been removed")
    if system.kind != "manual" or emails.pseudonym(system.owner_email or "") != claims.get("owner"):
        raise Revoked("this link was sent to someone who no longer answers for this system")
    item = pr.get_item(team_id, str(claims["req"]), consistent=True)
    task = (item.recipients or {}).get(system_id)
    if task is None or task["generation"] != claims.get("gen"):
        raise NotFound("there is no such task")
    return item, task, system


def answer_task(item: PrivacyRequest, task: dict, action: str | None, reason: str | None) -> PrivacyRequest:
    """The owner's POST (its link already checked by load_task): done → completed, none → not_found, cannot →
    failed (with the reason why)."""
    status = {"done": COMPLETED, "none": NOT_FOUND, "cannot": FAILED}.get(action or "")
    if status is None:
        raise BadRequest("choose done, none or cannot", field="action")
    reason = (reason or "").strip() or None
    if status == FAILED and not reason:
        raise BadRequest("say why it can't be done", field="reason")
    if reason is not None:
        if len(reason) > 2000:
            raise BadRequest("the reason is longer than 2000 characters", field="reason")
        text.check_multiline(reason, "reason")
    return _answer(item, task["system_id"], task["generation"], status, actors.owner(task["system_id"]), reason)


# --- housekeeping: retries that are due, reminders, deleted systems -------------------------------------------------

def run_due(now: dt.datetime | None = None, limit: int = 50) -> dict:
    now = now or clock.now()
    done = {"deliveries_queued": 0, "reminders": 0, "settled": 0}
    for item in PrivacyRequest.by_chore.query(DELIVER, PrivacyRequest.chore_at <= clock.iso(now), limit=limit):
        if item.status != pr.IN_PROGRESS:
            continue
        item = _load(item.team_id, item.request_id)
        if item is None:
            continue
        for system_id, task in list((item.recipients or {}).items()):
            if task["status"] in FINAL:
                continue
            if system_gone(systems.get(item.team_id, system_id), task):
                item = _skip_for_system(item, system_id, task["generation"], "the system was deleted") or item
                continue
            if task["kind"] == "webhook" and task["status"] == PENDING and not task.get("gave_up_at") \
                    and clock.parse(task["next_attempt_at"]) <= now:
                enqueue(item.team_id, item.request_id, system_id)
                done["deliveries_queued"] += 1
            elif task["kind"] == "manual" and clock.parse(task["last_sent_at"]) + REMIND_EVERY <= now:
                done["reminders"] += _remind(item, system_id, now)
        if item.status == pr.IN_PROGRESS:
            if settle(item) is not None:
                done["settled"] += 1
            else:
                _touch(item, now)
    return done


def _remind(item: PrivacyRequest, system_id: str, now: dt.datetime) -> int:
    """Bump the task's send count: the stream sends the owner a reminder with a fresh link."""
    def apply(tasks, _item):
        task = tasks.get(system_id)
        if task is None or task["status"] in FINAL or clock.parse(task["last_sent_at"]) + REMIND_EVERY > now:
            return None
        task.update(sends=int(task.get("sends", 1)) + 1, last_sent_at=clock.iso(now),
                    reminders_sent=int(task.get("reminders_sent", 0)) + 1)
        return ()

    return int(change(item, apply) is not None)


def _touch(item: PrivacyRequest, now: dt.datetime) -> None:
    """Move the request's chore time to its next due task, so the index doesn't return it every run."""
    try:
        item.update(actions=[PrivacyRequest.chore_at.set(clock.iso(_next_due(item.recipients or {}, now)))],
                    condition=(PrivacyRequest.chore == DELIVER)
                    & (PrivacyRequest.recipients_rev == int(item.recipients_rev or 0)))
    except UpdateError as exc:
        if not condition_failed(exc):
            raise


def remove_system(team_id: str, system_id: str, by: dict) -> dict:
    """DELETE of a connected system: it is gone at once, and its open tasks are skipped, visibly (a run of
    housekeeping skips any this misses)."""
    system = systems.get(team_id, system_id)
    removed = systems.delete(team_id, system_id)
    system_deleted(team_id, system_id, system.generation if system is not None else None, by)
    return removed


def system_deleted(team_id: str, system_id: str, generation: str | None, by: dict, limit: int = 500) -> int:
    """A system deleted while tasks are open: those tasks are skipped, visibly, and their requests may close."""
    count = 0
    for item in PrivacyRequest.by_status.query(f"{team_id}#{pr.IN_PROGRESS}", limit=limit):
        task = (item.recipients or {}).get(system_id)
        if task is None or task["status"] in FINAL:
            continue
        fresh = _load(team_id, item.request_id)
        if fresh is not None and _skip_for_system(fresh, system_id, generation, "the system was deleted", by=by):
            count += 1
    return count
