"""The officer's action link (seed §5 from an email): GET shows, POST executes.

GET never changes anything, because mail scanners open links. The token is bound to the request and to the
officer it was mailed to: it stops working when it expires, when the request was handled, or when that
person is no longer the one who may act (officer changed, member removed)."""
from . import actors, dossiers, execution, languages, schemas, teams, templating, tokens
from . import privacy_requests as pr
from .errors import BadRequest, Conflict, DomainError, Forbidden
from .portal import link_error
from .teams import require_team


class Revoked(Forbidden):
    reason = "revoked"


def _load(token: str):
    claims = tokens.read(token, tokens.ACTION)
    settings = require_team(claims["team"])
    officer = claims.get("officer")
    if settings.privacy_officer_id and settings.privacy_officer_id != officer:
        raise Revoked("this link was sent to someone who is no longer the team's privacy officer")
    member = teams.get_member(claims["team"], officer) if officer else None
    if member is not None and (not member.generation or claims.get("gen") != member.generation):
        member = None  # the id was deleted and re-created since the link was mailed: another person
    if not execution.may_execute(claims["team"], member):
        raise Revoked("this link's recipient may no longer execute the team's requests")
    item = pr.get_item(claims["team"], claims["req"], consistent=True)
    return settings, officer, item


def show(token: str, accept_language: str | None = None) -> tuple[int, str]:
    try:
        settings, _officer, item = _load(token)
        if item.status not in pr.EXECUTABLE:  # used: the link is spent (the page says so, or the status)
            raise Conflict(f"request {item.request_id} is {pr.effective_status(item)}",
                           status=pr.effective_status(item))
    except DomainError as exc:
        return exc.status, refused(token, exc, accept_language)
    return 200, _render(settings, item)


def confirm(token: str, note: str | None = None, accept_language: str | None = None) -> tuple[int, str]:
    try:
        settings, officer, item = _load(token)
        if item.status not in pr.EXECUTABLE:
            raise Conflict(f"request {item.request_id} is {pr.effective_status(item)}",
                           status=pr.effective_status(item))
        if item.type == "rectification" and not (note or "").strip():
            return 400, _render(settings, item, error="note_required")  # the note the client will receive
        try:  # the form's note meets the rules the API's body does (length, no control or bidi characters)
            data = schemas.validate("execute", {"confirm": True, **({"note": note} if note is not None else {})})
        except BadRequest:
            return 400, _render(settings, item, error="note_invalid")
        done = execution.run(item, actors.member(officer), data)
    except DomainError as exc:
        return exc.status, refused(token, exc, accept_language)
    locale = languages.team_default(settings)
    return 202, templating.render("pages/action_done.html", locale, request=done,
                                  team_name=settings.team_name or item.team_id)


def refused(token: str, exc: DomainError, accept_language: str | None = None) -> str:
    """The page refusing this action link, in the team's language when the token can be read."""
    return link_error(exc, token, tokens.ACTION, accept_language)


def _render(settings, item, error: str | None = None) -> str:
    locale = languages.team_default(settings)
    return templating.render("pages/action.html", locale, request=pr.view(item),
                             team_name=settings.team_name or item.team_id,
                             matching_dossiers=dossiers.count_client_dossiers(item.team_id, item.email),
                             executable=item.status in pr.EXECUTABLE, needs_note=item.type == "rectification",
                             error=error)
