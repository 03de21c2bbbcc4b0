"""Executing a verified request (seed §5: "execute, then confirm"), from the account or an action link.

The caller has already proven who they are; `execute` checks they may act (a team admin or the team's privacy
officer), claims the request with one conditional write (pending|failed → in_progress, so a double click or
two officers can't run it twice), queues it, and answers at once. The work never runs inside an API call:
API Gateway ends every call at 29 s, and an erasure or export grows with the client's data.

The worker (`work`, an SQS-triggered Lambda) runs bounded slices:
1. it takes the request's lease with one conditional write (in_progress, and no live lease), so two copies of a
   message never run at once;
2. it runs the request's work until done or until the Lambda's remaining time falls under SAFETY, saving
   progress as it goes (erasure: after every page; export: after every uploaded part);
3. done: it closes the request (completed), which the stream turns into the client's notice; not done: it
   saves progress, releases the lease and queues the next slice.

A crash or timeout loses nothing: the lease expires, and the watchdog (`requeue_stalled`, run by the
housekeeping every few minutes) queues again any in_progress request whose lease or hand-off is overdue
(`chore` = execute in the sparse by_chore index). A transient AWS failure is retried the same way; any other
failure marks the request `failed` with its reason and keeps its progress, and executing it again resumes.
"""
import datetime as dt
import json
import logging
import time

from pynamodb.exceptions import UpdateError

from . import actors, aws, clock, config, dossiers, exports, notifications, purge, recipients, schemas, teams
from . import privacy_requests as pr
from .awsfaults import is_transient
from .db import condition_failed
from .errors import BadRequest, Conflict, DomainError, Forbidden, Unprocessable
from .models import PrivacyRequest

log = logging.getLogger(__name__)

EXECUTE = pr.EXECUTE
SAFETY = 20.0  # seconds kept in hand at the end of a slice (at most a fifth of it): finish a page, save, queue
HAND_OFF = dt.timedelta(minutes=2)  # a queued slice not picked up by then is queued again by the watchdog


def lease() -> dt.timedelta:
    """How long a slice holds its request: longer than the worker's Lambda timeout, so a live slice is never
    overtaken (360 s for the 300 s worker; the local stage uses a short one so a killed worker is replaced
    within seconds)."""
    return dt.timedelta(seconds=config.get_int("EXECUTION_LEASE_SECONDS"))


class ExecutionFailed(DomainError):
    status, code = 503, "ExecutionFailed"
    reason = "failed"


def may_execute(team_id: str, member) -> bool:
    """`member` is a Member already read (or None): a team admin, or the team's privacy officer."""
    if member is None:
        return False
    return member.role == "admin" or executor_in(teams.require_team(team_id), member)


def executor_in(settings, member) -> bool:
    """The rule of may_execute, with the team's settings already read."""
    return member is not None and (member.role == "admin" or settings.privacy_officer_id == member.member_id)


def require_executor(team_id: str, member) -> None:
    if not may_execute(team_id, member):
        raise Forbidden("only a team admin or the team's privacy officer may act on privacy requests")


def execute(team_id: str, request_id: str, actor, body) -> dict:
    data = pr.require_confirm(body)
    require_executor(team_id, actor)
    item = pr.get_item(team_id, request_id, consistent=True)
    return run(item, actors.member(actor.member_id), data)


def run(item, actor: dict, data: dict) -> dict:
    """Claim the request and queue its work; returns the request as it now is (in_progress)."""
    runner = RUNNERS.get(item.type)
    if runner is None:
        raise Unprocessable(f"{item.type} requests can't be executed here")
    runner.check(item, data)
    extra = [PrivacyRequest.chore.set(EXECUTE), PrivacyRequest.chore_at.set(clock.iso(clock.now() + HAND_OFF)),
             PrivacyRequest.lease_until.remove()]
    if runner.keeps_note:
        extra.append(PrivacyRequest.note.set(data["note"].strip()))
    pr.start(item, actor, extra)
    enqueue(item.team_id, item.request_id)
    return pr.view(item)


def enqueue(team_id: str, request_id: str) -> None:
    """Queue a slice. If this fails after the claim, the watchdog queues it within minutes: nothing is lost."""
    try:
        aws.sqs().send_message(QueueUrl=aws.queue_url(config.get("EXECUTION_QUEUE")),
                               MessageBody=json.dumps({"team_id": team_id, "request_id": request_id}))
    except Exception:  # noqa: BLE001 — the claim is recorded; the watchdog is the safety net
        log.exception("could not queue the execution of %s; the watchdog will", request_id)


