"""The requests queue (the console's landing page) and ▷ execute with its confirmation.

Open requests are listed soonest due first (the legal clock); other filters newest first. A search by the
client's address is a POST, so the address never lands in a URL (access logs, browser history)."""
import re

from .. import clock, cursors, dossiers, execution, ids, schemas
from .. import privacy_requests as pr
from ..errors import BadRequest, DomainError
from . import visit as v

RESULT_KEYS = ("dossiers_deleted", "documents_deleted", "dossiers", "documents", "dossiers_restricted",
               "dossiers_updated", "bytes")
STATES = ("open", "all", *pr.STATUSES)
DONE = re.compile(r"r_[0-9A-Z]{26}")
OFFSET = re.compile(r"[0-9]{1,6}")  # ASCII digits only: int() refuses "²" and numbers of thousands of digits
TYPES = ("erasure", "access", "portability", "rectification", "restriction", "objection", pr.CONSENT_WITHDRAWAL)


def row(item, now=None) -> dict:
    """What a row (and the request's page) shows of a request, computed once here."""
    now = now or clock.now()
    data = pr.view(item)
    due = clock.parse(item.due_at)
    data["days_left"] = (due.date() - now.date()).days
    data["executable"] = item.status in pr.EXECUTABLE
    data["counts"] = {k: val for k, val in (item.progress or item.result or {}).items()
                      if k in RESULT_KEYS and isinstance(val, int)}
    data["matching"] = dossiers.count_client_dossiers(item.team_id, item.email) if data["executable"] else None
    return data


def filters_from(values: dict) -> dict:
    state = values.get("state") or "open"
    request_type = values.get("type") or None
    if state not in STATES:
        raise BadRequest("unknown filter", field="state")
    if request_type is not None and request_type not in TYPES:
        raise BadRequest("unknown request type", field="type")
    return {"state": state, "type": request_type, "overdue": values.get("overdue") == "1"}


def _page(ctx: v.Context, filters: dict, position: str | None, email: str | None) -> dict:
    """The rows to show and where the next page starts (an offset in the open list, else a cursor)."""
    now = clock.now()
    if filters["state"] == "open" and not email:
        items = pr.open_requests(ctx.team_id, filters["type"])
        if filters["overdue"]:
            items = [r for r in items if pr.is_overdue(r)]
        start = int(position) if position and OFFSET.fullmatch(position) else 0
        chunk = items[start:start + pr.PAGE_SIZE]
        following = str(start + pr.PAGE_SIZE) if start + pr.PAGE_SIZE < len(items) else None
        return {"rows": [row(r, now) for r in chunk], "next": following, "total": len(items)}
    status = None if filters["state"] in ("open", "all") else filters["state"]
    found = pr.requests_by(ctx.team_id, status, filters["type"], cursors.decode(position), email=email)
    items = found["items"]
    if filters["state"] == "open":
        items = [r for r in items if r.status in pr.ACTIONABLE]
    if filters["overdue"]:
        items = [r for r in items if pr.is_overdue(r)]
    return {"rows": [row(r, now) for r in items], "next": cursors.encode(found["next_key"]), "total": None}


@v.team_page()
def show(ctx: v.Context, visit: v.Visit) -> v.Answer:
    """GET /console/teams/{team}/requests (filters in the query string), POST …/search (the address)."""
    source = visit.form if visit.method == "POST" else visit.query
    email = (source.get("email") or "").strip() if visit.method == "POST" else ""
    try:
        filters = filters_from(source)
        listing = _page(ctx, filters, source.get("next"), email or None)
    except BadRequest as exc:  # said on the page, above the open requests
        filters = {"state": "open", "type": None, "overdue": False}
        return v.render(ctx, "queue.html", 400, filters=filters, searched=email, done=None, states=STATES,
                        types=TYPES, error=exc.extra.get("field") or "filter", **_page(ctx, filters, None, None))
    done = visit.query.get("done") if visit.method == "GET" else None
    done = done if done and ids.plausible(done) and DONE.fullmatch(done) else None  # no text of a link's choosing
    return v.render(ctx, "queue.html", filters=filters, searched=email, done=done, states=STATES, types=TYPES, **listing)


@v.team_page()
def row_fragment(ctx: v.Context, visit: v.Visit, request_id: str) -> v.Answer:
    """One row, as the queue shows it: the script refreshes a running request's row with it."""
    try:
        item = pr.get_item(ctx.team_id, request_id, consistent=True)
    except DomainError as exc:
        return v.failure(exc, visit)
    return v.render(ctx, "_row.html", r=row(item))


@v.team_page()
def confirm_page(ctx: v.Context, visit: v.Visit, request_id: str) -> v.Answer:
    """GET …/execute: what executing will do, and the button (the page the ▷ dialog is, without JavaScript)."""
    try:
        item = pr.get_item(ctx.team_id, request_id, consistent=True)
    except DomainError as exc:
        return v.failure(exc, visit)
    return v.render(ctx, "confirm.html", r=row(item), note="")


@v.team_page()
def execute(ctx: v.Context, visit: v.Visit, request_id: str) -> v.Answer:
    """POST …/execute: the same call as the API's execute, after the CSRF and origin checks."""
    note = visit.form.get("note")
    body = {"confirm": True, **({"note": note} if note else {})}
    try:
        schemas.validate("execute", body)
        execution.execute(ctx.team_id, request_id, ctx.member, body)
    except DomainError as exc:
        try:
            item = pr.get_item(ctx.team_id, request_id, consistent=True)
        except DomainError:
            return v.failure(exc, visit, ctx)
        return v.render(ctx, "confirm.html", exc.status, r=row(item), note=note or "", error=exc.message,
                        code=exc.code)
    return v.redirect(f"/console/teams/{ctx.team_id}/requests?done={request_id}#{request_id}")
