"""Rolling-window limits for the public portal, one UpdateItem each.

What the portal must protect is a client's inbox and the service, not a count of submissions: an attacker who
knows someone's address must not be able to lock that person out of their rights. So nothing here is keyed
by the client's exact address. There are two limits:
- per source network (an IPv4 address, an IPv6 /64, which one host controls whole): submissions *and*
  re-sends, so a single host can't turn the portal into a mail cannon;
- per inbox for plus-tagged addresses (`a+1@x`, `a+2@x`, ... all reach `a@x`, and there are infinitely many):
  they share one daily budget of verification emails. An untagged address is bounded by its requests' own
  re-send caps (privacy_requests.py) and never by what an attacker did with tags.

A window is a sliding-window counter: the current fixed window's count plus the previous one's, weighted by
how much of it still overlaps the last `window` seconds. Both counts live in one item (attributes `w<n>`), so
one atomic ADD returns everything needed; the item expires with DynamoDB's TTL."""
import ipaddress
import time

from . import aws, config, emails, ids
from .errors import TooManyRequests
from .models import Marker

HOUR, DAY = 3600, 86400


def hit(scope: str, subject: str, window: int, now: float | None = None) -> tuple[float, int]:
    """Count one hit; returns (estimated hits over the last `window` seconds, seconds until one hit frees)."""
    now = time.time() if now is None else now
    current = int(now) // window
    elapsed = (now - current * window) / window
    pk = f"rate#{scope}#{ids.keyed_hash(subject, config.pseudonym_key())}"
    answer = aws.client("dynamodb").update_item(
        TableName=Marker.Meta.table_name, Key={"pk": {"S": pk}},
        UpdateExpression="ADD #cur :one SET expires_at = :expires REMOVE #old",
        ExpressionAttributeNames={"#cur": f"w{current}", "#old": f"w{current - 2}"},
        ExpressionAttributeValues={":one": {"N": "1"}, ":expires": {"N": str(int(now) + 2 * window)}},
        ReturnValues="ALL_NEW")["Attributes"]
    count = int(answer[f"w{current}"]["N"])
    previous = int(answer.get(f"w{current - 1}", {"N": "0"})["N"])
    estimate = previous * (1 - elapsed) + count
    return estimate, max(1, int((1 - elapsed) * window))


def source_network(source_ip: str) -> str:
    """The unit one host controls: an IPv4 address, or the /64 of an IPv6 address (a v4-mapped one is v4)."""
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return source_ip
    if address.version == 6 and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def check_source(source_ip: str | None) -> None:
    """429 once this network sent more than PORTAL_LIMIT_PER_IP_HOUR submissions and re-sends in an hour."""
    if not source_ip:
        return
    estimate, retry_after = hit("ip", source_network(source_ip), HOUR)
    if estimate > config.get_int("PORTAL_LIMIT_PER_IP_HOUR"):
        raise TooManyRequests("too many privacy submissions from this network; try again later",
                              retry_after=retry_after)


def tagged_inbox_allows(team_id: str, address: str) -> bool:
    """False once plus-tagged variants of this inbox got PORTAL_TAGGED_INBOX_PER_DAY emails in a day."""
    if emails.inbox(address) == address:
        return True
    estimate, _ = hit("inbox", f"{team_id}#{emails.inbox(address)}", DAY)
    return estimate <= config.get_int("PORTAL_TAGGED_INBOX_PER_DAY")
