"""The page behind a manual system's task email (Art. 19): GET shows what to do, POST answers.

As with the officer's action links, GET never changes anything (mail scanners open links). The link is bound to
the task's system and to the owner it was mailed to (recipients.load_task); answering is single-use: a second
POST finds the task answered and says so. The page speaks the team's language, as the owner's email does."""
from . import languages, recipients, templating, tokens
from .errors import DomainError
from .portal import link_error
from .teams import require_team


def _render(item, task, status: int = 200, error: str | None = None, done: bool = False) -> tuple[int, str]:
    settings = require_team(item.team_id)
    page = "pages/recipient_task_done.html" if done else "pages/recipient_task.html"
    return status, templating.render(page, languages.team_default(settings),
                                     team_name=settings.team_name or item.team_id, task=task,
                                     request={"request_id": item.request_id, "type": item.type,
                                              "email": item.email, "note": item.note,
                                              "received_at": item.received_at},
                                     answered=task["status"] in recipients.FINAL, error=error)


def show(token: str, accept_language: str | None = None) -> tuple[int, str]:
    try:
        item, task, _system = recipients.load_task(token)
    except DomainError as exc:
        return exc.status, refused(token, exc, accept_language)
    return _render(item, task)


def answer(token: str, action: str | None, reason: str | None,
           accept_language: str | None = None) -> tuple[int, str]:
    try:
        item, task, _system = recipients.load_task(token)
        if task["status"] in recipients.FINAL:
            return _render(item, task, status=409)
        try:
            written = recipients.answer_task(item, task, action, reason)
        except DomainError as exc:
            if exc.status == 400:
                return _render(item, task, status=400, error=exc.extra.get("field") or "action")
            raise
    except DomainError as exc:
        return exc.status, refused(token, exc, accept_language)
    return _render(written, written.recipients[task["system_id"]], done=True)


def refused(token: str, exc: DomainError, accept_language: str | None = None) -> str:
    """The page refusing this link: in the team's language when the token can be read, else the visitor's."""
    return link_error(exc, token, tokens.TASK, accept_language)
