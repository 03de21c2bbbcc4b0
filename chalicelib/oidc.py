"""ID tokens from the team's own OpenID Connect provider (Cognito, Auth0, Okta, Keycloak, Entra ID...).

ID tokens only: their `aud` says they were issued for this service. An opaque access token says nothing of the
kind, and accepting it through the userinfo endpoint would let any other application of the same provider that
holds a user's access token act as that user here.

A provider's token proves an email address, not a member: web.member() turns the address into the member of the
URL's team, so role and removal come from the members table at every call, as for the built-in tokens.

Configuration (per stage): OIDC_ISSUER (nothing here is used without it), OIDC_AUDIENCE, and optionally
OIDC_JWKS_URL (else read from the issuer's discovery document). Only RS256 and ES256 are accepted: HS256 would
let anyone who knows the public key (everyone) sign, and `none` signs nothing.

The console's "Sign in with ..." (oidc_signin.py) checks its ID tokens here too, for its client id, and posts
to the provider's token endpoint through the same fetcher (one deadline, a size limit).
"""
import http.client
import io
import json
import logging
import socket
import ssl
import threading
import time
import urllib.parse

from . import config
from .errors import ServiceUnavailable, Unauthorized

log = logging.getLogger(__name__)

ALGORITHMS = {"RSA": "RS256", "EC": "ES256"}  # the one algorithm each key type may verify
LEEWAY_SECONDS = 60  # clocks of the provider and Lambda may differ a little
REFRESH_INTERVAL = 60.0  # an unknown kid refetches the keys at most this often: forged kids can't flood the IdP
# One deadline for a whole fetch (discovery and keys, connect to last byte), so the API answers within API
# Gateway's 29 s whatever the provider does: a timeout per read would let a provider trickling a byte at a time
# hold the call as long as it likes.
FETCH_TIMEOUT = 3.0
MAX_ANSWER = 1024 * 1024
MAX_REDIRECTS = 3
ID_TOKEN_REQUIRED = ("an ID token is required (a JWT the identity provider issued for this service: its aud is "
                     "OIDC_AUDIENCE); an access token can't prove it was meant for this service")


def configured() -> bool:
    return bool(config.optional("OIDC_ISSUER"))


def _monotonic() -> float:  # tests move it to pass the refresh interval
    return time.monotonic()


# --- fetching, within a deadline ------------------------------------------------------------------------------

def _fetch_json(url: str, deadline: float):
    """The JSON document at `url`, read whole before `deadline` (a time.monotonic() value), or 503."""
    for _ in range(MAX_REDIRECTS + 1):
        status, location, data = _get(url, deadline)
        if status in (301, 302, 303, 307, 308) and location:
            url = urllib.parse.urljoin(url, location)
            continue
        if status != 200:
            raise ServiceUnavailable(f"the identity provider answered HTTP {status} for {url}")
        try:
            return json.loads(data)
        except (ValueError, RecursionError):
            raise ServiceUnavailable(f"the identity provider's answer for {url} is not JSON") from None
    raise ServiceUnavailable("the identity provider redirected too many times")


def _get(url: str, deadline: float) -> tuple[int, str | None, bytes]:
    return _send("GET", url, deadline)


def _post_form(url: str, fields: dict, deadline: float, headers: dict | None = None) -> tuple[int, object]:
    """POSTs `fields` form-encoded (a token endpoint): (status, the JSON answer, or None when it isn't JSON).
    Redirects are not followed: the code and its verifier go only where the discovery document said."""
    body = urllib.parse.urlencode(fields).encode("ascii")
    status, _, data = _send("POST", url, deadline,
                            {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}, body)
    try:
        return status, json.loads(data)
    except (ValueError, RecursionError):
        return status, None


