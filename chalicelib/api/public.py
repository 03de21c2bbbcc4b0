"""Public routes: the client portal (CORS on) and the pages behind email links (HTML)."""
from chalice import Blueprint

from .. import actions, assets, execution, portal, privacy_requests, recipient_pages, recipients
from ..errors import DomainError
from ..web import (FORM_TYPES, accept_language, body, endpoint, form, global_privacy_control, json_response, page,
                   query, redirect, source_ip, static, wants_html)

bp = Blueprint(__name__)


@bp.route("/portal/{team_id}/privacy", methods=["GET"], cors=True)
@endpoint
def portal_privacy(team_id):
    request = bp.current_request
    if wants_html(request):
        return _page_or_error(lambda: portal.privacy_page(team_id, accept_language(request)))
    return json_response(portal.privacy_info(team_id))


@bp.route("/portal/{team_id}/privacy/form", methods=["POST"], content_types=["application/x-www-form-urlencoded"])
def submit_form(team_id):
    """The hosted page's forms (no JavaScript needed): a receipt page, or the page again saying what to fix."""
    request = bp.current_request
    return _page_or_error(lambda: portal.submit_form(team_id, form(request), source_ip(request),
                                                     accept_language(request), global_privacy_control(request)))


def _page_or_error(render):
    try:
        return page(*render())
    except DomainError as exc:  # an unknown team, an oversized or non-UTF-8 form: a page, not JSON
        return page(exc.status, portal.error_page(exc, None, accept_language=accept_language(bp.current_request)))


@bp.route("/portal/missing", methods=["GET"])
def missing_page():
    return page(404, portal.missing_page(accept_language(bp.current_request)))


@bp.route("/portal/assets/{name}", methods=["GET"])
@endpoint
def asset(name):
    return static(*assets.read(name, query(bp.current_request, "c")))


@bp.route("/portal/{team_id}/privacy/requests", methods=["POST"], cors=True)
@endpoint
def submit_request(team_id):
    request = bp.current_request
    return json_response(privacy_requests.submit(team_id, body(request), source_ip(request), accept_language(request),
                                                 global_privacy_control(request), execution.enqueue), 202)


@bp.route("/portal/{team_id}/privacy/consent/withdraw", methods=["POST"], cors=True)
@endpoint
def withdraw_consent(team_id):
    request = bp.current_request
    return json_response(privacy_requests.submit_consent_withdrawal(team_id, body(request), source_ip(request),
                                                                    accept_language(request)), 202)


@bp.route("/portal/{team_id}/privacy/requests/{request_id}/resend", methods=["POST"], cors=True,
          content_types=FORM_TYPES)
@endpoint
def resend_verification(team_id, request_id):
    request = bp.current_request
    return json_response(privacy_requests.resend_verification(team_id, request_id, source_ip(request)), 202)


@bp.route("/portal/privacy/verify/{token}", methods=["GET"])
def verify_link(token):
    return page(*portal.verify_page(token, accept_language(bp.current_request)))


@bp.route("/portal/privacy/requests/{request_id}", methods=["GET"], cors=True)
@endpoint
def request_status(request_id):
    request = bp.current_request
    if wants_html(request):
        return page(*portal.status_page(query(request, "token"), request_id, accept_language(request)))
    return json_response(portal.status(query(request, "token"), request_id))


@bp.route("/portal/privacy/requests/{request_id}/cancel", methods=["GET"])
def cancel_confirmation(request_id):
    request = bp.current_request
    return page(*portal.cancel_confirm_page(query(request, "token"), request_id, accept_language(request)))


@bp.route("/portal/privacy/requests/{request_id}/cancel", methods=["POST"], cors=True, content_types=FORM_TYPES)
@endpoint
def cancel_request(request_id):
    request = bp.current_request
    if wants_html(request) or "form" in (request.headers or {}).get("content-type", ""):
        return page(*portal.cancel_page(query(request, "token"), request_id, accept_language(request)))
    return json_response(portal.cancel(query(request, "token"), request_id))


@bp.route("/portal/privacy/requests/{request_id}/appeal", methods=["POST"], cors=True, content_types=FORM_TYPES)
@endpoint
def appeal_request(request_id):
    """A denied client's appeal (US state laws), from the status page's form or the portal's frontend."""
    return _client_answer(request_id, "appeal")


@bp.route("/portal/privacy/requests/{request_id}/clarification", methods=["POST"], cors=True,
          content_types=FORM_TYPES)
@endpoint
def send_clarification(request_id):
    """The client's clarification the team asked for (UK GDPR Art. 12A), from the status page or the frontend."""
    return _client_answer(request_id, "clarification")


def _client_answer(request_id, action):
    request = bp.current_request
    if "form" in (request.headers or {}).get("content-type", ""):
        return page(*portal.client_answer_page(action, query(request, "token"), request_id, form(request),
                                               accept_language(request)))
    return json_response(portal.client_answer(action, query(request, "token"), request_id, body(request)))


@bp.route("/portal/privacy/exports/{token}", methods=["GET"])
def export_download(token):
    request = bp.current_request
    if query(request, "download") is None:
        return page(*portal.export_page(token, accept_language(request)))
    status, location_or_page = portal.export_link(token, accept_language(request))
    return redirect(location_or_page) if status == 302 else page(status, location_or_page)


@bp.route("/actions/{token}", methods=["GET"])
def action_page(token):
    return page(*actions.show(token, accept_language(bp.current_request)))


@bp.route("/actions/{token}", methods=["POST"], content_types=FORM_TYPES)
def action_confirm(token):
    request = bp.current_request
    try:
        note = form(request).get("note")
    except DomainError as exc:  # a non-UTF-8 or oversized form: a 4xx page, not a 500
        return page(exc.status, actions.refused(token, exc, accept_language(request)))
    return page(*actions.confirm(token, note, accept_language(request)))


@bp.route("/privacy/callbacks/{token}", methods=["POST"])
@endpoint
def recipient_callback(token):
    return json_response(recipients.callback(token, body(bp.current_request)))


@bp.route("/privacy/tasks/{token}", methods=["GET"])
def task_page(token):
    return page(*recipient_pages.show(token, accept_language(bp.current_request)))


@bp.route("/privacy/tasks/{token}", methods=["POST"], content_types=FORM_TYPES)
def task_answer(token):
    request = bp.current_request
    try:
        fields = form(request)
    except DomainError as exc:  # a non-UTF-8 or oversized form: a 4xx page, not a 500
        return page(exc.status, recipient_pages.refused(token, exc, accept_language(request)))
    return page(*recipient_pages.answer(token, fields.get("action"), fields.get("reason"),
                                        accept_language(request)))
