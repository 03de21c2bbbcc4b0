"""Routes that exist only in the `local` stage (app.py registers this blueprint nowhere else)."""
import os

from chalice import Blueprint

from .. import housekeeping, outbox, reminders
from ..web import endpoint, json_response

bp = Blueprint(__name__)

if os.environ.get("LOCAL_IAM_KEYS"):
    # `make run`: this process is the API handler, signing with its role's keys; the /_dev chores below run
    # as their own functions (devtools/iam.py). The repository root is on the path of `chalice local`.
    from devtools import iam

    iam.use_from_environment(os.environ["REQUESTS_STREAM_ARN"])
    iam.wrap_entry_points()


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


@bp.route("/_dev/housekeeping", methods=["POST"], content_types=["application/json", "text/plain",
                                                                   "application/x-www-form-urlencoded"])
@endpoint
def dev_housekeeping():
    """Runs the housekeeping now (the erasure's follow-up sweep, pseudonymisation); deployed, every 5 minutes."""
    return json_response(housekeeping.run())
