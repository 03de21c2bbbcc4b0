"""The console's "Sign in with <provider>": OpenID Connect's authorization code flow with PKCE (RFC 7636).

begin() sends the browser to the provider with three random values: `state` (the callback answers the sign-in
this browser started, not one an attacker started: login CSRF), `nonce` (the ID token was issued for this
sign-in, not replayed from another) and a PKCE challenge (a code intercepted on its way back is useless
without the verifier, which never leaves the server). They are kept in the markers table under the SHA-256 of
a flow id that only the browser's short-lived cookie holds. finish() uses the flow once, exchanges the code at
the token endpoint and returns the address the ID token vouches for. Whether that address is a member of a
team is the caller's concern: the pages read the members at every click.

Configuration: OIDC_ISSUER and OIDC_AUDIENCE (see oidc.py), OIDC_CLIENT_ID (the console's client at the
provider: its ID tokens' audience); optionally OIDC_CLIENT_SECRET (a confidential client, sent as
client_secret_basic) and OIDC_PROVIDER_NAME (the button's label).
"""
import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
import urllib.parse

from pynamodb.exceptions import DeleteError, DoesNotExist

from . import clock, config
from .db import condition_failed
from .errors import NotFound, ServiceUnavailable, Unauthorized
from .models import Marker

log = logging.getLogger(__name__)
FLOW_MINUTES = 10
FLOW_LIFETIME = dt.timedelta(minutes=FLOW_MINUTES)
CALLBACK_PATH = "/console/sign-in/callback"
MAX_FLOW_ID = 100
ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # RFC 6749's codes; anything else an `error` holds isn't repeated
AGAIN = "start signing in again"
_ENDPOINTS: dict = {}  # issuer -> (authorization, token endpoint), for the container's life like oidc.KeySet


def configured() -> bool:
    return all(config.optional(name) for name in ("OIDC_ISSUER", "OIDC_AUDIENCE", "OIDC_CLIENT_ID"))


def provider_name() -> str:
    if not configured():
        return ""
    return config.optional("OIDC_PROVIDER_NAME") or urllib.parse.urlsplit(config.get("OIDC_ISSUER")).hostname or ""


def redirect_uri() -> str:
    return config.public_url(CALLBACK_PATH)


# --- the way there ------------------------------------------------------------------------------------------------

def begin() -> tuple[str, str]:
    """(the provider's authorization URL to send the browser to, the flow id for its short-lived cookie)."""
    _require_configured()
    authorization_endpoint, _ = _endpoints()
    flow_id, state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(4))  # the verifier: 43 characters
    now = clock.now()
    Marker(_flow_key(flow_id), value=json.dumps({"state": state, "nonce": nonce, "verifier": verifier}),
           created_at=clock.iso(now), expires_at=now + FLOW_LIFETIME).save(condition=Marker.pk.does_not_exist())
    query = urllib.parse.urlencode({
        "response_type": "code", "scope": "openid email", "client_id": config.get("OIDC_CLIENT_ID"),
        "redirect_uri": redirect_uri(), "state": state, "nonce": nonce,
        "code_challenge": _challenge(verifier), "code_challenge_method": "S256"})
    separator = "&" if "?" in authorization_endpoint else "?"  # some endpoints have a query of their own (B2C's ?p=)
    return authorization_endpoint + separator + query, flow_id


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


def _flow_key(flow_id: str) -> str:
    return "oidc#" + hashlib.sha256(flow_id.encode()).hexdigest()  # the table never holds the cookie's value


# --- the way back -------------------------------------------------------------------------------------------------

def finish(flow_id: str | None, params: dict) -> str:
    """The verified, normalised address of whoever signed in at the provider, from the callback's query
    parameters and the flow cookie; Unauthorized otherwise. The flow is used up before anything else, whatever
    comes of it: a replayed callback finds nothing to exchange a code with."""
    from . import oidc  # on first use: the app's import stays light (cold start)

    _require_configured()
    flow, params = _take(flow_id), params or {}  # Chalice gives None for a callback without a query
    if "error" in params:
        _refuse_provider_error(params)
    state = params.get("state")
    if not isinstance(state, str) or not hmac.compare_digest(state.encode(), flow["state"].encode()):
        raise Unauthorized(f"this answer is not for the sign-in this browser started (state): {AGAIN}")
    code = params.get("code")
    if not isinstance(code, str) or not code:
        raise Unauthorized(f"the identity provider's answer has no authorization code: {AGAIN}")
    return oidc.verified_email(_id_token_claims(_exchange(code, flow["verifier"]), flow["nonce"]))


