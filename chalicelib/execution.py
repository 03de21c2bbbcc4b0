"""Executing a verified request (seed §5: "execute, then confirm"), from the account or an action link.

The caller has already proven who they are; this checks they may act (a team admin or the team's privacy
officer), claims the request with one conditional write, runs the work for its type, and records the result.
The client is told by the stream handler once the request is `completed`.
"""
import logging

from . import privacy_requests as pr
from . import purge, teams
from .errors import DomainError, Forbidden, Unprocessable

log = logging.getLogger(__name__)


class ExecutionFailed(DomainError):
    status, code = 503, "ExecutionFailed"


def may_execute(team_id: str, member_id: str) -> bool:
    member = teams.get_member(team_id, member_id)
    if member is None:
        return False
    if member.role == "admin":
        return True
    return teams.require_team(team_id).privacy_officer_id == member_id


def execute(team_id: str, request_id: str, actor_id: str, body) -> dict:
    data = pr.require_confirm(body)
    if not may_execute(team_id, actor_id):
        raise Forbidden("only a team admin or the team's privacy officer may execute privacy requests")
    item = pr.get_item(team_id, request_id, consistent=True)
    return run(item, actor_id, data)


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
                              request=pr.view(pr.get_item(item.team_id, item.request_id, consistent=True)))
    done = pr.close(item, pr.COMPLETED, {pr.IN_PROGRESS}, result=result, progress=progress,
                    **runner.closing_fields(data))
    return pr.view(done)


class Erasure:
    @staticmethod
    def check(item, data):
        pass

    @staticmethod
    def run(item, data, progress):
        purge.erase_client(item.team_id, item.email, progress, lambda p: pr.record_progress(item, p))
        return {"dossiers_deleted": progress["dossiers_deleted"], "documents_deleted": progress["documents_deleted"]}

    @staticmethod
    def closing_fields(data):
        return {}


RUNNERS = {"erasure": Erasure}
