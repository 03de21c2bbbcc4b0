"""Public routes: the client portal (CORS on), the email links (HTML pages)."""
from chalice import Blueprint

from .. import actions, portal, privacy_requests
from ..web import FORM_TYPES, body, endpoint, json_response, page, source_ip

bp = Blueprint(__name__)


@bp.route("/portal/{team_id}/privacy", methods=["GET"], cors=True)
@endpoint
def portal_privacy(team_id):
    return json_response(portal.privacy_info(team_id))


@bp.route("/portal/{team_id}/privacy/requests", methods=["POST"], cors=True)
@endpoint
def submit_request(team_id):
    request = bp.current_request
    return json_response(privacy_requests.submit(team_id, body(request), source_ip(request)), 202)


@bp.route("/portal/{team_id}/privacy/requests/{request_id}/resend", methods=["POST"], cors=True,
          content_types=FORM_TYPES)
@endpoint
def resend_verification(team_id, request_id):
    return json_response(privacy_requests.resend_verification(team_id, request_id), 202)


@bp.route("/portal/privacy/verify/{token}", methods=["GET"])
def verify_link(token):
    return page(*portal.verify_page(token))


@bp.route("/actions/{token}", methods=["GET"])
def action_page(token):
    return page(*actions.show(token))


@bp.route("/actions/{token}", methods=["POST"], content_types=FORM_TYPES)
def action_confirm(token):
    return page(*actions.confirm(token))
