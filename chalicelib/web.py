"""The HTTP adapter between Chalice and the domain modules (the only chalicelib module that knows Chalice).

It turns a Chalice request into plain values (a JSON body checked for size, encoding and syntax; the caller
proven by a bearer token; a list cursor), and a DomainError into Chalice's `{"Code", "Message"}` answer.
"""
import functools
import json
import logging
import math

from botocore.exceptions import ClientError
from chalice import Response
from pynamodb.exceptions import PynamoDBException

from . import cursors, teams, tokens
from .awsfaults import THROTTLING, aws_code
from .errors import BadRequest, DomainError, Forbidden, PayloadTooLarge, TooManyRequests, Unauthorized

log = logging.getLogger(__name__)

JSON_LIMIT = 64 * 1024
DOCUMENT_LIMIT = 6 * 1024 * 1024
JSON_TYPES = ["application/json"]
FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain", "application/json"]

PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
# JSON answers carry clients' addresses, dossiers, signing secrets, or answer a link with its token in the URL:
# like the pages, no browser or proxy may keep them.
JSON_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store"}


def error_response(exc: DomainError) -> Response:
    body = {"Code": exc.code, "Message": exc.message}
    for key, value in exc.extra.items():
        if key != "retry_after":
            body[key] = value
    headers = dict(JSON_HEADERS)
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    return Response(body=body, status_code=exc.status, headers=headers)


