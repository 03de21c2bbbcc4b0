"""The yearly report page (chalicelib/report.py): the table for a year, a year picker, and its CSV download.

Every member sees it, as every member may list the requests (the API's GET .../privacy/report)."""

from .. import clock, regimes, schemas
from .. import report as yearly
from ..errors import DomainError
from . import visit as v


@v.team_page()
def show(ctx: v.Context, visit: v.Visit) -> v.Answer:
    this_year = clock.now().year
    status, refused = 200, False
    try:
        year = yearly.check_year(visit.query.get("year") or str(this_year))
    except DomainError as exc:  # the page of this year, saying the one asked for can't be shown
        status, refused, year = exc.status, True, this_year
    data = yearly.build(ctx.team_id, year)
    rows = [{**row, "law": _law(row["regime"]), **_days(row, ctx.locale)} for row in data["rows"]]
    return v.render(ctx, "report.html", status, year=year, years=_years(ctx, year, this_year), rows=rows,
                    totals={**data["totals"], **_days(data["totals"], ctx.locale)}, bases=schemas.DENIAL_BASES,
                    refused=refused)


@v.team_page()
def download(ctx: v.Context, visit: v.Visit) -> v.Answer:
    try:
        year = yearly.check_year(visit.query.get("year") or str(clock.now().year))
    except DomainError as exc:
        return v.failure(exc, visit, ctx)
    file = yearly.csv_download(yearly.build(ctx.team_id, year))
    return v.Answer(200, file.text, content_type=file.content_type, filename=file.filename)


def _years(ctx: v.Context, year: int, this_year: int) -> list[int]:
    """This year back to the team's first (the picker's choices, newest first), and the one shown."""
    created = (ctx.settings.created_at or "")[:4]
    first = max(yearly.FIRST_YEAR, min(int(created) if created.isdigit() else this_year, this_year))
    return sorted(set(range(first, this_year + 1)) | {year}, reverse=True)


def _law(code: str) -> str:
    """A law's own name (GDPR, CCPA...): a proper name, the same in every language."""
    known = regimes.REGIMES.get(code)
    return known.law if known else code


def _days(counts: dict, locale: str) -> dict:
    """The median and mean written as the language writes decimals (12.5, 12,5); None stays None."""
    from babel.numbers import format_decimal  # on first use: Babel is not for every cold start

    return {f"{name}_text": None if counts[name] is None else
            format_decimal(counts[name], format="#,##0.0", locale="en_GB" if locale == "en" else locale)
            for name in ("median_days", "mean_days")}
