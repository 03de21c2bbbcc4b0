"""The yearly report of a team's privacy requests, per request type and law (CCPA regs §7102(a); any officer
accounting for a year under Art. 5(2) GDPR needs the same figures).

A year is the requests *received* in that calendar year (UTC). Request ids are time-ordered (ids.py), so one
Query on the team with request_id BETWEEN the year's first and last possible id reads exactly that year, and
nothing of another year or team. Per request type and law:

- `received`: the requests the client confirmed, or that need no confirmation (an opt-out of sale/sharing);
  those never confirmed are `unverified` (still awaiting, or expired), those the client withdrew `cancelled`,
  and neither is counted as received. Abandoned unverified requests are deleted by DynamoDB's TTL, so
  `unverified` counts those still held: it is a floor;
- `completed`: complied with in whole or in part; `denied`, with `denied_by_basis` (schemas.DENIAL_BASES, a
  denial recorded without one counts as `other`);
- `on_time`: answered (completed or denied) by the due date, as extended;
- `median_days` and `mean_days`: from receipt to the answer (completed_at - received_at), in days to one
  decimal; null when nothing was answered.

Requests still open count as received and nothing else. `totals` adds the rows up (its median and mean are
over every answered request, not of the rows').
"""
import datetime as dt
import re
import statistics
from typing import NamedTuple

from . import clock, ids, regimes, schemas
from . import privacy_requests as pr
from .errors import BadRequest
from .models import PrivacyRequest
from .spreadsheet import csv_text
from .teams import require_team

FIRST_YEAR = 2000
JSON, CSV = "json", "csv"
FORMATS = (JSON, CSV)
PAGE_SIZE = 500  # items per Query page (DynamoDB also ends a page at 1 MB)
TYPES = [*schemas.REQUEST_TYPES, pr.CONSENT_WITHDRAWAL]  # the order rows come in, then any other type
COUNTERS = ("received", "completed", "denied", "cancelled", "unverified", "on_time")
# What the report reads of each request (DynamoDB still reads whole items; this keeps the answer small).
READ = ["team_id", "request_id", "type", "regime", "status", "received_at", "due_at", "completed_at",
        "denial_basis", "expires_at"]
TOTAL = "total"  # the CSV's last row: type "total", regime "all"
DAY = dt.timedelta(days=1)


def check_year(text: str | None) -> int:
    """A year given as four digits, from 2000 to next year (a team ahead of UTC may already be in it)."""
    latest = clock.now().year + 1
    if text is None or not re.fullmatch(r"[0-9]{4}", text) or not FIRST_YEAR <= int(text) <= latest:
        raise BadRequest(f"year must be a year from {FIRST_YEAR} to {latest}, written with four digits (?year=2025)",
                         field="year")
    return int(text)


def check_format(text: str | None) -> str:
    if text is None:
        return JSON
    if text not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}", field="format")
    return text


def year_ids(year: int) -> tuple[str, str]:
    """The first and last request id a request received in `year` (UTC) can have."""
    start = dt.datetime(year, 1, 1, tzinfo=clock.UTC)
    last_millisecond = dt.datetime(year + 1, 1, 1, tzinfo=clock.UTC) - dt.timedelta(milliseconds=1)
    return ids.bound_for(start, "r_"), ids.bound_for(last_millisecond, "r_", last=True)


def requests_of_year(team_id: str, year: int):
    """The team's requests received in `year`, oldest first, a page of PAGE_SIZE at a time."""
    first, last = year_ids(year)
    return PrivacyRequest.query(team_id, PrivacyRequest.request_id.between(first, last), page_size=PAGE_SIZE,
                                attributes_to_get=READ)


class Download(NamedTuple):
    """A file to answer as an attachment."""
    text: str
    filename: str
    content_type: str = "text/csv; charset=utf-8"