def endpoint(view):
    """Wraps a JSON view: domain errors become 4xx answers, anything unexpected a logged, opaque 500."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except DomainError as exc:
            return error_response(exc)
        except (ClientError, PynamoDBException) as exc:
            # Still throttled after botocore's retries: nothing was written (every write is one conditional
            # call or transaction), so tell the caller to come back rather than answering an opaque 500.
            if aws_code(exc) not in THROTTLING:
                raise
            log.warning("AWS still throttling after retries: %s", aws_code(exc))
            return Response(body={"Code": "ServiceUnavailable", "Message": "the service is busy; try again"},
                            status_code=503, headers={**JSON_HEADERS, "Retry-After": "2"})

    return wrapper


def json_response(body, status: int = 200) -> Response:
    return Response(body=body, status_code=status, headers=dict(JSON_HEADERS))


def page(status: int, html: str, policy: dict | None = None) -> Response:
    """An HTML page. `policy` loosens the CSP for one page: `frame_ancestors` (the team's embed origins),
    `img_src` (the origin of the team's logo), `script` (our own scripts)."""
    headers = dict(PAGE_HEADERS)
    if policy:
        headers["Content-Security-Policy"] = _csp(**policy)
        if policy.get("frame_ancestors"):
            del headers["X-Frame-Options"]  # it can't list origins; CSP frame-ancestors says who may frame
    return Response(body=html, status_code=status, headers=headers)


def _csp(frame_ancestors=(), img_src: str | None = None, script: bool = False) -> str:
    ancestors = " ".join(frame_ancestors) or "'none'"
    parts = ["default-src 'none'", "style-src 'self'", "form-action 'self'", "base-uri 'none'",
             f"frame-ancestors {ancestors}"]
    if img_src:
        parts.append(f"img-src {img_src}")
    if script:
        parts.append("script-src 'self'")
    return "; ".join(parts)


def static(content_type: str, text: str) -> Response:
    # Shared by every page and team, and changed only by a deployment: browsers may keep it an hour.
    return Response(body=text, status_code=200, headers={"Content-Type": content_type,
                                                         "Cache-Control": "public, max-age=3600",
                                                         "X-Content-Type-Options": "nosniff"})


def download(text: str, filename: str, content_type: str) -> Response:
    """A file answered as an attachment that no browser or proxy keeps."""
    return Response(body=text, status_code=200, headers={
        "Content-Type": content_type, "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


def body(request, limit: int = JSON_LIMIT):
    """The request's JSON body: refused if too large, not UTF-8 or not JSON (Chalice's json_body would 500
    on some of these and can't tell the caller which)."""
    raw = request.raw_body or b""
    if len(raw) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    if not raw.strip():
        raise BadRequest("a JSON body is required", field="body")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body is not valid UTF-8", field="body") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}", field="body") from None
    where = _lone_surrogate(value, "body")
    if where:
        # "\ud800" is valid JSON but no text: DynamoDB's client can't encode it (a 500, or a misread write error).
        raise BadRequest(f"{where} contains an unpaired UTF-16 surrogate escape", field=where)
    return value


def optional_body(request, limit: int = JSON_LIMIT):
    """For routes whose body is optional: empty means {}."""
    raw = request.raw_body or b""
    return body(request, limit) if raw.strip() else {}


def form(request, limit: int = JSON_LIMIT) -> dict:
    """An HTML form post (application/x-www-form-urlencoded) as a dict of single values."""
    return dict(form_pairs(request, limit))


def form_pairs(request, limit: int = JSON_LIMIT) -> list[tuple[str, str]]:
    """An HTML form post as its (name, value) pairs, in order: a name repeats for checkboxes of one field."""
    import urllib.parse

    raw = request.raw_body or b""
    if len(raw) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    try:
        pairs = urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")  # %ff too
    except UnicodeDecodeError:
        raise BadRequest("the form is not valid UTF-8", field="body") from None
    return pairs


def wants_html(request) -> bool:
    accept = (request.headers or {}).get("accept", "")
    return "text/html" in accept


def redirect(location: str) -> Response:
    headers = {k: v for k, v in PAGE_HEADERS.items() if k != "Content-Type"}
    headers["Location"] = location
    return Response(body="", status_code=302, headers=headers)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed in JSON")


def _lone_surrogate(value, path: str) -> str | None:
    """The path of the first string (or key) in a parsed JSON value that isn't encodable text, if any.

    Iterative: json.loads nests almost as deep as the recursion limit allows, a recursive walk could overflow."""
    pending = [(value, path)]
    while pending:
        value, path = pending.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return path
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                inner = f"{path}.{key.encode('utf-8', 'backslashreplace').decode('utf-8')}"
                pending += [(item, inner), (key, inner)]
        elif isinstance(value, list):
            pending += [(item, f"{path}[{index}]") for index, item in reversed(list(enumerate(value)))]
    return None


def _finite_float(text: str) -> float:
    # 1e400 parses to inf, which would be stored and answered back as `Infinity` (not JSON).
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range for a JSON number")
    return value


def source_ip(request) -> str | None:
    return (request.context or {}).get("identity", {}).get("sourceIp")


def accept_language(request) -> str | None:
    """The browser's language preferences, passed to domain code as a plain string (languages.py reads it)."""
    return (request.headers or {}).get("accept-language")


def global_privacy_control(request) -> bool:
    """The browser's Global Privacy Control signal (`Sec-GPC: 1`, set by the browser, not by a page's script)."""
    return ((request.headers or {}).get("sec-gpc") or "").strip() == "1"


def user_agent(request) -> str | None:
    return (request.headers or {}).get("user-agent")


def query(request, name: str) -> str | None:
    params = request.query_params or {}
    return params.get(name)


# --- bearer tokens ------------------------------------------------------------------------------------------

def member(request, team_id: str, admin: bool = False):
    """The team member the bearer token proves; 401 without a valid token, 403 for another team or role.

    Two kinds of bearer token: the built-in ones (HS256, audience "bearer", signed with our key) name a member;
    a token of the team's OpenID Connect provider names an email address, which must be a member's here."""
    header = (request.headers or {}).get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
    found = _builtin_member(token, team_id) if _is_builtin(token) else _provider_member(token, team_id)
    if admin and found.role != "admin":
        raise Forbidden("only a team admin may do this")
    return found


def _is_builtin(token: str) -> bool:
    """Which verifier a token goes to. Only the routing reads unverified fields: the built-in path then checks
    the signature with our own key and HS256 only, the provider's path with its keys and RS256/ES256 only, so a
    header can't pick a weaker check. Without OIDC_ISSUER everything is built-in, as before."""
    from . import oidc

    if not oidc.configured():
        return True
    import jwt

    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
        audience = jwt.decode(token, options={"verify_signature": False}).get("aud")
    except jwt.PyJWTError:
        return False  # not a JWT: an opaque access token, refused by the provider's path saying an ID token is needed
    return algorithm == "HS256" and audience == tokens.BEARER


def _builtin_member(token: str, team_id: str):
    claims = tokens.read(token, tokens.BEARER)
    if claims.get("team") != team_id:
        raise Forbidden("this token belongs to another team")
    # Checked at every call, so a removed member's token stops working at once and a role change applies now.
    found = teams.get_member(team_id, claims.get("sub", ""))
    if found is None:
        raise Unauthorized("the token's member is no longer part of this team")
    if not found.generation or claims.get("gen") != found.generation:
        raise Unauthorized("the token was issued to an earlier member with this id")
    return found


def _provider_member(token: str, team_id: str):
    from . import oidc

    address = oidc.verified_email(oidc.verify(token))
    # Read at every call: removing or demoting the member takes effect at once, whatever the provider says.
    found = teams.members_with_email(team_id, address)
    if not found:
        raise Forbidden("the signed-in person is not a member of this team")
    if len(found) > 1:  # two member ids share the address: which role applies would be a guess
        raise Forbidden("several members of this team have this email address; an admin must remove one")
    return found[0]


def caller(request, team_id: str) -> dict:
    who = member(request, team_id)
    return {"member_id": who.member_id, "source_ip": source_ip(request), "user_agent": user_agent(request)}


# --- list cursors -------------------------------------------------------------------------------------------

def cursor_in(request) -> dict | None:
    return decode_cursor(query(request, "next"))


def decode_cursor(token: str | None, field: str = "next") -> dict | None:
    """A `next` cursor from a query string or a body (`field` names it in the 400)."""
    return cursors.decode(token, field)


def page_out(result: dict) -> dict:
    return {"items": result["items"], "next": cursors.encode(result.get("next_key"))}
