"""Routes of a team's account: members, privacy settings, dossiers, privacy requests (bearer token)."""
from chalice import Blueprint

from .. import actors, dossiers, execution, privacy_requests, recipients, settings, systems, teams, text
from ..web import (DOCUMENT_LIMIT, body, caller, cursor_in, decode_cursor, download, endpoint, json_response,
                   member, optional_body, page_out, query)

bp = Blueprint(__name__)


@bp.route("/teams/{team_id}/members/{member_id}", methods=["PUT"])
@endpoint
def put_member(team_id, member_id):
    request = bp.current_request
    member(request, team_id, admin=True)
    text.check_label(member_id, "member_id")  # shown as who acted (executed_by, history)
    saved, created = teams.upsert_member(team_id, member_id, body(request))
    return json_response(saved, 201 if created else 200)


@bp.route("/teams/{team_id}/members/{member_id}", methods=["DELETE"])
@endpoint
def delete_member(team_id, member_id):
    member(bp.current_request, team_id, admin=True)
    teams.remove_member(team_id, member_id)
    return json_response({"member_id": member_id, "deleted": True})


@bp.route("/teams/{team_id}/privacy/settings", methods=["GET"])
@endpoint
def get_settings(team_id):
    member(bp.current_request, team_id)
    return json_response(settings.get_settings(team_id))


@bp.route("/teams/{team_id}/privacy/settings", methods=["PATCH"])
@endpoint
def patch_settings(team_id):
    request = bp.current_request
    member(request, team_id, admin=True)
    return json_response(settings.update_settings(team_id, body(request)))


@bp.route("/teams/{team_id}/privacy/consent/versions", methods=["GET"])
@endpoint
def consent_versions(team_id):
    member(bp.current_request, team_id)
    return json_response(page_out(settings.consent_versions(team_id)))


@bp.route("/teams/{team_id}/dossiers", methods=["POST"])
@endpoint
def create_dossier(team_id):
    request = bp.current_request
    who = caller(request, team_id)
    return json_response(dossiers.create_dossier(team_id, body(request), who), 201)


@bp.route("/teams/{team_id}/dossiers", methods=["GET"])
@endpoint
def list_dossiers(team_id):
    request = bp.current_request
    member(request, team_id)
    return json_response(page_out(dossiers.list_dossiers(team_id, query(request, "client_email"),
                                                         cursor_in(request))))


@bp.route("/teams/{team_id}/dossiers/search", methods=["POST"])
@endpoint
def search_dossiers(team_id):
    request = bp.current_request
    member(request, team_id)
    return json_response(page_out(dossiers.search_dossiers(team_id, body(request), decode_cursor)))


@bp.route("/teams/{team_id}/dossiers/{dossier_id}", methods=["GET"])
@endpoint
def get_dossier(team_id, dossier_id):
    member(bp.current_request, team_id)
    return json_response(dossiers.get_dossier(team_id, dossier_id))


@bp.route("/teams/{team_id}/dossiers/{dossier_id}", methods=["PATCH"])
@endpoint
def patch_dossier(team_id, dossier_id):
    request = bp.current_request
    member(request, team_id)
    return json_response(dossiers.update_dossier(team_id, dossier_id, body(request)))


@bp.route("/teams/{team_id}/dossiers/{dossier_id}/documents", methods=["POST"])
@endpoint
def add_document(team_id, dossier_id):
    request = bp.current_request
    member(request, team_id)
    return json_response(dossiers.add_document(team_id, dossier_id, body(request, DOCUMENT_LIMIT)), 201)


@bp.route("/teams/{team_id}/privacy/requests", methods=["GET"])
@endpoint
def list_requests(team_id):
    request = bp.current_request
    member(request, team_id)
    return json_response(page_out(privacy_requests.list_requests(
        team_id, query(request, "status"), cursor_in(request), overdue=query(request, "overdue") == "true",
        due_before=query(request, "due_before"), sort=query(request, "sort"))))


@bp.route("/teams/{team_id}/privacy/requests/{request_id}", methods=["GET"])
@endpoint
def get_request(team_id, request_id):
    member(bp.current_request, team_id)
    return json_response(privacy_requests.get_request(team_id, request_id))