def _send(method: str, url: str, deadline: float, headers: dict | None = None,
          body: bytes = b"") -> tuple[int, str | None, bytes]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServiceUnavailable(f"the identity provider's URL is not http(s): {url}")
    https = parts.scheme == "https"
    try:
        with _connect(parts.hostname, parts.port or (443 if https else 80), https, deadline) as sock:
            sock.settimeout(_remaining(deadline))
            sock.sendall(_request(method, parts, headers or {}, body))
            raw = _read_all(sock, deadline)
        # http.client parses what was received (status, headers, chunked or not) without touching the network.
        answer = http.client.HTTPResponse(_Received(raw), method=method)
        answer.begin()
        return answer.status, answer.getheader("Location"), answer.read()
    except TimeoutError:
        raise ServiceUnavailable(f"the identity provider didn't answer within {FETCH_TIMEOUT:g} s") from None
    except (OSError, http.client.HTTPException, ValueError) as exc:  # refused, reset, TLS, bad port, malformed
        raise ServiceUnavailable(f"the identity provider's answer to {method} {url} could not be read: "
                                 f"{exc!r}") from None


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _connect(host: str, port: int, https: bool, deadline: float) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=_remaining(deadline))
    if not https:
        return sock
    try:
        sock.settimeout(_remaining(deadline))  # bounds the whole TLS handshake, not each of its reads
        return ssl.create_default_context().wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise


def _request(method: str, parts: urllib.parse.SplitResult, headers: dict, body: bytes) -> bytes:
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.netloc.rpartition("@")[2]
    if any(c <= " " or c == "\x7f" for c in target + host):  # nothing may add a header to the request
        raise ServiceUnavailable("the identity provider's URL has spaces or control characters")
    if any(c < " " or c == "\x7f" for c in "".join(headers.values())):  # spaces are fine: "Basic ..."
        raise ServiceUnavailable("a header for the identity provider has control characters")
    fields = {"Host": host, "Accept": "application/json", "Connection": "close", "User-Agent": "privacy-desk",
              **headers, **({"Content-Length": str(len(body))} if method != "GET" else {})}
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return (head + "\r\n").encode("ascii") + body


def _read_all(sock: socket.socket, deadline: float) -> bytes:
    """Every byte until the provider closes: each read may wait only for what is left of the deadline."""
    received = bytearray()
    while True:
        sock.settimeout(_remaining(deadline))
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(received)
        received += chunk
        if len(received) > MAX_ANSWER:
            raise ServiceUnavailable(f"the identity provider's answer is over {MAX_ANSWER // 1024} KiB")


class _Received:
    """An answer already read, as the socket http.client.HTTPResponse expects."""

    def __init__(self, raw: bytes):
        self.raw = raw

    def makefile(self, mode):
        return io.BytesIO(self.raw)


# --- the key set ----------------------------------------------------------------------------------------------

def _usable_keys(document) -> dict:
    import jwt

    keys = {}
    for entry in document.get("keys", []) if isinstance(document, dict) else []:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or entry.get("kty") not in ALGORITHMS:
            continue
        try:
            keys[entry.get("kid")] = (ALGORITHMS[entry["kty"]], jwt.PyJWK(entry, ALGORITHMS[entry["kty"]]).key)
        except jwt.PyJWTError:
            continue  # a key we can't use (another curve, a malformed entry) must not hide the others
    return keys


class KeySet:
    """The provider's public keys by kid, cached for the container's life and refetched only when a token
    names a kid we don't know (rotation), at most once per REFRESH_INTERVAL.

    Single flight, and the lock is never held across the network: one caller fetches; meanwhile a token whose
    kid is cached is checked at once, and one whose kid is unknown is refused at once (401) rather than queued
    behind a provider that may be slow on purpose."""

    def __init__(self, issuer: str, jwks_url: str | None):
        self.issuer, self.jwks_url = issuer, jwks_url
        self.keys: dict = {}  # replaced whole, never changed in place: reading it needs no lock
        self.fetched_at: float | None = None
        self.fetching = False
        self.unreachable = False  # the last fetch failed: say so (503) until the next attempt, not "unknown key"
        self.lock = threading.Lock()

    def key(self, kid):
        found = self.keys.get(kid)
        if found is not None:
            return found
        if not self._claim_fetch():
            if self.unreachable and not self.fetching:
                raise ServiceUnavailable("the identity provider's keys could not be read; retrying shortly")
            return None
        self._fetch()
        return self.keys.get(kid)

    def _claim_fetch(self) -> bool:
        """Whether this caller is the one to fetch now."""
        with self.lock:
            now = _monotonic()
            if self.fetching or (self.fetched_at is not None and now - self.fetched_at < REFRESH_INTERVAL):
                return False
            self.fetching, self.fetched_at = True, now
            return True

    def _fetch(self) -> None:
        keys = {}
        try:
            deadline = time.monotonic() + FETCH_TIMEOUT
            keys = _usable_keys(_fetch_json(self._url(deadline), deadline))
            if not keys:  # a provider's bad minute must not take away the keys that verify today's tokens
                raise ServiceUnavailable("the identity provider's key set has no key this service can use")
        finally:
            with self.lock:
                if keys:
                    self.keys = keys
                self.unreachable, self.fetching = not keys, False
            if not keys:
                log.warning("the identity provider's keys could not be refreshed; keeping the %d cached",
                            len(self.keys))

    def _url(self, deadline: float) -> str:
        if not self.jwks_url:
            discovery = _fetch_json(self.issuer.rstrip("/") + "/.well-known/openid-configuration", deadline)
            if not isinstance(discovery, dict) or not isinstance(discovery.get("jwks_uri"), str):
                raise ServiceUnavailable("the identity provider's discovery document names no jwks_uri")
            self.jwks_url = discovery["jwks_uri"]
        return self.jwks_url


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


