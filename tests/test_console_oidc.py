"""The console's "Sign in with <provider>": OpenID Connect's authorization code flow with PKCE.

begin() gives the URL the browser is sent to and a flow id for its cookie; finish() takes the callback's query
and that cookie, and returns the address the provider's ID token vouches for, or refuses (401).

The provider is real HTTP, test_oidc.py's Provider with a token endpoint added: like a real one, it gives an ID
token only for a code it issued, to the client and redirect URI it was issued for, with the verifier whose
S256 challenge it was given, once. The browser's trip to the provider is simulated by `authorize(url)`: what
the provider does with the authorization URL, giving back the code and the state it echoes."""
import base64
import datetime as dt
import hashlib
import json
import secrets
import types
import urllib.parse

import pytest

from chalicelib import clock, config, oidc, oidc_signin
from chalicelib.errors import NotFound, ServiceUnavailable, Unauthorized
from chalicelib.models import Marker
from devtools import iam
from tests.test_oidc import AUDIENCE, Provider

CLIENT_ID = "privacy-desk-console"  # the console's client; AUDIENCE is the API's


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class CodeProvider(Provider):
    def __init__(self):
        super().__init__()
        self.key = self.new_key("RSA")
        self.grants: dict[str, dict] = {}  # code -> the authorization request it answered, the claims to issue
        self.token_requests: list[tuple[dict, dict]] = []  # (headers, form) of each POST to /token
        self.client_secret: str | None = None  # set: a confidential client, which must authenticate
        self.token_endpoint_down = False
        self.discovery_changes: dict = {}
        self.discovery_fetches = 0
        provider = self

        class Handler(self.server.RequestHandlerClass):
            def do_POST(self):  # noqa: N802 — http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                status, answer = provider.token(dict(self.headers), dict(urllib.parse.parse_qsl(body)))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server.RequestHandlerClass = Handler

    def answer(self, path: str) -> bytes | None:
        if path != "/.well-known/openid-configuration":
            return super().answer(path)
        self.discovery_fetches += 1
        return json.dumps({"issuer": self.issuer, "jwks_uri": self.issuer + "/keys",
                           "authorization_endpoint": self.issuer + "/authorize",
                           "token_endpoint": self.issuer + "/token", **self.discovery_changes}).encode()

    def authorize(self, url: str, email: str = "admin@team.example", **claims) -> tuple[str, str]:
        """The person signs in at the provider, which redirects back: (code, state)."""
        request = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        code = secrets.token_urlsafe(16)
        self.grants[code] = {"request": request, "claims": self.claims(
            email=email, **{"aud": request["client_id"], "nonce": request["nonce"], **claims})}
        return code, request["state"]

    def token(self, headers: dict, form: dict) -> tuple[int, dict]:
        self.token_requests.append((headers, form))
        if self.token_endpoint_down:
            return 500, {}
        if self.client_secret is not None and self.client_of(headers) != (CLIENT_ID, self.client_secret):
            return 401, {"error": "invalid_client"}
        grant = self.grants.pop(form.get("code"), None)  # a code works once
        asked = grant["request"] if grant else {}
        if (grant is None or form.get("grant_type") != "authorization_code"
                or form.get("client_id") != asked["client_id"] or form.get("redirect_uri") != asked["redirect_uri"]
                or asked.get("code_challenge_method") != "S256"
                or s256(form.get("code_verifier", "")) != asked.get("code_challenge")):
            return 400, {"error": "invalid_grant", "error_description": "<b>the code is not valid</b>"}
        return 200, {"access_token": "opaque", "token_type": "Bearer", "id_token": self.sign(self.key, grant["claims"])}

    @staticmethod
    def client_of(headers: dict) -> tuple[str, str] | None:
        """client_secret_basic as a provider reads it: Base64, then each half form-decoded (RFC 6749 §2.3.1)."""
        kind, _, credentials = headers.get("Authorization", "").partition(" ")
        if kind != "Basic":
            return None
        client, _, secret = base64.b64decode(credentials).decode().partition(":")
        return urllib.parse.unquote_plus(client), urllib.parse.unquote_plus(secret)


