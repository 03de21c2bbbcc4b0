"""A request's page: every field, its record as a timeline (and whether it verifies), the connected systems'
tasks, and what an officer does there — extend, deny, lift a restriction, skip or retry a task. Each action is
the API's domain call; a refusal shows on the page, next to the form it came from, and changes nothing."""
from .. import actors, execution, recipients, regimes
from .. import privacy_requests as pr
from .. import schemas
from ..errors import DomainError, NotFound
from . import queue
from . import visit as v

ACTIONS = ("extend", "deny", "lift-restriction", "clarify")
TASK_ACTIONS = ("skip", "retry")


def _render(ctx: v.Context, request_id: str, status: int = 200, **values) -> v.Answer:
    item = pr.get_item(ctx.team_id, request_id, consistent=True)
    record = pr.record_of(item)  # the item just read: no second read of the team and the request
    values.setdefault("failed_form", None)
    values.setdefault("error", None)
    values.setdefault("typed", {"reason": "", "months": "", "question": "", "basis": ""})
    values.setdefault("done", None)
    return v.render(ctx, "request.html", status, r=queue.row(item), record=record, regime=regimes.get(item.regime),
                    denial_bases=schemas.DENIAL_BASES, entries=list(reversed(record["entries"])), **values)


@v.team_page()
def show(ctx: v.Context, visit: v.Visit, request_id: str) -> v.Answer:
    try:
        return _render(ctx, request_id, done=done_notice(visit.query.get("done")))
    except DomainError as exc:
        return v.failure(exc, visit)


@v.team_page()
def act(ctx: v.Context, visit: v.Visit, request_id: str, action: str) -> v.Answer:
    """POST …/{extend|deny|lift-restriction|clarify}."""
    if action not in ACTIONS:
        return v.failure(NotFound("no such action"), visit)
    by = actors.member(ctx.member.member_id)
    try:
        if action == "extend":
            execution.require_executor(ctx.team_id, ctx.member)
            months = {"months": _months(visit.form["months"])} if visit.form.get("months") else {}
            pr.extend(ctx.team_id, request_id, {**months, "reason": visit.form.get("reason", "")}, by=by)
        elif action == "deny":
            execution.require_executor(ctx.team_id, ctx.member)
            basis = {"basis": visit.form["basis"]} if visit.form.get("basis") else {}
            pr.deny(ctx.team_id, request_id, {"reason": visit.form.get("reason", ""), **basis}, by=by)
        elif action == "clarify":
            execution.require_executor(ctx.team_id, ctx.member)
            pr.ask_clarification(ctx.team_id, request_id, {"question": visit.form.get("question", "")}, by=by)
        else:
            execution.lift_restriction(ctx.team_id, request_id, ctx.member, {})
    except DomainError as exc:
        return _refused(visit, ctx, request_id, action, exc)
    return v.redirect(f"/console/teams/{ctx.team_id}/requests/{request_id}?done={action}")


@v.team_page()
def task(ctx: v.Context, visit: v.Visit, request_id: str, system_id: str, action: str) -> v.Answer:
    """POST …/systems/{system}/{skip|retry}: a connected system's task."""
    if action not in TASK_ACTIONS:
        return v.failure(NotFound("no such action"), visit)
    try:
        if action == "skip":
            recipients.skip(ctx.team_id, request_id, system_id, ctx.member, {"reason": visit.form.get("reason", "")})
        else:
            recipients.retry(ctx.team_id, request_id, system_id, ctx.member)
    except DomainError as exc:
        return _refused(visit, ctx, request_id, f"{action}:{system_id}", exc)
    return v.redirect(f"/console/teams/{ctx.team_id}/requests/{request_id}?done={action}")


def _months(value) -> int | str:
    return int(value) if value in ("1", "2") else str(value)


def _refused(visit: v.Visit, ctx: v.Context, request_id: str, form_name: str, exc: DomainError) -> v.Answer:
    try:
        return _render(ctx, request_id, exc.status, failed_form=form_name, error=exc.message,
                       typed={"reason": visit.form.get("reason", ""), "months": visit.form.get("months", ""),
                              "question": visit.form.get("question", ""), "basis": visit.form.get("basis", "")})
    except DomainError as missing:
        return v.failure(missing, visit, ctx)


def done_notice(value: str | None) -> str | None:
    return value if value in (*ACTIONS, *TASK_ACTIONS) else None

