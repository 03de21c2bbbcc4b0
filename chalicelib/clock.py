"""Time and the GDPR clock (Art. 12(3): answer within one month, extendable by two more)."""
import calendar
import datetime as dt

UTC = dt.timezone.utc


def now() -> dt.datetime:
    return dt.datetime.now(UTC)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """Same day `months` later; where that day doesn't exist, the month's last day (31 Jan + 1 → 28/29 Feb)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def due_date(received: dt.datetime, extension_months: int = 0) -> dt.datetime:
    """Counted from the day received, like the Regulation; an extension counts from the original date."""
    return add_months(received, 1 + extension_months)
