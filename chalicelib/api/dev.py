"""Routes that exist only in the `local` stage (app.py registers this blueprint nowhere else)."""
from chalice import Blueprint

from .. import outbox, reminders
from ..web import endpoint, json_response

bp = Blueprint(__name__)


@bp.route("/_dev/outbox", methods=["GET"])
@endpoint
def dev_outbox():
    return json_response({"messages": outbox.messages()})


@bp.route("/_dev/reminders", methods=["POST"], content_types=["application/json", "text/plain",
                                                                "application/x-www-form-urlencoded"])
@endpoint
def dev_reminders():
    """Runs the daily reminder now (in deployed stages it runs on its schedule)."""
    return json_response(reminders.run())
