"""Issue 9 §1: a team signs in with its own OpenID Connect provider. Its ID tokens are accepted on the account
routes when one of the provider's published keys signed them (RS256 or ES256 only) for our audience, and when
their verified email is a member of the URL's team; that member's role applies. Access tokens are refused
(issue 15 §3): nothing in an opaque one says it was issued for this service.

The provider is real HTTP: a thread on localhost serves the discovery document and the JWKS, with keys made
here, and counts how often the keys are fetched."""
import base64
import contextlib
import hashlib
import hmac
import http.server
import json
import threading
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from chalicelib import oidc, tokens
from chalicelib.errors import DomainError

AUDIENCE = "privacy-desk-client"


class Provider:
    TRICKLE_EVERY, TRICKLE_FOR = 2.0, 20.0  # the report's endpoint; it gives up after 20 s so old code ends too

    def __init__(self):
        self.jwks: list[dict] = []
        self.jwks_fetches = 0
        self.down = False
        self.keys_body: bytes | None = None  # served instead of the JWKS: a provider publishing a broken set
        self.trickle: dict[str, bool] = {}  # path -> whether the headers go at once; then one byte every 2 s
        self.stall: dict[str, float] = {}  # path -> seconds of silence between the headers and the body
        self.trickling = threading.Event()  # a trickled answer has begun: a fetch is under way
        self.stopped = threading.Event()
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 — http.server's name
                if provider.down:
                    self.send_response(500)
                    self.end_headers()
                    return
                data = provider.answer(self.path)
                if data is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                head = (f"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(data)}\r\n\r\n").encode()
                try:
                    provider.send(self.wfile, self.path, head, data)
                except OSError:
                    pass  # the client hung up (a deadline did)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, path: str) -> bytes | None:
        if path == "/.well-known/openid-configuration":
            return json.dumps({"issuer": self.issuer, "jwks_uri": self.issuer + "/keys"}).encode()
        if path == "/keys":
            self.jwks_fetches += 1
            return self.keys_body if self.keys_body is not None else json.dumps({"keys": self.jwks}).encode()
        return None

    def send(self, out, path: str, head: bytes, data: bytes) -> None:
        if path in self.trickle:
            headers_at_once = self.trickle[path]
            self._trickle(out, head if headers_at_once else b"", data if headers_at_once else head + data)
            return
        out.write(head)
        out.flush()
        self.stopped.wait(self.stall.get(path, 0))
        out.write(data)

    def _trickle(self, out, at_once: bytes, slowly: bytes) -> None:
        out.write(at_once)
        out.flush()
        self.trickling.set()
        ends = time.monotonic() + self.TRICKLE_FOR
        for byte in slowly:
            if self.stopped.wait(self.TRICKLE_EVERY) or time.monotonic() > ends:
                return
            out.write(bytes([byte]))
            out.flush()

    def new_key(self, kind: str = "RSA", kid: str | None = None, publish: bool = True):
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == "RSA" \
            else ec.generate_private_key(ec.SECP256R1())
        kid = kid or f"{kind.lower()}-{len(self.jwks)}-{time.monotonic_ns()}"
        algorithm = jwt.algorithms.RSAAlgorithm if kind == "RSA" else jwt.algorithms.ECAlgorithm
        public = json.loads(algorithm.to_jwk(private.public_key()))
        public.update(kid=kid, use="sig")
        if publish:
            self.jwks.append(public)
        return {"private": private, "kid": kid, "alg": "RS256" if kind == "RSA" else "ES256", "jwk": public}

    def claims(self, email: str = "admin@team.example", **changes) -> dict:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": AUDIENCE, "sub": "idp-user-1", "email": email, "email_verified": True,
                  "iat": now, "exp": now + 600}
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, key, **changes) -> str:
        return self.sign(key, self.claims(**changes))

    def sign(self, key, claims: dict) -> str:
        return jwt.encode(claims, key["private"], algorithm=key["alg"], headers={"kid": key["kid"]})

    def stop(self):
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def idp(monkeypatch):
    provider = Provider()
    monkeypatch.setenv("OIDC_ISSUER", provider.issuer)
    monkeypatch.setenv("OIDC_AUDIENCE", AUDIENCE)
    monkeypatch.delenv("OIDC_JWKS_URL", raising=False)
    oidc.reset()
    yield provider
    oidc.reset()
    provider.stop()


