"""A console page visit as plain values (no Chalice here), and the checks every page makes.

- The session comes from its cookie (`__Host-` prefixed and `Secure` when the console is served over HTTPS;
  always HttpOnly, SameSite=Lax, Path=/, no Max-Age: it goes when the browser closes).
- A POST is accepted only with the session's CSRF token in its form and, when the browser says where it
  comes from (Origin, else Referer), from our own origin. Pages send `Referrer-Policy: same-origin`, so a
  browser's form post carries our Origin (with `no-referrer` it would send `Origin: null`).
- The member is read again at every visit: a removed or demoted member loses access at the next click."""
import dataclasses
import functools
import urllib.parse

from .. import config, execution, languages, sessions, templating
from ..errors import DomainError, Forbidden, NotFound, Unauthorized
from ..teams import require_team

COOKIE = "pd_session"


@dataclasses.dataclass
class Visit:
    method: str = "GET"
    cookies: dict = dataclasses.field(default_factory=dict)
    origin: str | None = None
    referer: str | None = None
    accept_language: str | None = None
    source_ip: str | None = None
    form: dict = dataclasses.field(default_factory=dict)  # the form's fields, one value each
    lists: dict = dataclasses.field(default_factory=dict)  # every value of each field (checkboxes)
    query: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Answer:
    status: int
    body: str = ""
    location: str | None = None
    cookies: list = dataclasses.field(default_factory=list)
    content_type: str = "text/html; charset=utf-8"
    filename: str | None = None


def parse_cookies(header: str | None) -> dict:
    """`a=1; b=2` → {"a": "1", "b": "2"}; the first of a repeated name wins, anything odd is skipped."""
    found = {}
    for part in (header or "")[:8192].split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in found:
            found[name] = value.strip().strip('"')
    return found


def _secure() -> bool:
    return config.get("PUBLIC_BASE_URL").startswith("https://")


def cookie_name() -> str:
    return f"__Host-{COOKIE}" if _secure() else COOKIE


def session_cookie(session_id: str) -> str:
    secure = "; Secure" if _secure() else ""
    return f"{cookie_name()}={session_id}; Path=/; HttpOnly; SameSite=Lax{secure}"


def cleared_cookie() -> str:
    secure = "; Secure" if _secure() else ""
    return f"{cookie_name()}=; Path=/; HttpOnly; SameSite=Lax{secure}; Max-Age=0"


def flow_cookie_name() -> str:
    return f"__Host-{COOKIE}_oidc" if _secure() else f"{COOKIE}_oidc"


def flow_cookie(flow_id: str) -> str:
    """The OpenID Connect flow under way in this browser (10 minutes; empty: cleared)."""
    secure = "; Secure" if _secure() else ""
    return f"{flow_cookie_name()}={flow_id}; Path=/; HttpOnly; SameSite=Lax{secure}; Max-Age={600 if flow_id else 0}"


def session_id(visit: Visit) -> str | None:
    return visit.cookies.get(cookie_name())


def session(visit: Visit) -> sessions.Session | None:
    return sessions.load(session_id(visit))


def own_origin() -> str:
    parts = urllib.parse.urlsplit(config.get("PUBLIC_BASE_URL"))
    return f"{parts.scheme}://{parts.netloc}".lower()


def from_elsewhere(visit: Visit) -> bool:
    """True when the browser says the post comes from another origin (or hides it: `Origin: null`)."""
    if visit.origin is not None:
        return visit.origin.strip().lower() != own_origin()
    if visit.referer:
        try:
            parts = urllib.parse.urlsplit(visit.referer)
        except ValueError:  # "http://[" : a Referer that can't be read can't show the post is ours
            return True
        return f"{parts.scheme}://{parts.netloc}".lower() != own_origin()
    return False  # neither header (an old browser, a proxy that strips them): the CSRF token alone decides


class FormRefused(Forbidden):
    """A POST without the session's CSRF token, or from another origin: nothing is changed."""


def check_post(visit: Visit, current: sessions.Session) -> None:
    if from_elsewhere(visit):
        raise FormRefused("this form was sent from another site")
    if not sessions.csrf_matches(current, visit.form.get("csrf_token")):
        raise FormRefused("this form has expired; reload the page and try again")


@dataclasses.dataclass
class Context:
    """Who is looking at which team: what every team page needs."""
    session: sessions.Session
    member: object
    settings: object
    locale: str
    may_execute: bool

    @property
    def team_id(self) -> str:
        return self.settings.team_id

    @property
    def is_admin(self) -> bool:
        return self.member.role == "admin"

    @property
    def team_name(self) -> str:
        return self.settings.team_name or self.settings.team_id


class SignedOut(Unauthorized):
    """No live session: the page sends the person to sign in."""


def context(visit: Visit, team_id: str) -> Context:
    """The signed-in member of `team_id`, or SignedOut / NotFound (a team they aren't in shows nothing: not
    even whether it exists). A POST is checked (CSRF, origin) before anything else is read."""
    current = session(visit)
    if current is None:
        raise SignedOut("sign in first")
    if visit.method == "POST":
        check_post(visit, current)
    member = sessions.member_of(current.email, team_id)
    if member is None:
        raise NotFound("no such team")
    settings = require_team(team_id)
    return Context(current, member, settings, languages.for_client(None, visit.accept_language, settings),
                   execution.executor_in(settings, member))


def team_page(admin_post: bool = False):
    """A page of one team: the function gets the signed-in member's Context, `page(ctx, visit, *rest)`; a visit
    without one gets the sign-in redirect or a refusal page. `admin_post`: only admins may post to it."""
    def wrap(page):
        @functools.wraps(page)
        def wrapper(visit: Visit, team_id: str, *rest):
            try:
                ctx = context(visit, team_id)
                if admin_post and visit.method == "POST" and not ctx.is_admin:
                    raise Forbidden("only a team admin may do this")
            except DomainError as exc:
                return failure(exc, visit)
            return page(ctx, visit, *rest)
        return wrapper
    return wrap


def render(ctx: Context | None, template: str, status: int = 200, locale: str | None = None, **values) -> Answer:
    """A console page: the layout needs the team (navigation, sign-out form) when there is one."""
    if ctx is not None:
        values.setdefault("team", {"team_id": ctx.team_id, "team_name": ctx.team_name})
        values.setdefault("csrf_token", ctx.session.csrf)
        values.setdefault("is_admin", ctx.is_admin)
        values.setdefault("may_execute", ctx.may_execute)
        values.setdefault("email", ctx.session.email)
    for name in ("team", "csrf_token", "notice", "error", "email"):
        values.setdefault(name, None)
    values.setdefault("is_admin", False)
    values.setdefault("may_execute", False)
    html = templating.render(f"console/{template}", locale or (ctx.locale if ctx else "en"), **values)
    return Answer(status, html)


def failure(exc: DomainError, visit: Visit, ctx: Context | None = None) -> Answer:
    """A refused visit as a page: signed out → the sign-in page; anything else says what went wrong."""
    if isinstance(exc, SignedOut):
        return Answer(303, location=config.public_url("/console"))
    locale = ctx.locale if ctx else languages.for_visitor(visit.accept_language)
    reason = "form" if isinstance(exc, FormRefused) else ("missing" if isinstance(exc, NotFound) else "other")
    return render(ctx, "error.html", exc.status, locale=locale, reason=reason, message=exc.message)


def redirect(path: str) -> Answer:
    return Answer(303, location=config.public_url(path))