def yearly(team_id: str, year: str | None, answer_format: str | None = None) -> dict | Download:
    """The API's report (?year=, ?format=): the JSON object, or with format=csv the CSV file (see csv_of)."""
    require_team(team_id)
    number, wanted = check_year(year), check_format(answer_format)
    report = build(team_id, number)
    return csv_download(report) if wanted == CSV else report


def build(team_id: str, year: int) -> dict:
    tallies: dict[tuple[str, str], _Tally] = {}
    for item in requests_of_year(team_id, year):
        key = (item.type, item.regime or regimes.DEFAULT)
        tallies.setdefault(key, _Tally()).add(item)
    total = _Tally()
    for tally in tallies.values():
        total.merge(tally)
    rows = [{"type": kind, "regime": regime, **tallies[(kind, regime)].view()}
            for kind, regime in sorted(tallies, key=_order)]
    return {"team_id": team_id, "year": year, "rows": rows, "totals": total.view()}


def _order(key: tuple[str, str]) -> tuple:
    kind, regime = key
    return (TYPES.index(kind) if kind in TYPES else len(TYPES), kind,
            regimes.CODES.index(regime) if regime in regimes.CODES else len(regimes.CODES), regime)


class _Tally:
    def __init__(self):
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.by_basis = dict.fromkeys(schemas.DENIAL_BASES, 0)
        self.days: list[float] = []

    def add(self, item: PrivacyRequest) -> None:
        status = pr.effective_status(item)
        if status in (pr.AWAITING, pr.EXPIRED):
            self.counts["unverified"] += 1
            return
        if status == pr.CANCELLED:
            self.counts["cancelled"] += 1
            return
        self.counts["received"] += 1
        if status == pr.COMPLETED:
            self.counts["completed"] += 1
        elif status == pr.DENIED:
            self.counts["denied"] += 1
            basis = item.denial_basis if item.denial_basis in self.by_basis else "other"
            self.by_basis[basis] += 1
        else:
            return  # still open: received, not yet answered
        if item.completed_at:
            answered = clock.parse(item.completed_at)
            self.days.append((answered - clock.parse(item.received_at)) / DAY)
            self.counts["on_time"] += int(answered <= clock.parse(item.due_at))

    def merge(self, other: "_Tally") -> None:
        for name, count in other.counts.items():
            self.counts[name] += count
        for basis, count in other.by_basis.items():
            self.by_basis[basis] += count
        self.days += other.days

    def view(self) -> dict:
        days = self.days
        return {"received": self.counts["received"], "completed": self.counts["completed"],
                "denied": self.counts["denied"], "denied_by_basis": dict(self.by_basis),
                "cancelled": self.counts["cancelled"], "unverified": self.counts["unverified"],
                "on_time": self.counts["on_time"],
                "median_days": round(statistics.median(days), 1) if days else None,
                "mean_days": round(statistics.fmean(days), 1) if days else None}


# --- CSV ----------------------------------------------------------------------------------------------------------

CSV_HEADER = ("year", "type", "regime", "received", "completed", "denied",
              *(f"denied_{basis}" for basis in schemas.DENIAL_BASES),
              "cancelled", "unverified", "on_time", "median_days", "mean_days")


def csv_of(report: dict) -> str:
    """One row per request type and law, then the totals (type "total", regime "all"); cells formula-safe."""
    rows = [_csv_row(report["year"], row["type"], row["regime"], row) for row in report["rows"]]
    rows.append(_csv_row(report["year"], TOTAL, "all", report["totals"]))
    return csv_text(CSV_HEADER, rows)


def _csv_row(year: int, kind: str, regime: str, counts: dict) -> list:
    return [year, kind, regime, counts["received"], counts["completed"], counts["denied"],
            *(counts["denied_by_basis"][basis] for basis in schemas.DENIAL_BASES),
            counts["cancelled"], counts["unverified"], counts["on_time"], counts["median_days"], counts["mean_days"]]


def csv_download(report: dict) -> Download:
    return Download(csv_of(report), f"privacy-report-{report['year']}.csv")