@pytest.fixture
def rsa_key(idp):
    return idp.new_key("RSA")


def settings(api, team, token):
    return api.get(f"/teams/{team.id}/privacy/settings", token=token)


def change_settings(api, team, token):
    return api.patch(f"/teams/{team.id}/privacy/settings", {"policy_links_enabled": True}, token=token)


# --- accepted ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["RSA", "EC"])
def test_a_provider_token_for_a_members_verified_email_acts_with_that_members_role(api, team, idp, kind):
    key = idp.new_key(kind)
    token = idp.token(key, email="Admin@TEAM.example")  # addresses compare normalised
    assert settings(api, team, token).status_code == 200
    assert change_settings(api, team, token).status_code == 200  # the member is an admin


def test_the_keys_are_found_through_discovery_and_fetched_once_per_container(api, team, idp, rsa_key):
    for _ in range(3):
        assert settings(api, team, idp.token(rsa_key)).status_code == 200
    assert idp.jwks_fetches == 1


def test_an_explicit_jwks_url_is_used_without_discovery(api, team, idp, rsa_key, monkeypatch):
    monkeypatch.setenv("OIDC_JWKS_URL", idp.issuer + "/keys")
    monkeypatch.setenv("OIDC_ISSUER", "https://issuer.invalid")  # discovery there would fail
    token = idp.token(rsa_key, iss="https://issuer.invalid")
    assert settings(api, team, token).status_code == 200


def test_a_small_clock_difference_is_tolerated(api, team, idp, rsa_key):
    now = int(time.time())
    assert settings(api, team, idp.token(rsa_key, exp=now - 20, nbf=now + 20)).status_code == 200


def test_built_in_tokens_keep_working_next_to_the_provider(api, team, idp, rsa_key):
    assert settings(api, team, team.token).status_code == 200
    assert idp.jwks_fetches == 0  # a built-in token never reaches the provider


# --- the member comes from the members table -----------------------------------------------------------------------

def test_a_member_role_from_the_provider_cannot_use_admin_routes(api, team, idp, rsa_key):
    api.add_member(team, "m1", "m1@team.example")
    token = idp.token(rsa_key, email="m1@team.example")
    assert settings(api, team, token).status_code == 200
    assert change_settings(api, team, token).status_code == 403


def test_demoting_or_removing_the_member_applies_to_a_live_provider_token_at_once(api, team, idp, rsa_key):
    api.add_member(team, "m1", "m1@team.example", role="admin")
    token = idp.token(rsa_key, email="m1@team.example")
    assert change_settings(api, team, token).status_code == 200
    api.add_member(team, "m1", "m1@team.example", role="member")
    assert change_settings(api, team, token).status_code == 403
    assert api.delete(f"/teams/{team.id}/members/m1", token=team.token).status_code == 200
    answer = settings(api, team, token)
    assert answer.status_code == 403, answer.body


def test_a_member_of_another_team_is_403(api, team, idp, rsa_key):
    api.new_team("Other", "boss@other.example")
    answer = settings(api, team, idp.token(rsa_key, email="boss@other.example"))
    assert answer.status_code == 403
    assert answer.json_body["Code"] == "ForbiddenError"


@pytest.mark.parametrize("unverified", [False, "false", "False", "0", "no", None, 1, 0, ""], ids=repr)
def test_an_email_verified_claim_other_than_true_is_refused(api, team, idp, rsa_key, unverified):
    token = idp.sign(rsa_key, {**idp.claims(), "email_verified": unverified})  # null kept: present, not absent
    answer = settings(api, team, token)
    assert answer.status_code == 401, answer.body


@pytest.mark.parametrize("verified", [True, "true", "absent"])
def test_email_verified_true_its_cognito_string_or_absent_as_from_entra_id_is_accepted(
        api, team, idp, rsa_key, verified):
    token = idp.token(rsa_key, email_verified=None if verified == "absent" else verified)
    assert settings(api, team, token).status_code == 200


