"""Tokens from the team's own OpenID Connect provider (Cognito, Auth0, Okta, Keycloak, Entra ID...).

A provider's token proves an email address, not a member: web.member() turns the address into the member of the
URL's team, so role and removal come from the members table at every call, as for the built-in tokens.

Configuration (per stage): OIDC_ISSUER (nothing here is used without it), OIDC_AUDIENCE, and optionally
OIDC_JWKS_URL (else read from the issuer's discovery document). Only RS256 and ES256 are accepted: HS256 would
let anyone who knows the public key (everyone) sign, and `none` signs nothing.
"""
import json
import threading
import time
import urllib.error
import urllib.request

from . import config
from .errors import ServiceUnavailable, Unauthorized

ALGORITHMS = {"RSA": "RS256", "EC": "ES256"}  # the one algorithm each key type may verify
LEEWAY_SECONDS = 60  # clocks of the provider and Lambda may differ a little
REFRESH_INTERVAL = 60.0  # an unknown kid refetches the keys at most this often: forged kids can't flood the IdP
FETCH_TIMEOUT = 3.0  # the API answers within API Gateway's 29 s whatever the provider does


def configured() -> bool:
    return bool(config.optional("OIDC_ISSUER"))


def _monotonic() -> float:  # tests move it to pass the refresh interval
    return time.monotonic()


def _fetch_json(url: str) -> dict:
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as answer:  # noqa: S310 — the stage's own URL
            return json.loads(answer.read(1024 * 1024))
    except (OSError, ValueError) as exc:  # URLError, timeouts and refused connections are OSErrors
        raise ServiceUnavailable(f"the identity provider's keys could not be read: {exc}") from None


class KeySet:
    """The provider's public keys by kid, cached for the container's life and refetched only when a token
    names a kid we don't know (rotation), at most once per REFRESH_INTERVAL."""

    def __init__(self, issuer: str, jwks_url: str | None):
        self.issuer, self.jwks_url = issuer, jwks_url
        self.keys: dict = {}
        self.fetched_at: float | None = None
        self.unreachable = False  # the last fetch failed: say so (503) until the next attempt, not "unknown key"
        self.lock = threading.Lock()

    def _url(self) -> str:
        if not self.jwks_url:
            discovery = _fetch_json(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
            if not isinstance(discovery.get("jwks_uri"), str):
                raise ServiceUnavailable("the identity provider's discovery document names no jwks_uri")
            self.jwks_url = discovery["jwks_uri"]
        return self.jwks_url

    def _refresh(self) -> None:
        import jwt

        document = _fetch_json(self._url())
        keys = {}
        for entry in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or entry.get("kty") not in ALGORITHMS:
                continue
            try:
                keys[entry.get("kid")] = (ALGORITHMS[entry["kty"]], jwt.PyJWK(entry, ALGORITHMS[entry["kty"]]).key)
            except jwt.PyJWTError:
                continue  # a key we can't use (another curve, a malformed entry) must not hide the others
        self.keys = keys

    def key(self, kid):
        with self.lock:
            if kid not in self.keys:
                now = _monotonic()
                if self.fetched_at is None or now - self.fetched_at >= REFRESH_INTERVAL:
                    self.fetched_at = now
                    self.unreachable = True
                    self._refresh()
                    self.unreachable = False
                elif self.unreachable:
                    raise ServiceUnavailable("the identity provider's keys could not be read; retrying shortly")
            return self.keys.get(kid)


_KEYSETS: dict = {}


def keyset() -> KeySet:
    issuer, jwks_url = config.get("OIDC_ISSUER"), config.optional("OIDC_JWKS_URL")
    found = _KEYSETS.get((issuer, jwks_url))
    if found is None:
        found = _KEYSETS[(issuer, jwks_url)] = KeySet(issuer, jwks_url)
    return found


def reset() -> None:
    """Forget the cached keys (a new container)."""
    _KEYSETS.clear()


def verify(token: str) -> dict:
    """The claims of a provider's token: signature by one of its keys, issuer, audience, expiry, not-before."""
    import jwt

    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Unauthorized("the token is not valid") from None
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS.values():
        raise Unauthorized(f"tokens signed with {algorithm!r} are not accepted (RS256 or ES256 only)")
    found = keyset().key(header.get("kid"))
    if found is None:
        raise Unauthorized("the token was signed with a key the identity provider doesn't publish")
    expected, key = found
    if algorithm != expected:  # an RS256 header on an EC key (or the reverse) is never a provider's token
        raise Unauthorized("the token's algorithm doesn't match its key")
    try:
        return jwt.decode(token, key, algorithms=[expected], audience=config.get("OIDC_AUDIENCE"),
                          issuer=config.get("OIDC_ISSUER"), leeway=LEEWAY_SECONDS,
                          options={"require": ["exp", "iss", "aud"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired") from None
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"the token is not valid: {exc}") from None


def verified_email(claims: dict) -> str:
    """The normalised address the provider vouches for. `email_verified` absent (Entra ID doesn't send it) is
    accepted; false (a boolean or Cognito's string) is not: anyone could have typed that address."""
    from . import emails
    from .errors import BadRequest

    if claims.get("email_verified") in (False, "false"):
        raise Unauthorized("the identity provider has not verified this token's email address")
    address = claims.get("email")
    if not isinstance(address, str) or not address:
        raise Unauthorized("the token has no email claim: ask the provider to include the email scope")
    try:
        return emails.normalise(address)
    except BadRequest:
        raise Unauthorized("the token's email claim is not an address this service can use") from None
