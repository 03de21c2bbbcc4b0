"""Fixed-window counters for the public portal (per team+email and per source IP), one UpdateItem each.

The counter lives in the markers table with a TTL; ADD is atomic, so concurrent submissions can't slip past."""
import datetime as dt

from . import clock, config, ids
from .errors import TooManyRequests
from .models import Marker

WINDOW_SECONDS = 3600


def hit(scope: str, subject: str, limit: int) -> None:
    now = clock.now()
    window = int(now.timestamp()) // WINDOW_SECONDS
    pk = f"rate#{scope}#{window}#{ids.keyed_hash(subject, config.token_secret())}"
    counter = Marker(pk)
    counter.update(actions=[Marker.count.add(1),
                            Marker.expires_at.set(dt.timedelta(seconds=2 * WINDOW_SECONDS))])
    if int(counter.count) > limit:
        retry_after = (window + 1) * WINDOW_SECONDS - int(now.timestamp())
        raise TooManyRequests(f"too many privacy submissions from this {scope}; try again later",
                              retry_after=max(retry_after, 1))


def check_portal_submission(team_id: str, email: str, source_ip: str | None) -> None:
    hit("email", f"{team_id}#{email}", config.get_int("PORTAL_LIMIT_PER_EMAIL_HOUR"))
    if source_ip:
        hit("ip", source_ip, config.get_int("PORTAL_LIMIT_PER_IP_HOUR"))
