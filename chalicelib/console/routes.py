"""The console's routes (Chalice): each turns the request into a Visit, calls one page function, and turns
its Answer into a response with the console's headers."""
from chalice import Blueprint, Response

from ..errors import DomainError
from ..web import FORM_TYPES, PAGE_HEADERS, accept_language, form_pairs, source_ip
from . import queue, report, request, signin, team
from .visit import Answer, Visit, parse_cookies

bp = Blueprint(__name__)
CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


def _visit() -> Visit:
    request_ = bp.current_request
    headers = request_.headers or {}
    pairs = []
    if request_.method == "POST":
        try:
            pairs = form_pairs(request_)
        except DomainError:
            pairs = []  # an oversized or non-UTF-8 form: no CSRF token in it, so it is refused as a form
    return Visit(method=request_.method, cookies=parse_cookies(headers.get("cookie")), origin=headers.get("origin"),
                 referer=headers.get("referer"), accept_language=accept_language(request_),
                 source_ip=source_ip(request_), form=dict(pairs), lists=_lists(pairs), query=dict(request_.query_params or {}))


def _lists(pairs: list) -> dict:
    lists: dict = {}
    for name, value in pairs:
        lists.setdefault(name, []).append(value)
    return lists


def _respond(answer: Answer) -> Response:
    headers = dict(PAGE_HEADERS)
    headers.update({"Content-Type": answer.content_type, "Content-Security-Policy": CSP,
                    # same-origin: our own form posts carry our Origin (no-referrer would make it "null")
                    "Referrer-Policy": "same-origin"})
    if answer.location:
        headers["Location"] = answer.location
    if answer.filename:
        headers["Content-Disposition"] = f'attachment; filename="{answer.filename}"'
    if answer.cookies:
        headers["Set-Cookie"] = answer.cookies[0] if len(answer.cookies) == 1 else answer.cookies
    return Response(body=answer.body, status_code=answer.status, headers=headers)


def _route(path: str, methods=("GET",)):
    kwargs = {"content_types": FORM_TYPES} if "POST" in methods else {}
    return bp.route(path, methods=list(methods), **kwargs)


@_route("/console")
def home():
    return _respond(signin.home(_visit()))


@_route("/console/sign-in", ["POST"])
def ask_link():
    return _respond(signin.ask_link(_visit()))


@_route("/console/sign-in/oidc")
def oidc_start():
    return _respond(signin.oidc_start(_visit()))


@_route("/console/sign-in/callback")
def oidc_callback():
    return _respond(signin.oidc_callback(_visit()))


@_route("/console/sign-in/{token}", ["GET", "POST"])
def sign_in_link(token):
    visit = _visit()
    return _respond(signin.use_link(visit, token) if visit.method == "POST" else signin.link_page(visit, token))


@_route("/console/sign-out", ["POST"])
def sign_out():
    return _respond(signin.sign_out(_visit()))


@_route("/console/teams/{team_id}/requests")
def requests_queue(team_id):
    return _respond(queue.show(_visit(), team_id))


@_route("/console/teams/{team_id}/requests/search", ["POST"])
def requests_search(team_id):
    return _respond(queue.show(_visit(), team_id))


@_route("/console/teams/{team_id}/requests/{request_id}")
def request_page(team_id, request_id):
    return _respond(request.show(_visit(), team_id, request_id))


@_route("/console/teams/{team_id}/requests/{request_id}/row")
def request_row(team_id, request_id):
    return _respond(queue.row_fragment(_visit(), team_id, request_id))


@_route("/console/teams/{team_id}/requests/{request_id}/execute", ["GET", "POST"])
def execute(team_id, request_id):
    visit = _visit()
    if visit.method == "POST":
        return _respond(queue.execute(visit, team_id, request_id))
    return _respond(queue.confirm_page(visit, team_id, request_id))


@_route("/console/teams/{team_id}/requests/{request_id}/{action}", ["POST"])
def request_action(team_id, request_id, action):
    return _respond(request.act(_visit(), team_id, request_id, action))


@_route("/console/teams/{team_id}/requests/{request_id}/systems/{system_id}/{action}", ["POST"])
def task_action(team_id, request_id, system_id, action):
    return _respond(request.task(_visit(), team_id, request_id, system_id, action))


@_route("/console/teams/{team_id}/settings", ["GET", "POST"])
def settings_page(team_id):
    return _respond(team.settings(_visit(), team_id))


@_route("/console/teams/{team_id}/members", ["GET", "POST"])
def members_page(team_id):
    return _respond(team.members(_visit(), team_id))


@_route("/console/teams/{team_id}/systems", ["GET", "POST"])
def systems_page(team_id):
    return _respond(team.systems(_visit(), team_id))


@_route("/console/teams/{team_id}/log.csv")
def request_log(team_id):
    return _respond(team.log_csv(_visit(), team_id))


@_route("/console/teams/{team_id}/report")
def report_page(team_id):
    return _respond(report.show(_visit(), team_id))


@_route("/console/teams/{team_id}/report.csv")
def report_csv(team_id):
    return _respond(report.download(_visit(), team_id))