def test_a_token_without_an_email_claim_is_refused(api, team, idp, rsa_key):
    assert settings(api, team, idp.token(rsa_key, email=None)).status_code == 401


# --- refused: the token itself --------------------------------------------------------------------------------------

def refused(api, team, token):
    before = api.state()
    for answer in (settings(api, team, token), change_settings(api, team, token)):
        assert answer.status_code == 401, answer.body
        assert set(answer.json_body) >= {"Code", "Message"}
    assert api.state() == before


def test_a_token_signed_by_a_key_the_provider_doesnt_publish_is_refused(api, team, idp, rsa_key):
    stranger = idp.new_key("RSA", kid=rsa_key["kid"], publish=False)  # same kid, another key
    refused(api, team, idp.token(stranger))


def test_a_token_of_another_issuer_is_refused(api, team, idp, rsa_key):
    refused(api, team, idp.token(rsa_key, iss="https://evil.example"))


def test_a_token_for_another_audience_is_refused(api, team, idp, rsa_key):
    refused(api, team, idp.token(rsa_key, aud="another-app"))


def test_an_expired_token_is_refused(api, team, idp, rsa_key):
    refused(api, team, idp.token(rsa_key, exp=int(time.time()) - 300))


def test_a_token_not_yet_valid_is_refused(api, team, idp, rsa_key):
    refused(api, team, idp.token(rsa_key, nbf=int(time.time()) + 300))


def hs256_with_the_public_key(key, claims: dict) -> str:
    """The classic algorithm confusion: HMAC keyed with the provider's public key, which anyone can fetch."""
    pem = key["private"].public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    part = lambda value: base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")  # noqa: E731
    signed = f"{part({'alg': 'HS256', 'typ': 'JWT', 'kid': key['kid']})}.{part(claims)}"
    signature = hmac.new(pem, signed.encode(), hashlib.sha256).digest()
    return f"{signed}." + base64.urlsafe_b64encode(signature).decode().rstrip("=")


def test_hs256_signed_with_the_public_key_is_refused(api, team, idp, rsa_key):
    refused(api, team, hs256_with_the_public_key(rsa_key, idp.claims()))


def test_hs256_with_the_bearer_audience_still_needs_our_key(api, team, idp, rsa_key):
    """The header decides only which check runs: a provider-looking HS256 token with aud "bearer" meets ours."""
    claims = idp.claims(aud=tokens.BEARER, team=team.id, sub=team.admin_id)
    refused(api, team, hs256_with_the_public_key(rsa_key, claims))


def test_an_unsigned_token_is_refused(api, team, idp, rsa_key):
    unsigned = jwt.encode(idp.claims(), None, algorithm="none", headers={"kid": rsa_key["kid"]})
    refused(api, team, unsigned)


def test_an_opaque_access_token_is_refused_saying_an_id_token_is_required(api, team, idp, rsa_key):
    """panva's oidc-provider (certified) issues opaque access tokens: nothing in them names our audience."""
    opaque = "Yq2n1bE0pXo8-3kZr7VtqLm4sHcW9dJf5aNuRyGxTeC"
    answer = settings(api, team, opaque)
    assert answer.status_code == 401
    assert answer.json_body["Message"].startswith("an ID token is required"), answer.body
    assert idp.jwks_fetches == 0  # refused before asking the provider anything


def test_a_jwt_access_token_for_another_audience_is_refused_saying_an_id_token_is_required(
        api, team, idp, rsa_key):
    access = idp.token(rsa_key, aud="https://api.example")  # Auth0, Okta: the API's identifier, not our client
    answer = settings(api, team, access)
    assert answer.status_code == 401
    assert "an ID token is required" in answer.json_body["Message"], answer.body


def test_an_rs256_header_on_an_ec_key_is_refused(api, team, idp):
    ec_key = idp.new_key("EC")
    other = idp.new_key("RSA", publish=False)
    refused(api, team, jwt.encode(idp.claims(), other["private"], algorithm="RS256", headers={"kid": ec_key["kid"]}))


# --- keys change -------------------------------------------------------------------------------------------------