def _take(flow_id: str | None) -> dict:
    """The flow's secrets, deleted on the way, conditionally: of two callbacks for one flow, only one gets it."""
    if not isinstance(flow_id, str) or not flow_id or len(flow_id) > MAX_FLOW_ID:
        raise Unauthorized(f"no sign-in was started in this browser (or its cookie is gone): {AGAIN}")
    try:
        item = Marker.get(_flow_key(flow_id), consistent_read=True)
        item.delete(condition=Marker.pk.exists())
    except DoesNotExist:
        raise Unauthorized(f"this sign-in is unknown, already used or expired: {AGAIN}") from None
    except DeleteError as exc:
        if condition_failed(exc):
            raise Unauthorized(f"this sign-in was already used: {AGAIN}") from None
        raise
    if item.expires_at is None or item.expires_at <= clock.now():  # DynamoDB's TTL deletes days late, not on time
        raise Unauthorized(f"this sign-in took longer than {FLOW_MINUTES} minutes: {AGAIN}")
    return json.loads(item.value)


def _refuse_provider_error(params: dict) -> None:
    """The provider said no (the person cancelled, isn't assigned to the app...). Only its error code is
    repeated, when it looks like one: error_description is free text from the query string, so only logged."""
    code = _error_code(params.get("error"), "unrecognised error")
    log.info("the identity provider refused a console sign-in: %s %.200r", code, params.get("error_description"))
    raise Unauthorized(f"the identity provider refused the sign-in ({code})")


def _error_code(value, fallback: str) -> str:
    return value if isinstance(value, str) and ERROR_CODE.fullmatch(value) else fallback


def _exchange(code: str, verifier: str) -> str:
    """The ID token the token endpoint gives for the code (RFC 6749 §4.1.3, with the PKCE verifier)."""
    from . import oidc  # on first use: the app's import stays light (cold start)

    _, token_endpoint = _endpoints()
    client_id, secret = config.get("OIDC_CLIENT_ID"), config.optional("OIDC_CLIENT_SECRET")
    fields = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri(),
              "client_id": client_id, "code_verifier": verifier}
    headers = {"Authorization": _basic_auth(client_id, secret)} if secret else {}
    status, answer = oidc._post_form(token_endpoint, fields, time.monotonic() + oidc.FETCH_TIMEOUT, headers)
    if status == 200 and isinstance(answer, dict) and isinstance(answer.get("id_token"), str):
        return answer["id_token"]
    if status == 200:
        raise Unauthorized("the identity provider's token endpoint gave no ID token: is the openid scope allowed "
                           "for OIDC_CLIENT_ID?")
    if status in (400, 401):  # invalid_grant (the code is used, expired, or not this verifier's), invalid_client
        error = _error_code(answer.get("error") if isinstance(answer, dict) else None, f"HTTP {status}")
        raise Unauthorized(f"the identity provider refused to exchange the sign-in's code ({error}): {AGAIN}")
    raise ServiceUnavailable(f"the identity provider's token endpoint answered HTTP {status}")


def _basic_auth(client_id: str, secret: str) -> str:
    """client_secret_basic: RFC 6749 §2.3.1 form-encodes both before Base64, so a ':' in either can't split."""
    pair = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(secret)}"
    return "Basic " + base64.b64encode(pair.encode("ascii")).decode("ascii")


def _id_token_claims(id_token: str, nonce: str) -> dict:
    """The ID token's claims once it is the provider's, for this client (aud, azp) and this sign-in (nonce)."""
    from . import oidc  # on first use: the app's import stays light (cold start)

    client_id = config.get("OIDC_CLIENT_ID")
    claims = oidc.verify(id_token, audience=client_id)
    if "azp" in claims and claims["azp"] != client_id:  # OIDC Core §3.1.3.7: issued to another party
        raise Unauthorized("the ID token was issued to another client (azp)")
    found = claims.get("nonce")
    if not isinstance(found, str) or not hmac.compare_digest(found.encode(), nonce.encode()):
        raise Unauthorized(f"the ID token is not for this sign-in (nonce): {AGAIN}")
    return claims


# --- the provider's endpoints -------------------------------------------------------------------------------------

def _require_configured() -> None:
    if not configured():
        raise NotFound("signing in with an identity provider is not set up for this stage")


def _endpoints() -> tuple[str, str]:
    issuer = config.get("OIDC_ISSUER")
    found = _ENDPOINTS.get(issuer)
    if found is None:
        found = _ENDPOINTS[issuer] = _discover(issuer)
    return found


def _discover(issuer: str) -> tuple[str, str]:
    from . import oidc  # on first use: the app's import stays light (cold start)

    deadline = time.monotonic() + oidc.FETCH_TIMEOUT
    document = oidc._fetch_json(issuer.rstrip("/") + "/.well-known/openid-configuration", deadline)
    if not isinstance(document, dict) or document.get("issuer") != issuer:  # OIDC Discovery §4.3
        raise ServiceUnavailable("the identity provider's discovery document is not for OIDC_ISSUER")
    endpoints = document.get("authorization_endpoint"), document.get("token_endpoint")
    if not all(_is_http_url(url) for url in endpoints):
        raise ServiceUnavailable("the identity provider's discovery document names no authorization and token "
                                 "endpoints")
    return endpoints


def _is_http_url(url) -> bool:
    try:
        return isinstance(url, str) and urllib.parse.urlsplit(url).scheme in ("http", "https") and \
            bool(urllib.parse.urlsplit(url).hostname)
    except ValueError:  # "http://[" and the like
        return False
