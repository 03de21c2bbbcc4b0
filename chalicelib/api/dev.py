"""Routes that exist only in the `local` stage (app.py registers this blueprint nowhere else)."""
from chalice import Blueprint

from .. import outbox
from ..web import endpoint, json_response

bp = Blueprint(__name__)


@bp.route("/_dev/outbox", methods=["GET"])
@endpoint
def dev_outbox():
    return json_response({"messages": outbox.messages()})