def test_an_unknown_kid_refetches_the_keys_once_then_is_refused_and_refetching_is_rate_limited(
        api, team, idp, rsa_key):
    assert settings(api, team, idp.token(rsa_key)).status_code == 200
    assert idp.jwks_fetches == 1
    unknown = idp.new_key("RSA", publish=False)
    refused(api, team, idp.token(unknown))
    assert idp.jwks_fetches == 1  # within a minute of the last fetch: refused without asking again
    clock = time.monotonic() + oidc.REFRESH_INTERVAL + 1
    original = oidc._monotonic
    oidc._monotonic = lambda: clock
    try:
        assert settings(api, team, idp.token(unknown)).status_code == 401
        assert idp.jwks_fetches == 2  # a minute later: fetched once more, still unknown
        for _ in range(3):
            assert settings(api, team, idp.token(unknown)).status_code == 401
        assert idp.jwks_fetches == 2
    finally:
        oidc._monotonic = original


def test_a_rotated_in_key_is_accepted_after_one_refresh(api, team, idp, rsa_key, monkeypatch):
    assert settings(api, team, idp.token(rsa_key)).status_code == 200
    new = idp.new_key("EC")  # the provider publishes a new key and signs with it
    monkeypatch.setattr(oidc, "_monotonic", lambda: time.monotonic() + oidc.REFRESH_INTERVAL + 1)
    assert settings(api, team, idp.token(new)).status_code == 200
    assert settings(api, team, idp.token(new)).status_code == 200
    assert idp.jwks_fetches == 2


def test_a_provider_that_does_not_answer_gives_503_not_500(api, team, idp, rsa_key):
    idp.down = True
    answer = settings(api, team, idp.token(rsa_key))
    assert answer.status_code == 503, answer.body
    assert answer.json_body["Code"] == "ServiceUnavailable"


def test_a_provider_down_keeps_answering_503_until_the_next_attempt(api, team, idp, rsa_key):
    idp.down = True
    assert settings(api, team, idp.token(rsa_key)).status_code == 503
    idp.down = False
    assert settings(api, team, idp.token(rsa_key)).status_code == 503  # within the minute: not asked again
    idp_key = idp.token(rsa_key)
    original = oidc._monotonic
    oidc._monotonic = lambda: time.monotonic() + oidc.REFRESH_INTERVAL + 1
    try:
        assert settings(api, team, idp_key).status_code == 200
    finally:
        oidc._monotonic = original


@pytest.mark.parametrize("document", [b"{}", b'{"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]}', b"<html>"],
                         ids=["empty", "no-usable-key", "not-json"])
def test_a_key_set_without_usable_keys_keeps_the_last_good_one(api, team, idp, rsa_key, monkeypatch, document):
    assert settings(api, team, idp.token(rsa_key)).status_code == 200
    idp.keys_body = document
    monkeypatch.setattr(oidc, "_monotonic", lambda: time.monotonic() + oidc.REFRESH_INTERVAL + 1)
    settings(api, team, idp.token(idp.new_key("RSA", publish=False)))  # a new kid makes it refetch
    assert idp.jwks_fetches == 2
    assert settings(api, team, idp.token(rsa_key)).status_code == 200


# --- a slow provider (issue 15): one deadline per fetch, and nobody waits for a fetch --------------------------------

@pytest.mark.parametrize("headers_at_once", [False, True], ids=["trickled-headers", "trickled-body"])
def test_a_key_set_that_trickles_is_cut_off_at_the_deadline(api, team, idp, headers_at_once):
    idp.trickle["/keys"] = headers_at_once
    started = time.monotonic()
    answer = settings(api, team, idp.token(idp.new_key("RSA")))
    elapsed = time.monotonic() - started
    assert answer.status_code == 503, answer.body
    assert elapsed < 8, elapsed  # FETCH_TIMEOUT is 3 s; per-read timeouts let it last the whole trickle (20 s)


def test_discovery_and_keys_share_one_deadline(api, team, idp, rsa_key):
    idp.stall = {"/.well-known/openid-configuration": 2.0, "/keys": 2.0}  # each within 3 s, not both
    answer = settings(api, team, idp.token(rsa_key))
    assert answer.status_code == 503, answer.body


