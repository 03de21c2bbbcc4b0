"""Signing in to the console and out of it.

The emailed link's GET only shows a button, its POST signs in (mail scanners open links); the link works
once. Asking for a link answers the same whether or not the address is a member's, and is rate limited."""
from .. import languages, oidc_signin, ratelimit, sessions, tokens
from ..errors import BadRequest, DomainError, TooManyRequests
from . import visit as v


def _locale(visit: v.Visit) -> str:
    return languages.for_visitor(visit.accept_language)


def home(visit: v.Visit) -> v.Answer:
    """GET /console: the sign-in page, or the teams of whoever is signed in (straight to theirs if one)."""
    current = v.session(visit)
    if current is None:
        return sign_in_page(visit)
    teams = sessions.teams_of(current.email)
    if len(teams) == 1:
        return v.redirect(f"/console/teams/{teams[0]['team_id']}/requests")
    return v.render(None, "teams.html", locale=_locale(visit), teams=teams, email=current.email,
                    csrf_token=current.csrf, signed_in=True)


def sign_in_page(visit: v.Visit, status: int = 200, error: str | None = None, typed: str = "") -> v.Answer:
    return v.render(None, "sign_in.html", status, locale=_locale(visit), error=error, typed=typed,
                    oidc=oidc_signin.configured(), oidc_name=oidc_signin.provider_name())


def ask_link(visit: v.Visit) -> v.Answer:
    """POST /console/sign-in: emails a link to a member's address; the same page for anyone else."""
    typed = str(visit.form.get("email", ""))[:320]
    if v.from_elsewhere(visit):
        return sign_in_page(visit, 403, "elsewhere", typed)
    try:
        email = sessions.request_link(typed, visit.source_ip, _locale(visit))
    except BadRequest:
        return sign_in_page(visit, 400, "email", typed)
    except TooManyRequests:
        return sign_in_page(visit, 429, "too_many", typed)
    minutes = int(tokens.LIFETIMES[tokens.SIGNIN].total_seconds() // 60)
    return v.render(None, "link_sent.html", locale=_locale(visit), sent_to=email, minutes=minutes)


def link_page(visit: v.Visit, token: str) -> v.Answer:
    """GET of the emailed link: a button, nothing more (a scanner opening it signs nobody in)."""
    try:
        email = sessions.link_email(token)
    except DomainError as exc:
        return _link_refused(visit, exc)
    return v.render(None, "link.html", locale=_locale(visit), sent_to=email)


def use_link(visit: v.Visit, token: str) -> v.Answer:
    """POST of the emailed link: signs in once, with a new session id, and ends any session this browser had."""
    if v.from_elsewhere(visit):
        return sign_in_page(visit, 403, "elsewhere")
    try:
        started = sessions.redeem_link(token)
    except DomainError as exc:
        return _link_refused(visit, exc)
    return signed_in(visit, started)


def signed_in(visit: v.Visit, started: sessions.Session) -> v.Answer:
    sessions.end(v.session_id(visit))
    answer = v.redirect("/console")
    answer.cookies.append(v.session_cookie(started.session_id))
    return answer


def _link_refused(visit: v.Visit, exc: DomainError) -> v.Answer:
    reason = getattr(exc, "reason", None) or ("used" if exc.status == 409 else "invalid")
    return v.render(None, "link_refused.html", exc.status, locale=_locale(visit), reason=reason)


def sign_out(visit: v.Visit) -> v.Answer:
    """POST /console/sign-out (with the session's CSRF token, so no other site can sign anyone out)."""
    current = v.session(visit)
    if current is not None:
        try:
            v.check_post(visit, current)
        except DomainError as exc:
            return v.failure(exc, visit)
        sessions.end(current.session_id)
    answer = v.redirect("/console")
    answer.cookies.append(v.cleared_cookie())
    return answer


# --- OpenID Connect (authorization code flow with PKCE: oidc_signin.py) -------------------------------------------

def oidc_start(visit: v.Visit) -> v.Answer:
    """GET /console/sign-in/oidc: off to the provider, with this browser's flow in a short-lived cookie (the
    callback must come back to the browser that started it: no one can sign someone else in with their code).

    A link, not a form: browsers apply the page's CSP `form-action 'self'` to a form's redirect, so a POST
    answered by a 303 to the provider would be blocked. Starting a flow changes nothing but a 10-minute
    marker; rate limited like the portal, so nobody can fill the table with them."""
    if not oidc_signin.configured():
        return sign_in_page(visit, 404)
    try:
        ratelimit.check_source(visit.source_ip)
    except TooManyRequests:
        return sign_in_page(visit, 429, "too_many")
    try:
        url, flow_id = oidc_signin.begin()
    except DomainError as exc:
        return v.render(None, "link_refused.html", 502, locale=_locale(visit), reason="oidc", message=exc.message)
    answer = v.Answer(303, location=url)
    answer.cookies.append(v.flow_cookie(flow_id))
    return answer


def oidc_callback(visit: v.Visit) -> v.Answer:
    """GET /console/sign-in/callback?code=…&state=…: the provider sends the browser back here."""
    try:
        email = oidc_signin.finish(visit.cookies.get(v.flow_cookie_name()), visit.query)
    except DomainError as exc:
        answer = v.render(None, "link_refused.html", exc.status, locale=_locale(visit), reason="oidc",
                          message=exc.message)
    else:
        answer = signed_in(visit, sessions.start(email, sessions.OIDC))
    answer.cookies.append(v.flow_cookie(""))
    return answer
