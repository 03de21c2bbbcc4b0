"""Signed tokens (PyJWT, HS256; keys from signing_keys: the stage's TOKEN_SECRET, or Secrets Manager).

Every token carries its purpose as the JWT audience, so a verification link can never be replayed as an
action link or a bearer token. What each proves:
- bearer: "member M of team T, generation G" (checked against the members table at every call, so removal is
  immediate and a re-created member id doesn't revive the old member's tokens);
- verify: "whoever opens this controls the email of request R" (24 h);
- action: "the officer this was mailed to may execute request R" (7 days, bound to that officer);
- status: "the requester of R may follow and cancel it";
- export: "the requester of R may download its export" (30 days);
- callback: "connected system S may answer its task of request R" (120 days);
- task: "the owner of manual system S this was mailed to may answer its task of request R" (120 days);
- signin: "whoever opens this controls this member's address" (15 minutes, used once: sessions.py).
"""
import datetime as dt

from . import clock, config, ids, signing_keys
from .errors import Unauthorized

BEARER, VERIFY, ACTION, STATUS, EXPORT = "bearer", "verify", "action", "status", "export"
CALLBACK, TASK, SIGNIN = "callback", "task", "signin"

LIFETIMES = {
    VERIFY: dt.timedelta(hours=24),
    ACTION: dt.timedelta(days=7),
    STATUS: dt.timedelta(days=120),
    EXPORT: dt.timedelta(days=30),
    CALLBACK: dt.timedelta(days=120),
    TASK: dt.timedelta(days=120),
    SIGNIN: dt.timedelta(minutes=15),
}


class TokenError(Unauthorized):
    """A token that is missing, altered, expired or meant for something else. `reason` is for pages."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def _lifetime(purpose: str) -> dt.timedelta:
    if purpose == BEARER:
        return dt.timedelta(hours=config.get_int("BEARER_TOKEN_HOURS"))
    return LIFETIMES[purpose]


def sign(purpose: str, claims: dict, lifetime: dt.timedelta | None = None) -> str:
    issued = clock.now()
    payload = dict(claims)
    payload.update(
        aud=purpose,
        iat=int(issued.timestamp()),
        exp=int((issued + (lifetime or _lifetime(purpose))).timestamp()),
        jti=ids.new_id(),
    )
    import jwt  # on first use, like every library a cold start may not need

    key = signing_keys.current()
    # The kid tells a verifier which of the two active keys signed, so a rotation breaks no link in flight.
    return jwt.encode(payload, key.key, algorithm="HS256", headers={"kid": key.kid} if key.kid else None)


def _decode(token: str, purpose: str, verify_exp: bool = True) -> dict:
    """Checked with the key the token's kid names (or, without kid, each key we hold): HS256 only."""
    import jwt

    kid = jwt.get_unverified_header(token).get("kid")
    if kid is not None and not isinstance(kid, str):
        raise jwt.InvalidTokenError("kid must be a string")
    refusal: jwt.InvalidTokenError = jwt.InvalidSignatureError("no key of ours has this kid")
    for key in signing_keys.for_kid(kid):
        try:
            return jwt.decode(token, key, algorithms=["HS256"], audience=purpose,
                              options={"require": ["exp", "iat", "aud"], "verify_exp": verify_exp})
        except jwt.InvalidSignatureError as exc:
            refusal = exc  # another active key may have signed it
    raise refusal


def read(token: str, purpose: str) -> dict:
    if not token:
        raise TokenError("a token is required", "missing")
    import jwt

    try:
        return _decode(token, purpose)
    except jwt.ExpiredSignatureError:
        raise TokenError("the token has expired", "expired") from None
    except jwt.InvalidTokenError:
        raise TokenError("the token is not valid", "invalid") from None


def claims_for_language(token: str, purpose: str) -> dict | None:
    """The claims of a token with a valid signature and purpose, expired or not; None otherwise. Only to pick
    the language of the page that refuses it: they prove nothing, so nothing else may rest on them."""
    import jwt

    try:
        return _decode(token, purpose, verify_exp=False)
    except jwt.InvalidTokenError:
        return None


def bearer_for(team_id: str, member_id: str, generation: str | None) -> str:
    """`generation` is the member's: a deleted then re-created member id doesn't revive old tokens."""
    return sign(BEARER, {"team": team_id, "sub": member_id, "gen": generation})