def fetch_under_way(idp, monkeypatch) -> threading.Thread:
    """The attack: a token with a random kid makes the container refetch the keys from an endpoint that trickles.
    Its caller goes straight to the verifier, in a thread (the test client serves one call at a time)."""
    monkeypatch.setattr(oidc, "FETCH_TIMEOUT", 6.0)  # room for the other call to finish while this one fetches
    monkeypatch.setattr(oidc, "_monotonic", lambda: time.monotonic() + oidc.REFRESH_INTERVAL + 1)
    idp.trickle["/keys"] = True
    forged = idp.token(idp.new_key("RSA", publish=False))

    def attacker():
        with contextlib.suppress(DomainError):
            oidc.verify(forged)

    thread = threading.Thread(target=attacker, daemon=True)
    thread.start()
    assert idp.trickling.wait(5)
    return thread


def end(idp, fetch: threading.Thread) -> None:
    idp.stopped.set()
    fetch.join(10)


def test_a_cached_kid_is_answered_while_a_fetch_is_under_way(api, team, idp, rsa_key, monkeypatch):
    assert settings(api, team, idp.token(rsa_key)).status_code == 200
    fetch = fetch_under_way(idp, monkeypatch)
    answer = settings(api, team, idp.token(rsa_key))
    assert answer.status_code == 200, answer.body
    assert fetch.is_alive()  # answered without waiting for the fetch
    end(idp, fetch)


def test_an_unknown_kid_while_a_fetch_is_under_way_is_refused_without_waiting(api, team, idp, rsa_key, monkeypatch):
    assert settings(api, team, idp.token(rsa_key)).status_code == 200
    fetch = fetch_under_way(idp, monkeypatch)
    answer = settings(api, team, idp.token(idp.new_key("RSA", publish=False)))
    assert answer.status_code == 401, answer.body
    assert "try again in a moment" in answer.json_body["Message"]  # it may be a key that just rotated in
    assert fetch.is_alive()
    assert idp.jwks_fetches == 2  # the one under way; no second fetch
    end(idp, fetch)


def test_without_oidc_issuer_provider_tokens_are_refused_and_the_provider_never_asked(
        api, team, idp, rsa_key, monkeypatch):
    monkeypatch.delenv("OIDC_ISSUER")
    assert settings(api, team, idp.token(rsa_key)).status_code == 401
    assert settings(api, team, team.token).status_code == 200
    assert idp.jwks_fetches == 0


def test_make_run_hands_its_oidc_variables_to_the_local_stage(monkeypatch):
    from devtools import run_local

    monkeypatch.setenv("OIDC_ISSUER", "https://idp.example")
    monkeypatch.setenv("OIDC_AUDIENCE", "desk")
    monkeypatch.delenv("OIDC_JWKS_URL", raising=False)
    env = run_local.local_environment(5555)
    assert env["OIDC_ISSUER"] == "https://idp.example" and env["OIDC_AUDIENCE"] == "desk"
    assert "OIDC_JWKS_URL" not in env


def test_make_run_with_the_three_variables_accepts_a_token_from_a_local_jwks(monkeypatch):
    """End to end: the real `make run` stack (subprocesses), a provider on localhost, the demo team's admin."""
    from tests.test_local_stack import Http, LocalStack

    provider = Provider()
    key = provider.new_key("RSA")
    monkeypatch.setenv("OIDC_ISSUER", provider.issuer)
    monkeypatch.setenv("OIDC_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("OIDC_JWKS_URL", provider.issuer + "/keys")
    stack = LocalStack()
    try:
        stack.wait_ready()
        http = Http(stack.api)
        path = f"/teams/{stack.team_id}/privacy/settings"
        status, body = http.get(path, token=provider.token(key, email="admin@demo.example"))
        assert status == 200 and body["team_id"] == stack.team_id, body
        assert http.get(path, token=provider.token(key, email="stranger@demo.example"))[0] == 403
        assert provider.jwks_fetches >= 1
    finally:
        stack.stop()
        provider.stop()