@pytest.fixture(name="provider")  # named apart, so other modules import it without shadowing their arguments
def provider_fixture(aws, monkeypatch):
    provider = CodeProvider()
    monkeypatch.setenv("OIDC_ISSUER", provider.issuer)
    monkeypatch.setenv("OIDC_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("OIDC_CLIENT_ID", CLIENT_ID)
    for name in ("OIDC_JWKS_URL", "OIDC_CLIENT_SECRET", "OIDC_PROVIDER_NAME"):
        monkeypatch.delenv(name, raising=False)
    oidc.reset()
    monkeypatch.setattr(oidc_signin, "_ENDPOINTS", {})  # a new container
    yield provider
    oidc.reset()
    provider.stop()


def begin() -> tuple[str, str]:
    with iam.running("api_handler"):
        return oidc_signin.begin()


def finish(flow_id, params: dict) -> str:
    with iam.running("api_handler"):
        return oidc_signin.finish(flow_id, params)


def sign_in(provider: CodeProvider, **claims) -> str:
    url, flow_id = begin()
    code, state = provider.authorize(url, **claims)
    return finish(flow_id, {"state": state, "code": code})


def refused(flow_id, params: dict, says: str) -> str:
    with pytest.raises(Unauthorized) as caught:
        finish(flow_id, params)
    assert says in caught.value.message, caught.value.message
    return caught.value.message


def query_of(url: str) -> dict:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


# --- signed in ----------------------------------------------------------------------------------------------------

def test_a_full_sign_in_returns_the_verified_normalised_email(provider):
    assert sign_in(provider, email="Admin@TEAM.example") == "admin@team.example"


def test_the_authorization_url_asks_the_discovered_endpoint_for_a_code_with_pkce_state_and_nonce(provider):
    url, _ = begin()
    assert url.startswith(provider.issuer + "/authorize?")
    query = query_of(url)
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == config.public_url("/console/sign-in/callback") == oidc_signin.redirect_uri()
    assert {"openid", "email"} <= set(query["scope"].split())
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43  # BASE64URL of 32 bytes, unpadded
    assert len(query["state"]) >= 43 and len(query["nonce"]) >= 43  # 256 random bits each


def test_each_sign_in_has_its_own_flow_state_nonce_and_challenge(provider):
    (first, first_flow), (second, second_flow) = begin(), begin()
    assert first_flow != second_flow
    for name in ("state", "nonce", "code_challenge"):
        assert query_of(first)[name] != query_of(second)[name]


def test_the_code_is_exchanged_with_the_verifier_whose_sha256_is_the_challenge(provider):
    url, flow_id = begin()
    code, state = provider.authorize(url)
    finish(flow_id, {"state": state, "code": code})
    (_, form), = provider.token_requests
    assert 43 <= len(form["code_verifier"]) <= 128
    assert s256(form["code_verifier"]) == query_of(url)["code_challenge"]
    assert form["grant_type"] == "authorization_code" and form["client_id"] == CLIENT_ID
    assert form["redirect_uri"] == oidc_signin.redirect_uri()


def test_the_flow_is_stored_under_the_hash_of_its_id_for_ten_minutes(provider):
    url, flow_id = begin()
    stored, = Marker.scan(Marker.pk.startswith("oidc#"))
    assert stored.pk == "oidc#" + hashlib.sha256(flow_id.encode()).hexdigest()
    assert flow_id not in stored.value  # reading the table gives no flow away
    assert json.loads(stored.value)["state"] == query_of(url)["state"]
    assert dt.timedelta(minutes=9) < stored.expires_at - clock.now() <= dt.timedelta(minutes=10)


def test_discovery_is_fetched_once_per_container(provider):
    for _ in range(3):
        begin()
    assert provider.discovery_fetches == 1


# --- the callback isn't this browser's sign-in --------------------------------------------------------------------

@pytest.mark.parametrize("state", ["another-state", None, ""], ids=["wrong", "missing", "empty"])
def test_a_wrong_or_missing_state_is_refused(provider, state):
    url, flow_id = begin()
    code, _ = provider.authorize(url)
    refused(flow_id, {"code": code, **({"state": state} if state is not None else {})}, "(state)")
    assert provider.token_requests == []  # refused before the code goes anywhere


def test_a_replayed_callback_is_refused(provider):
    url, flow_id = begin()
    code, state = provider.authorize(url)
    finish(flow_id, {"state": state, "code": code})
    refused(flow_id, {"state": state, "code": code}, "start signing in again")
    assert len(provider.token_requests) == 1  # the flow was used up before the code was exchanged


def test_of_two_callbacks_racing_for_one_flow_only_one_exchanges_the_code(provider, monkeypatch):
    url, flow_id = begin()
    code, state = provider.authorize(url)
    seen = Marker.get("oidc#" + hashlib.sha256(flow_id.encode()).hexdigest())  # what the slower one read
    finish(flow_id, {"state": state, "code": code})
    monkeypatch.setattr(Marker, "get", classmethod(lambda cls, *args, **kwargs: seen))
    refused(flow_id, {"state": state, "code": code}, "already used")
    assert len(provider.token_requests) == 1


@pytest.mark.parametrize("flow_id", [None, "", "never-started", "x" * 5000], ids=["none", "empty", "unknown", "long"])
def test_an_unknown_flow_is_refused(provider, flow_id):
    url, _ = begin()
    code, state = provider.authorize(url)
    refused(flow_id, {"state": state, "code": code}, "start signing in again")
    assert provider.token_requests == []


def test_a_flow_older_than_ten_minutes_is_refused(provider, monkeypatch):
    url, flow_id = begin()
    code, state = provider.authorize(url)
    later = clock.now() + dt.timedelta(minutes=10, seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)  # DynamoDB's TTL hasn't deleted it yet
    refused(flow_id, {"state": state, "code": code}, "longer than 10 minutes")
    assert provider.token_requests == []


def test_a_callback_without_a_code_is_refused(provider):
    url, flow_id = begin()
    _, state = provider.authorize(url)
    refused(flow_id, {"state": state}, "no authorization code")


# --- the provider says no -------------------------------------------------------------------------------------

def test_the_providers_error_is_refused_with_its_code_and_without_its_description(provider):
    url, flow_id = begin()
    message = refused(flow_id, {"error": "access_denied", "state": query_of(url)["state"],
                                "error_description": "<script>alert(1)</script>"}, "(access_denied)")
    assert "<" not in message and "alert" not in message
    assert provider.token_requests == []


def test_an_error_parameter_that_is_no_error_code_is_not_repeated(provider):
    url, flow_id = begin()
    message = refused(flow_id, {"error": "<img src=x onerror=alert(1)>", "state": query_of(url)["state"]},
                      "refused the sign-in")
    assert "<" not in message


def test_a_token_endpoint_error_is_refused_saying_so(provider):
    url, flow_id = begin()
    _, state = provider.authorize(url)
    message = refused(flow_id, {"state": state, "code": "a-code-it-never-issued"}, "(invalid_grant)")
    assert "<b>" not in message


def test_a_code_issued_for_another_sign_in_fails_pkce(provider):
    """A code injected into this browser's callback (stolen from another sign-in) goes with this flow's
    verifier, which doesn't match the challenge that code was issued for."""
    victim_url, _ = begin()
    stolen, _ = provider.authorize(victim_url)
    url, flow_id = begin()
    refused(flow_id, {"state": query_of(url)["state"], "code": stolen}, "(invalid_grant)")


def test_a_token_endpoint_that_fails_is_503(provider):
    provider.token_endpoint_down = True
    url, flow_id = begin()
    code, state = provider.authorize(url)
    with pytest.raises(ServiceUnavailable):
        finish(flow_id, {"state": state, "code": code})


# --- client authentication --------------------------------------------------------------------------------------

def test_a_client_secret_is_sent_as_http_basic_auth(provider, monkeypatch):
    secret = "s3cr:t/+ &=é"  # form-encoded before Base64, or the ':' would split it
    monkeypatch.setenv("OIDC_CLIENT_SECRET", secret)
    provider.client_secret = secret
    assert sign_in(provider) == "admin@team.example"
    (headers, form), = provider.token_requests
    assert provider.client_of(headers) == (CLIENT_ID, secret)
    assert secret not in json.dumps(form) and "client_secret" not in form


def test_a_wrong_client_secret_is_refused_saying_so(provider, monkeypatch):
    monkeypatch.setenv("OIDC_CLIENT_SECRET", "not-the-one")
    provider.client_secret = "the-right-one"
    url, flow_id = begin()
    code, state = provider.authorize(url)
    refused(flow_id, {"state": state, "code": code}, "(invalid_client)")


def test_without_a_client_secret_the_code_goes_with_pkce_alone(provider):
    sign_in(provider)
    (headers, _), = provider.token_requests
    assert "Authorization" not in headers


# --- the ID token ---------------------------------------------------------------------------------------------

def test_an_id_token_with_another_nonce_is_refused(provider):
    url, flow_id = begin()
    code, state = provider.authorize(url, nonce="the-nonce-of-another-sign-in")
    refused(flow_id, {"state": state, "code": code}, "(nonce)")


def test_an_id_token_without_a_nonce_is_refused(provider):
    url, flow_id = begin()
    code, state = provider.authorize(url, nonce=None)
    refused(flow_id, {"state": state, "code": code}, "(nonce)")


@pytest.mark.parametrize("audience", ["another-app", AUDIENCE], ids=["another-app", "the-apis-audience"])
def test_an_id_token_for_another_audience_is_refused(provider, audience):
    url, flow_id = begin()
    code, state = provider.authorize(url, aud=audience)
    refused(flow_id, {"state": state, "code": code}, "not for this service")


def test_an_id_token_issued_to_another_party_is_refused(provider):
    url, flow_id = begin()
    code, state = provider.authorize(url, aud=[CLIENT_ID, "another-app"], azp="another-app")
    refused(flow_id, {"state": state, "code": code}, "(azp)")


def test_an_id_token_naming_this_client_among_others_with_azp_is_accepted(provider):
    assert sign_in(provider, aud=[CLIENT_ID, "another-app"], azp=CLIENT_ID) == "admin@team.example"


def test_an_unverified_email_is_refused(provider):
    url, flow_id = begin()
    code, state = provider.authorize(url, email_verified=False)
    refused(flow_id, {"state": state, "code": code}, "not verified")


# --- the provider's discovery document ---------------------------------------------------------------------------

@pytest.mark.parametrize("changes", [{"issuer": "https://evil.example"}, {"token_endpoint": None},
                                     {"authorization_endpoint": "javascript:alert(1)"}],
                         ids=["another-issuer", "no-token-endpoint", "not-http"])
def test_a_discovery_document_that_cant_be_used_is_503(provider, changes):
    provider.discovery_changes = changes
    with pytest.raises(ServiceUnavailable):
        begin()


# --- configuration ----------------------------------------------------------------------------------------------

@pytest.fixture
def variables(monkeypatch):
    for name, value in {"OIDC_ISSUER": "https://login.team.example/realms/staff", "OIDC_AUDIENCE": AUDIENCE,
                        "OIDC_CLIENT_ID": CLIENT_ID}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("OIDC_PROVIDER_NAME", raising=False)
    return monkeypatch


@pytest.mark.parametrize("missing", ["OIDC_ISSUER", "OIDC_AUDIENCE", "OIDC_CLIENT_ID"])
def test_the_sign_in_is_configured_only_with_issuer_audience_and_client_id(variables, missing):
    assert oidc_signin.configured()
    variables.delenv(missing)
    assert not oidc_signin.configured()
    assert oidc_signin.provider_name() == ""
    with pytest.raises(NotFound):
        oidc_signin.begin()


def test_the_provider_is_named_by_oidc_provider_name_else_the_issuers_host(variables):
    assert oidc_signin.provider_name() == "login.team.example"
    variables.setenv("OIDC_PROVIDER_NAME", "Team SSO")
    assert oidc_signin.provider_name() == "Team SSO"


def test_the_redirect_uri_is_the_callback_under_the_public_url(monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://desk.example/")
    assert oidc_signin.redirect_uri() == "https://desk.example/console/sign-in/callback"


def test_make_run_hands_the_console_sign_in_variables_to_the_local_stage(variables):
    from devtools import run_local

    variables.setenv("OIDC_CLIENT_SECRET", "local-client-secret")
    variables.setenv("OIDC_PROVIDER_NAME", "Team SSO")
    env = run_local.local_environment(5555)
    assert (env["OIDC_CLIENT_ID"], env["OIDC_CLIENT_SECRET"], env["OIDC_PROVIDER_NAME"]) == (
        CLIENT_ID, "local-client-secret", "Team SSO")


# --- through the console's pages, as a browser goes --------------------------------------------------------------

@pytest.fixture
def desk(api, provider):
    """The provider and a team whose admin is admin@team.example, at the console."""
    from tests.console_support import Console

    team = api.new_team()
    return types.SimpleNamespace(api=api, team=team, provider=provider, console=Console(api))


def test_the_sign_in_page_offers_the_provider(desk):
    desk.console.get("/console")
    assert 'data-action="sign-in-oidc"' in desk.console.page


def test_signing_in_with_the_provider_lands_on_the_teams_requests(desk):
    console = desk.console
    console.get("/console")
    answer = console.get("/console/sign-in/oidc")
    assert answer.status_code == 303 and "pd_session_oidc" in answer.headers["Set-Cookie"]
    code, state = desk.provider.authorize(answer.headers["Location"])
    landing = console.settle(console.get(f"/console/sign-in/callback?code={code}&state={state}"))
    assert landing.status_code == 200 and "pd_session" in console.cookies
    assert f'/console/teams/{desk.team.id}/requests' in console.page and "Privacy requests" in console.text()


def test_a_callback_in_another_browser_signs_nobody_in(desk):
    from tests.console_support import Console

    starter, victim = desk.console, Console(desk.api)
    answer = starter.get("/console/sign-in/oidc")
    code, state = desk.provider.authorize(answer.headers["Location"])
    refused = victim.get(f"/console/sign-in/callback?code={code}&state={state}")
    assert refused.status_code == 401 and "pd_session" not in victim.cookies


def test_starting_provider_sign_ins_is_rate_limited_like_the_portal(desk):
    from chalicelib import config

    limit = config.get_int("PORTAL_LIMIT_PER_IP_HOUR")  # the stage's, which the test client sets for each call
    answers = [desk.console.get("/console/sign-in/oidc").status_code for _ in range(limit + 2)]
    assert set(answers[:limit]) == {303} and answers[-1] == 429


def test_the_provider_sign_in_is_a_link_the_pages_csp_lets_leave_for_the_provider(desk):
    """CSP form-action also governs where a form's redirect may go: the provider is reached by a link."""
    desk.console.get("/console")
    assert '<a class="button" href="/console/sign-in/oidc" data-action="sign-in-oidc">' in desk.console.page