def handle_messages(bodies: list[str], remaining_ms) -> dict:
    """The SQS worker's entry point: one slice per message. `remaining_ms()` is the Lambda's time left."""
    outcomes = [dispatch(json.loads(body), lambda: remaining_ms() / 1000.0) for body in bodies]
    return {"slices": outcomes}


def dispatch(message: dict, time_left) -> str:
    """The queue carries two kinds of message: a slice of a request's own work, and one delivery attempt of
    an event to a connected system (recipients.py)."""
    if isinstance(message, dict) and message.get("kind") == recipients.DELIVER:
        return recipients.deliver(message, time_left)
    return work(message, time_left)


def work(message: dict, time_left) -> str:
    """Run one bounded slice of a request's work; returns what happened (for logs and tests)."""
    try:
        item = pr.get_item(str(message.get("team_id")), str(message.get("request_id")), consistent=True)
    except DomainError:
        return "gone"
    if item.status != pr.IN_PROGRESS or item.work_done_at:
        return "nothing to do"  # done, failed or cancelled meanwhile, or waiting for recipients; a duplicate
    if not _take_lease(item):
        return "busy"  # another slice holds it; if that one dies, the watchdog queues the request again
    runner = RUNNERS[item.type]
    progress = dict(item.progress or {})
    progress["slices"] = int(progress.get("slices", 0)) + 1
    started = time.monotonic()
    remaining = time_left()
    budget = max(remaining - min(SAFETY, remaining / 5), 0.0)

    def should_stop() -> bool:
        return time.monotonic() - started >= budget

    try:
        result = runner.run(item, progress, should_stop,
                            lambda p: pr.record_progress(item, p))
    except Exception as exc:  # noqa: BLE001 — every failure is either retried or recorded, never silent
        if is_transient(exc):
            log.warning("slice of %s hit a transient failure; it will be retried: %s", item.request_id, exc)
            _release(item, progress, retry_in=dt.timedelta(seconds=30))
            raise
        log.exception("execution of %s failed", item.request_id)
        pr.fail(item, f"{type(exc).__name__}: {exc}", progress)
        return "failed"
    if result is None:
        _release(item, progress, retry_in=HAND_OFF)
        enqueue(item.team_id, item.request_id)
        return "continued"
    if recipients.begin(item, result, progress):
        return "recipients"  # Art. 19: it completes when every connected system has answered
    pr.close(item, pr.COMPLETED, {pr.IN_PROGRESS}, result=result, progress=progress)
    return "completed"


def _take_lease(item) -> bool:
    now = clock.now()
    until = clock.iso(now + lease())
    try:
        item.update(actions=[PrivacyRequest.lease_until.set(until), PrivacyRequest.chore_at.set(until)],
                    condition=(PrivacyRequest.status == pr.IN_PROGRESS)
                    & (PrivacyRequest.lease_until.does_not_exist() | (PrivacyRequest.lease_until < clock.iso(now))))
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def _release(item, progress: dict, retry_in: dt.timedelta) -> None:
    """Save progress and hand the request on; the watchdog takes over if the next slice never starts."""
    item.update(actions=[PrivacyRequest.progress.set(progress), PrivacyRequest.lease_until.remove(),
                         PrivacyRequest.chore_at.set(clock.iso(clock.now() + retry_in))],
                condition=PrivacyRequest.status == pr.IN_PROGRESS)


def requeue_stalled(now: dt.datetime | None = None, limit: int = 100) -> int:
    """Queue again every in_progress request whose slice died or whose hand-off was lost (the watchdog)."""
    now = now or clock.now()
    count = 0
    for item in PrivacyRequest.by_chore.query(EXECUTE, PrivacyRequest.chore_at <= clock.iso(now), limit=limit):
        if item.status == pr.IN_PROGRESS:
            enqueue(item.team_id, item.request_id)
            count += 1
    return count


class Runner:
    keeps_note = False  # the note the officer typed is stored at claim time, for the worker and the client

    @staticmethod
    def check(item, data):
        pass


class Erasure(Runner):
    """Art. 17: every dossier of the client in this team, with documents and consent records, then earlier
    exports. Bounded: it stops between pages when the slice's time is up and carries on in the next slice."""

    @staticmethod
    def run(item, progress, should_stop, save):
        if not purge.erase_client(item.team_id, item.email, progress, save, should_stop=should_stop):
            return None
        exports_deleted = exports.erase_client_exports(item.team_id, item.email)
        return {"dossiers_deleted": progress["dossiers_deleted"], "documents_deleted": progress["documents_deleted"],
                "exports_deleted": exports_deleted}


