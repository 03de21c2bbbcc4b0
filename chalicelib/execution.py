"""Executing a verified request (seed §5: "execute, then confirm"), from the account or an action link.

The caller has already proven who they are; this checks they may act (a team admin or the team's privacy
officer), claims the request with one conditional write (pending|failed → in_progress, so a double click or
two officers can't run it twice), runs the work for its type, and records the result. The client is told by
the stream handler once the request is `completed`.
"""
import logging

from pynamodb.exceptions import UpdateError

from . import clock, dossiers, exports, notifications, purge, schemas, teams
from . import privacy_requests as pr
from .db import condition_failed
from .errors import BadRequest, Conflict, DomainError, Forbidden, Unprocessable
from .models import PrivacyRequest

log = logging.getLogger(__name__)


class ExecutionFailed(DomainError):
    status, code = 503, "ExecutionFailed"
    reason = "failed"


def may_execute(team_id: str, member) -> bool:
    """`member` is a Member already read (or None): a team admin, or the team's privacy officer."""
    if member is None:
        return False
    if member.role == "admin":
        return True
    return teams.require_team(team_id).privacy_officer_id == member.member_id


def require_executor(team_id: str, member) -> None:
    if not may_execute(team_id, member):
        raise Forbidden("only a team admin or the team's privacy officer may act on privacy requests")


def execute(team_id: str, request_id: str, actor, body) -> dict:
    data = pr.require_confirm(body)
    require_executor(team_id, actor)
    item = pr.get_item(team_id, request_id, consistent=True)
    return run(item, actor.member_id, data)


def run(item, actor_id: str, data: dict) -> dict:
    runner = RUNNERS.get(item.type)
    if runner is None:
        raise Unprocessable(f"{item.type} requests can't be executed here")
    runner.check(item, data)
    pr.start(item, actor_id)
    progress = dict(item.progress or {})
    try:
        result = runner.run(item, data, progress)
    except Exception as exc:  # noqa: BLE001 — any failure must leave the request resumable, never stuck
        log.exception("execution of %s failed", item.request_id)
        pr.fail(item, f"{type(exc).__name__}: {exc}", progress)
        raise ExecutionFailed(f"the execution failed and was recorded; execute again to resume ({exc})",
                              request=pr.view(pr.get_item(item.team_id, item.request_id, consistent=True))) from exc
    done = pr.close(item, pr.COMPLETED, {pr.IN_PROGRESS}, result=result, progress=progress,
                    **runner.closing_fields(data))
    return pr.view(done)


class Runner:
    @staticmethod
    def check(item, data):
        pass

    @staticmethod
    def closing_fields(data):
        return {}


class Erasure(Runner):
    """Art. 17: every dossier of the client in this team, with documents and consent records."""

    @staticmethod
    def run(item, data, progress):
        purge.erase_client(item.team_id, item.email, progress, lambda p: pr.record_progress(item, p))
        exports_deleted = exports.erase_client_exports(item.team_id, item.email)
        return {"dossiers_deleted": progress["dossiers_deleted"], "documents_deleted": progress["documents_deleted"],
                "exports_deleted": exports_deleted}


class Export(Runner):
    """Art. 15 / Art. 20: a zip the client downloads through their emailed link."""

    @staticmethod
    def run(item, data, progress):
        # One synchronous call for now: never asked to stop; each uploaded part is recorded, so a failed run
        # executed again resumes from its last part.
        return exports.build(item, progress, lambda p: pr.record_progress(item, p), lambda: False)


class Rectification(Runner):
    """Art. 16: the officer corrects dossiers (PATCH), then completes with a note the client receives."""

    @staticmethod
    def check(item, data):
        if not (data.get("note") or "").strip():
            raise BadRequest("completing a rectification needs a note for the client (what was corrected)",
                             field="body.note")

    @staticmethod
    def run(item, data, progress):
        return {"dossiers": dossiers.count_client_dossiers(item.team_id, item.email)}

    @staticmethod
    def closing_fields(data):
        return {"note": data["note"].strip()}


class Restriction(Runner):
    """Art. 18: dossiers stay stored, but every write to them is refused until the restriction is lifted."""

    @staticmethod
    def run(item, data, progress):
        return {"dossiers_restricted": dossiers.set_restricted(item.team_id, item.email, True)}


class Objection(Runner):
    """Art. 21: the objection is recorded for the email; new dossiers record it and lists show it."""

    @staticmethod
    def run(item, data, progress):
        return {"dossiers": dossiers.record_objection(item.team_id, item.email, item.request_id)}


class ConsentWithdrawal(Runner):
    """Art. 7(3): run as soon as the client verified — withdrawing needs nobody's approval."""

    @staticmethod
    def run(item, data, progress):
        return {"dossiers_updated": dossiers.withdraw_consent(item.team_id, item.email)}


RUNNERS = {
    "erasure": Erasure,
    "access": Export,
    "portability": Export,
    "rectification": Rectification,
    "restriction": Restriction,
    "objection": Objection,
    pr.CONSENT_WITHDRAWAL: ConsentWithdrawal,
}


def after_verification(item) -> dict | None:
    """A verified consent withdrawal takes effect at once; other requests wait for the officer."""
    if item.type == pr.CONSENT_WITHDRAWAL and item.status in pr.EXECUTABLE:  # failed: the link retries it
        try:
            return run(item, "client", {"confirm": True})
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
        item.update(actions=[PrivacyRequest.lifted_at.set(clock.iso(clock.now())),
                             pr.record("restriction_lifted", actor.member_id)],
                    condition=PrivacyRequest.lifted_at.does_not_exist())
    except UpdateError as exc:
        if condition_failed(exc):
            raise Conflict("this restriction was already lifted") from None
        raise
    view = pr.view(pr.get_item(team_id, request_id, consistent=True))
    view["dossiers_unrestricted"] = count
    return view
