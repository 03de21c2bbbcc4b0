"""The account console's sign-in and sessions (OWASP's session management and CSRF cheat sheets).

Who is signed in is a person, named by an address they proved they control: by opening an emailed sign-in
link (single use, 15 minutes) or through the stage's OpenID Connect provider. What they may do is never kept
in the session: every page reads the team's members again (consistently), so removing or demoting a member
applies to their open sessions at the next click, and a team they don't belong to shows nothing.

The session id is 256 random bits in a cookie; the table holds only its SHA-256, so reading the table gives
no session away. A session ends after CONSOLE_IDLE_MINUTES without a page, CONSOLE_SESSION_HOURS after
sign-in, or at sign-out; its CSRF token is random and bound to it (synchronizer token pattern).
"""
import dataclasses
import datetime as dt
import hashlib
import hmac
import logging
import secrets

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError

from . import clock, config, emails, ratelimit, teams, templating, tokens
from .db import condition_failed
from .errors import BadRequest, Conflict, TooManyRequests
from .models import ConsoleSession, Marker, Member, TeamSettings

log = logging.getLogger(__name__)
LINK, OIDC = "link", "oidc"
TOUCH_EVERY = dt.timedelta(minutes=1)  # seen_at is written at most this often: not one write per page
MAX_TEAMS = 100


def idle() -> dt.timedelta:
    return dt.timedelta(minutes=config.get_int("CONSOLE_IDLE_MINUTES"))


def lifetime() -> dt.timedelta:
    return dt.timedelta(hours=config.get_int("CONSOLE_SESSION_HOURS"))


def _key(session_id: str) -> str:
    return "session#" + hashlib.sha256(session_id.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class Session:
    session_id: str
    email: str
    csrf: str
    signed_in_with: str
    ends_at: dt.datetime


# --- sessions ---------------------------------------------------------------------------------------------------

def start(email: str, signed_in_with: str) -> Session:
    """A new session (a new id at every sign-in: no fixation)."""
    now = clock.now()
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    ends = now + lifetime()
    ConsoleSession(_key(session_id), email=email, csrf=csrf, signed_in_with=signed_in_with,
                   created_at=clock.iso(now), seen_at=clock.iso(now), ends_at=clock.iso(ends),
                   expires_at=min(now + idle(), ends)).save(condition=ConsoleSession.pk.does_not_exist())
    return Session(session_id, email, csrf, signed_in_with, ends)


def load(session_id: str | None) -> Session | None:
    """The live session with this id, or None (unknown, ended, idle too long). Marks it seen."""
    if not session_id or len(session_id) > 100:
        return None
    try:
        item = ConsoleSession.get(_key(session_id), consistent_read=True)
    except DoesNotExist:
        return None
    now = clock.now()
    seen, ends = clock.parse(item.seen_at), clock.parse(item.ends_at)
    if now >= ends or now >= seen + idle():
        _delete(item)
        return None
    if now - seen >= TOUCH_EVERY:
        _touch(item, now, ends)
    return Session(session_id, item.email, item.csrf, item.signed_in_with, ends)


def _touch(item: ConsoleSession, now: dt.datetime, ends: dt.datetime) -> None:
    try:  # conditional: a session ended meanwhile (sign-out in another tab) is not brought back
        item.update(actions=[ConsoleSession.seen_at.set(clock.iso(now)),
                             ConsoleSession.expires_at.set(min(now + idle(), ends))],
                    condition=ConsoleSession.pk.exists())
    except UpdateError as exc:
        if not condition_failed(exc):
            raise


def end(session_id: str | None) -> None:
    if session_id and len(session_id) <= 100:
        _delete(ConsoleSession(_key(session_id)))


def _delete(item: ConsoleSession) -> None:
    try:
        item.delete()
    except DeleteError:
        log.warning("a console session could not be deleted; it expires by itself")


def csrf_matches(session: Session, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(session.csrf.encode(), str(token).encode())


# --- who the person is here ---------------------------------------------------------------------------------------

def teams_of(email: str) -> list[dict]:
    """The teams this address is a member of, by name: [{team_id, team_name, role}] (the team picker)."""
    found = list(Member.by_email.query(email, limit=MAX_TEAMS))
    names = {}
    if found:
        keys = list(dict.fromkeys(m.team_id for m in found))
        names = {s.team_id: s.team_name for s in TeamSettings.batch_get(keys)}
    return sorted(({"team_id": m.team_id, "team_name": names.get(m.team_id) or m.team_id, "role": m.role}
                   for m in found if m.team_id in names), key=lambda t: (t["team_name"].casefold(), t["team_id"]))


def member_of(email: str, team_id: str):
    """This person's member in the team, read now (consistent): None when they aren't one (or, like the API,
    when two member ids share the address: which role applies would be a guess)."""
    found = teams.members_with_email(team_id, email)
    return found[0] if len(found) == 1 else None


# --- sign-in links ------------------------------------------------------------------------------------------------

def request_link(address: str, source_ip: str | None, locale: str) -> str:
    """Emails a sign-in link if `address` is a member's; the same answer either way, so the page can't tell
    anyone who is a member. Returns the normalised address. Raises BadRequest for an address that isn't one
    and TooManyRequests past the limits (per network like the portal, and per address)."""
    try:
        email = emails.normalise(address or "", "email")
    except BadRequest:
        raise BadRequest("enter your email address", field="email") from None
    ratelimit.check_source(source_ip)
    if not _address_allows(email):
        raise TooManyRequests("too many sign-in emails for this address; try again later", retry_after=3600)
    if teams_of(email):
        _send_link(email, locale)
    return email


def _address_allows(email: str) -> bool:
    estimate, _ = ratelimit.hit("signin", email, ratelimit.HOUR)
    return estimate <= config.get_int("CONSOLE_SIGNIN_EMAILS_PER_HOUR")


def _send_link(email: str, locale: str) -> None:
    from . import mailer

    token = tokens.sign(tokens.SIGNIN, {"email": email})
    message = templating.render_email("console_sign_in", locale, sign_in_url=config.public_url(
        f"/console/sign-in/{token}"), minutes=int(tokens.LIFETIMES[tokens.SIGNIN].total_seconds() // 60))
    mailer.send([email], message["subject"], message["text"], message["html"])


def link_email(token: str) -> str:
    """The address a sign-in link was sent to (TokenError when altered, expired or not a sign-in link)."""
    return tokens.read(token, tokens.SIGNIN)["email"]


def redeem_link(token: str) -> Session:
    """Signs in with a sign-in link, once: a second use (a scanner that POSTs, a replay) is a Conflict."""
    claims = tokens.read(token, tokens.SIGNIN)
    try:
        Marker(f"signin#{claims['jti']}", created_at=clock.iso(clock.now()),
               expires_at=dt.timedelta(days=1)).save(condition=Marker.pk.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            raise Conflict("this sign-in link was already used; ask for a new one") from None
        raise
    return start(claims["email"], LINK)