class Export(Runner):
    """Art. 15 / Art. 20: a zip the client downloads through their emailed link."""

    @staticmethod
    def run(item, progress, should_stop, save):
        return exports.build(item, progress, save, should_stop)


class Rectification(Runner):
    """Art. 16: the officer corrects dossiers (PATCH), then completes with a note the client receives."""

    keeps_note = True

    @staticmethod
    def check(item, data):
        if not (data.get("note") or "").strip():
            raise BadRequest("completing a rectification needs a note for the client (what was corrected)",
                             field="body.note")

    @staticmethod
    def run(item, progress, should_stop, save):
        return {"dossiers": dossiers.count_client_dossiers(item.team_id, item.email)}


class Restriction(Runner):
    """Art. 18: dossiers stay stored, but every write to them is refused until the restriction is lifted."""

    @staticmethod
    def run(item, progress, should_stop, save):
        return {"dossiers_restricted": dossiers.set_restricted(item.team_id, item.email, True)}


class Objection(Runner):
    """Art. 21: the objection is recorded for the email; new dossiers record it and lists show it."""

    @staticmethod
    def run(item, progress, should_stop, save):
        return {"dossiers": dossiers.record_objection(item.team_id, item.email, item.request_id)}


class OptOutSale(Runner):
    """CCPA §1798.120 / §7026: started by the client's submission itself (no verification, no officer), then the
    connected systems are told (recipients.py) and it completes when they have answered."""

    @staticmethod
    def run(item, progress, should_stop, save):
        return {"dossiers": dossiers.record_opt_out(item.team_id, item.email, item.request_id)}


class ConsentWithdrawal(Runner):
    """Art. 7(3): run as soon as the client verified — withdrawing needs nobody's approval."""

    @staticmethod
    def run(item, progress, should_stop, save):
        return {"dossiers_updated": dossiers.withdraw_consent(item.team_id, item.email)}


RUNNERS = {
    "erasure": Erasure,
    "access": Export,
    "portability": Export,
    "rectification": Rectification,
    "restriction": Restriction,
    "objection": Objection,
    pr.CONSENT_WITHDRAWAL: ConsentWithdrawal,
    pr.OPT_OUT_SALE: OptOutSale,
}


def after_verification(item) -> dict | None:
    """A verified consent withdrawal takes effect at once; other requests wait for the officer."""
    if item.type == pr.CONSENT_WITHDRAWAL and item.status in pr.EXECUTABLE:  # failed: the link retries it
        try:
            return run(item, actors.client(), {"confirm": True})
        except Conflict:
            return None  # another click already ran it
    return None


def lift_restriction(team_id: str, request_id: str, actor, body) -> dict:
    schemas.validate("empty", body if body is not None else {})
    require_executor(team_id, actor)
    item = pr.get_item(team_id, request_id, consistent=True)
    if item.type != "restriction" or item.status != pr.COMPLETED:
        raise Conflict("only a completed restriction request can be lifted")
    if item.lifted_at:
        raise Conflict("this restriction was already lifted")
    # Art. 18(3): the client is told *before* the restriction is lifted. If the email can't go, nothing is
    # lifted. Then unmark (idempotent) and record the lift: a crash in between is finished by lifting again.
    try:
        notifications.deliver(notifications.Event("client_restriction_lifted", item))
    except Exception as exc:  # noqa: BLE001 — any mail failure means: don't lift yet
        log.exception("could not tell the client before lifting %s", item.request_id)
        raise ExecutionFailed("the client could not be told of the lift, so nothing was lifted; try again") from exc
    count = dossiers.set_restricted(team_id, item.email, False)
    try:
        pr.chained(item, lambda append: item.update(
            actions=[PrivacyRequest.lifted_at.set(clock.iso(clock.now())), *append.actions],
            condition=PrivacyRequest.lifted_at.does_not_exist() & append.condition),
            "restriction_lifted", actors.member(actor.member_id))
    except UpdateError as exc:
        if condition_failed(exc):
            raise Conflict("this restriction was already lifted") from None
        raise
    view = pr.view(pr.get_item(team_id, request_id, consistent=True))
    view["dossiers_unrestricted"] = count
    return view