@bp.route("/teams/{team_id}/privacy/requests/{request_id}/record", methods=["GET"])
@endpoint
def get_request_record(team_id, request_id):
    member(bp.current_request, team_id)
    return json_response(privacy_requests.get_record(team_id, request_id))


@bp.route("/teams/{team_id}/privacy/requests/{request_id}/execute", methods=["POST"])
@endpoint
def execute_request(team_id, request_id):
    request = bp.current_request
    who = member(request, team_id)
    return json_response(execution.execute(team_id, request_id, who, body(request)), 202)


@bp.route("/teams/{team_id}/privacy/requests/{request_id}/extend", methods=["POST"])
@endpoint
def extend_request(team_id, request_id):
    request = bp.current_request
    who = member(request, team_id)
    execution.require_executor(team_id, who)
    return json_response(privacy_requests.extend(team_id, request_id, body(request), by=actors.member(who.member_id)))


@bp.route("/teams/{team_id}/privacy/requests/{request_id}/clarify", methods=["POST"])
@endpoint
def clarify_request(team_id, request_id):
    request = bp.current_request
    who = member(request, team_id)
    execution.require_executor(team_id, who)
    return json_response(privacy_requests.ask_clarification(team_id, request_id, body(request),
                                                            by=actors.member(who.member_id)))


@bp.route("/teams/{team_id}/privacy/requests/{request_id}/deny", methods=["POST"])
@endpoint
def deny_request(team_id, request_id):
    request = bp.current_request
    who = member(request, team_id)
    execution.require_executor(team_id, who)
    return json_response(privacy_requests.deny(team_id, request_id, body(request), by=actors.member(who.member_id)))


@bp.route("/teams/{team_id}/privacy/requests/{request_id}/lift-restriction", methods=["POST"])
@endpoint
def lift_restriction(team_id, request_id):
    request = bp.current_request
    who = member(request, team_id)
    return json_response(execution.lift_restriction(team_id, request_id, who, optional_body(request)))


@bp.route("/teams/{team_id}/privacy/requests/{request_id}/recipients/{system_id}/skip", methods=["POST"])
@endpoint
def skip_recipient(team_id, request_id, system_id):
    request = bp.current_request
    return json_response(recipients.skip(team_id, request_id, system_id, member(request, team_id), body(request)))


@bp.route("/teams/{team_id}/privacy/requests/{request_id}/recipients/{system_id}/retry", methods=["POST"])
@endpoint
def retry_recipient(team_id, request_id, system_id):
    request = bp.current_request
    return json_response(recipients.retry(team_id, request_id, system_id, member(request, team_id)))


@bp.route("/teams/{team_id}/privacy/systems", methods=["GET"])
@endpoint
def list_systems(team_id):
    member(bp.current_request, team_id)
    return json_response(page_out(systems.list_systems(team_id)))


@bp.route("/teams/{team_id}/privacy/systems/{system_id}", methods=["GET"])
@endpoint
def get_system(team_id, system_id):
    member(bp.current_request, team_id)
    return json_response(systems.get_view(team_id, system_id))


@bp.route("/teams/{team_id}/privacy/systems/{system_id}", methods=["PUT"])
@endpoint
def put_system(team_id, system_id):
    request = bp.current_request
    member(request, team_id, admin=True)
    saved, created = systems.put(team_id, system_id, body(request))
    return json_response(saved, 201 if created else 200)


@bp.route("/teams/{team_id}/privacy/systems/{system_id}", methods=["DELETE"])
@endpoint
def delete_system(team_id, system_id):
    who = member(bp.current_request, team_id, admin=True)
    return json_response(recipients.remove_system(team_id, system_id, actors.member(who.member_id)))


@bp.route("/teams/{team_id}/privacy/report", methods=["GET"])
@endpoint
def privacy_report(team_id):
    from .. import report  # imported on first use: only this route needs it

    request = bp.current_request
    member(request, team_id)
    return _file_or_json(report.yearly(team_id, query(request, "year"), query(request, "format")))


def _file_or_json(answer):
    """A report.Download as an attachment (it counts a team's requests: never kept); else JSON."""
    from .. import report

    if not isinstance(answer, report.Download):
        return json_response(answer)
    return download(answer.text, answer.filename, answer.content_type)