def verify(token: str, audience: str | None = None) -> dict:
    """The claims of a provider's token: signature by one of its keys, issuer, audience, expiry, not-before.
    `aud` must name `audience`: OIDC_AUDIENCE (the API's bearer tokens) unless given (the console's sign-in
    gives its client id)."""
    import jwt

    algorithm, key = _signing_key(token)
    hint = ID_TOKEN_REQUIRED if audience is None else "its aud doesn't name this service's client id"
    try:
        return jwt.decode(token, key, algorithms=[algorithm], audience=audience or config.get("OIDC_AUDIENCE"),
                          issuer=config.get("OIDC_ISSUER"), leeway=LEEWAY_SECONDS,
                          options={"require": ["exp", "iss", "aud"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired") from None
    except jwt.InvalidAudienceError:  # typically an access token, issued for an API rather than this client
        raise Unauthorized(f"the token is not for this service: {hint}") from None
    except jwt.MissingRequiredClaimError as exc:
        raise Unauthorized(f"the token is not valid: {exc}" + (f"; {hint}" if exc.claim == "aud" else "")) from None
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"the token is not valid: {exc}") from None


def _signing_key(token: str) -> tuple:
    """(algorithm, key) of the provider's published key that the token's header names, or 401."""
    import jwt

    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:  # not a JWT: an opaque access token (oidc-provider's default), which names no audience
        raise Unauthorized(ID_TOKEN_REQUIRED) from None
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS.values():
        raise Unauthorized(f"tokens signed with {algorithm!r} are not accepted (RS256 or ES256 only)")
    keys = keyset()
    found = keys.key(header.get("kid"))
    if found is None:
        if keys.fetching:  # maybe a key just rotated in: say so rather than keep this caller waiting
            raise Unauthorized("the token was signed with a key not known yet; the identity provider's keys are "
                               "being fetched: try again in a moment")
        raise Unauthorized("the token was signed with a key the identity provider doesn't publish")
    expected, key = found
    if algorithm != expected:  # an RS256 header on an EC key (or the reverse) is never a provider's token
        raise Unauthorized("the token's algorithm doesn't match its key")
    return expected, key


def verified_email(claims: dict) -> str:
    """The normalised address the provider vouches for. `email_verified` absent (Entra ID doesn't send it) is
    accepted; present, it must be true (or Cognito's "true"): anything else ("False", "0", null) may mean that
    nobody checked the address, and anyone could have typed it."""
    from . import emails
    from .errors import BadRequest

    verified = claims.get("email_verified", True)
    if not (verified is True or verified == "true"):  # `is`: 1 == True, and 1 is no provider's "verified"
        raise Unauthorized("the identity provider has not verified this token's email address")
    address = claims.get("email")
    if not isinstance(address, str) or not address:
        raise Unauthorized("the token has no email claim: ask the provider to include the email scope")
    try:
        return emails.normalise(address)
    except BadRequest:
        raise Unauthorized("the token's email claim is not an address this service can use") from None
