"""The privacy laws a client's request may fall under, each with its own clock (docs/regimes.md).

A team offers some regimes (settings `regimes`, default `regime`); each request stores the one it was made
under, and its due date, extension, rights, appeal and emails follow that law:
- the GDPR counts in months from the moment of receipt (Art. 12(3), as Regulation 1182/71 counts a month);
- the UK GDPR counts as the ICO does: the receipt day is day 1, the corresponding date next month is the due
  date (no such date: the month's last day; a weekend or bank holiday: the next working day), and the clock
  stops while the team waits for a clarification it asked for (Art. 12A);
- the others count calendar or business days from the local date of receipt, in the law's time zone, and a
  request is due at the end of that local day. Business days skip weekends and the law's public holidays,
  from the `holidays` library (imported only when a business day is counted: it is not light).
"""
import calendar
import datetime as dt
import functools
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from . import clock
from .errors import BadRequest

MONTHS, DAYS, BUSINESS_DAYS = "months", "days", "business_days"
GDPR_RIGHTS = ("erasure", "access", "portability", "rectification", "restriction", "objection")
OPT_OUT_SALE = "opt_out_sale"
US_RIGHTS = ("access", "portability", "erasure", "rectification", OPT_OUT_SALE)
DEFAULT = "gdpr"


@dataclass(frozen=True)
class Period:
    count: int
    unit: str  # MONTHS, DAYS or BUSINESS_DAYS


@dataclass(frozen=True)
class Regime:
    code: str
    law: str                      # how emails and pages name it (a proper name, not translated)
    zone: str                     # where its days are counted
    holidays: tuple               # (country, subdivision) whose public holidays are not business days
    answer: Period
    extension: Period | None      # None: the law allows no extension
    rights: tuple
    cites: dict = field(default_factory=dict)
    months_choice: bool = False   # the GDPR's "1 or 2 more months", decided together or in two steps
    opt_out: Period | None = None  # the opt-out of sale/sharing, which needs no verification
    receipt: Period | None = None  # the receipt must be confirmed within this
    appeal: Period | None = None   # a denied client may appeal; the appeal is answered within this
    pauses: bool = False           # the clock stops while the team waits for the client's clarification
    gpc: bool = False              # a Global Privacy Control signal is an opt-out of sale/sharing
    retention_days: int = 0        # request records are kept at least this long
    ico_counting: bool = False


def _gdpr_cites(prefix: str) -> dict:
    return {"answer": f"{prefix} Art. 12(3)", "extension": f"{prefix} Art. 12(3)", "denial": f"{prefix} Art. 12(4)",
            "access": f"{prefix} Art. 15", "portability": f"{prefix} Art. 20", "erasure": f"{prefix} Art. 17",
            "rectification": f"{prefix} Art. 16", "restriction": f"{prefix} Art. 18", "objection": f"{prefix} Art. 21",
            "recipients": f"{prefix} Art. 19", "consent": f"{prefix} Art. 7(3)"}


def _us_state(code, law, zone, state, statute, appeal_days, **cites) -> Regime:
    return Regime(code, law, zone, ("US", state), Period(45, DAYS), Period(45, DAYS), US_RIGHTS,
                  cites={"answer": statute, "extension": statute, "denial": statute, "access": statute,
                         "portability": statute, "erasure": statute, "rectification": statute,
                         "opt_out_sale": statute, "appeal": statute, **cites},
                  opt_out=Period(45, DAYS), appeal=Period(appeal_days, DAYS), gpc=code != "vcdpa")


REGIMES = {r.code: r for r in (
    Regime("gdpr", "GDPR", "UTC", ("", ""), Period(1, MONTHS), Period(2, MONTHS), GDPR_RIGHTS,
           cites=_gdpr_cites("GDPR"), months_choice=True),
    Regime("uk_gdpr", "UK GDPR", "Europe/London", ("GB", "ENG"), Period(1, MONTHS), Period(2, MONTHS), GDPR_RIGHTS,
           cites={**_gdpr_cites("UK GDPR"), "clarification": "UK GDPR Art. 12A"}, months_choice=True, pauses=True,
           ico_counting=True),
    Regime("ccpa", "CCPA", "America/Los_Angeles", ("US", "CA"), Period(45, DAYS), Period(45, DAYS), US_RIGHTS,
           cites={"answer": "Cal. Code Regs. tit. 11, §7021(b)", "extension": "Cal. Code Regs. tit. 11, §7021(b)",
                  "receipt": "Cal. Code Regs. tit. 11, §7021(a)", "denial": "Cal. Civ. Code §1798.130",
                  "access": "Cal. Civ. Code §1798.110", "portability": "Cal. Civ. Code §1798.130(a)(3)",
                  "erasure": "Cal. Civ. Code §1798.105", "rectification": "Cal. Civ. Code §1798.106",
                  "opt_out_sale": "Cal. Civ. Code §1798.120; Cal. Code Regs. tit. 11, §7026",
                  "gpc": "Cal. Code Regs. tit. 11, §7025", "records": "Cal. Code Regs. tit. 11, §7101",
                  "recipients": "Cal. Civ. Code §1798.105(c)"},
           opt_out=Period(15, BUSINESS_DAYS), receipt=Period(10, BUSINESS_DAYS), gpc=True, retention_days=731),  # 24 months (§7101), a leap day included,
    _us_state("vcdpa", "VCDPA", "America/New_York", "VA", "Va. Code §59.1-577", 60),
    _us_state("cpa", "CPA", "America/Denver", "CO", "Colo. Rev. Stat. §6-1-1306", 45),
    _us_state("ctdpa", "CTDPA", "America/New_York", "CT", "Conn. Gen. Stat. §42-518", 60),
    _us_state("tdpsa", "TDPSA", "America/Chicago", "TX", "Tex. Bus. & Com. Code §541.052", 60,
              appeal="Tex. Bus. & Com. Code §541.053"),
    _us_state("ocpa", "OCPA", "America/Los_Angeles", "OR", "Or. Rev. Stat. §646A.576", 45),
    Regime("lgpd", "LGPD", "America/Sao_Paulo", ("BR", ""), Period(15, DAYS), None, GDPR_RIGHTS,
           cites={"answer": "LGPD Art. 19, II", "denial": "LGPD Art. 18, §4", **{t: "LGPD Art. 18" for t in GDPR_RIGHTS}}),
    Regime("fadp", "FADP", "Europe/Zurich", ("CH", ""), Period(30, DAYS), None, GDPR_RIGHTS,
           cites={"answer": "DPO Art. 18(1)", "denial": "FADP Art. 26", "access": "FADP Art. 25",
                  "portability": "FADP Art. 28", "rectification": "FADP Art. 32(1)", "erasure": "FADP Art. 32(2)(c)",
                  "restriction": "FADP Art. 32(2)(a)", "objection": "FADP Art. 30(2)(b)"}),
    Regime("quebec", "Québec Law 25", "America/Toronto", ("CA", "QC"), Period(30, DAYS), None,
           ("access", "portability", "rectification", "erasure"),
           cites={"answer": "P-39.1 s. 32", "denial": "P-39.1 s. 34", "access": "P-39.1 s. 27",
                  "portability": "P-39.1 s. 27", "rectification": "P-39.1 s. 28", "erasure": "P-39.1 s. 28"}),
    Regime("pipeda", "PIPEDA", "America/Toronto", ("CA", "ON"), Period(30, DAYS), Period(30, DAYS),
           ("access", "rectification", "erasure"),
           cites={"answer": "PIPEDA s. 8(3)", "extension": "PIPEDA s. 8(4)", "denial": "PIPEDA s. 8(7)",
                  "access": "PIPEDA Sch. 1, 4.9", "rectification": "PIPEDA Sch. 1, 4.9.5",
                  "erasure": "PIPEDA Sch. 1, 4.9.5"}),
)}
CODES = list(REGIMES)
APPEAL = "appeal"


def get(code: str | None) -> Regime:
    """A request stored before regimes existed is a GDPR request."""
    return REGIMES[code or DEFAULT]


def check(code, where: str) -> str:
    if code not in REGIMES:
        raise BadRequest(f"{where} must be one of {', '.join(CODES)}", field=where)
    return code


def offered(settings) -> list[str]:
    """The regimes a team's clients may choose from: its list, else its default alone."""
    default = getattr(settings, "regime", None) or DEFAULT
    return list(getattr(settings, "regimes", None) or [default])


def choose(settings, wanted: str | None) -> Regime:
    """The regime of a new submission: the one it names, if the team offers it; else the team's default."""
    if wanted is None:
        return get(getattr(settings, "regime", None))
    choices = offered(settings)
    if wanted not in choices:
        raise BadRequest(f"body.regime must be one of {', '.join(choices)} (the laws this team's clients may choose)",
                         field="body.regime")
    return REGIMES[wanted]


def check_right(regime: Regime, request_type: str) -> None:
    if request_type not in regime.rights:
        raise BadRequest(f"body.type: {regime.law} gives no right of {request_type}; under it a client may ask "
                         f"for {', '.join(regime.rights)}", field="body.type")


def cite(regime: Regime, topic: str) -> str:
    """The article an email or page names for `topic` (a request type, answer, extension, denial…)."""
    return regime.cites.get(topic) or regime.cites.get("answer") or regime.law


TOPICS = ("answer", "extension", "denial", "access", "portability", "erasure", "rectification", "restriction",
          "objection", "recipients", "consent", "opt_out_sale", "appeal", "clarification")


def citations(code: str | None) -> dict:
    """What the emails name for a request under this law: `law_name`, and `cite_<topic>` for every topic (the
    law's article, or its answer's when it has none of its own; "" for an appeal or a pause it doesn't have)."""
    regime = get(code)
    out = {"law_name": regime.law, "months_choice": regime.months_choice,
           "extension_days": regime.extension.count if regime.extension and not regime.months_choice else 0}
    for topic in TOPICS:
        own = regime.cites.get(topic)
        out[f"cite_{topic}"] = own or ("" if topic in ("appeal", "clarification") else cite(regime, topic))
    return out


def retention_days(codes) -> int:
    return max((get(code).retention_days for code in codes), default=0)


# --- the clock ------------------------------------------------------------------------------------------------

def answer_due(regime: Regime, received: dt.datetime, request_type: str | None = None, extension: int = 0,
               paused_days: int = 0) -> dt.datetime:
    """When the answer is due. `extension`: what was granted, in the regime's unit (months for the GDPR and
    the UK GDPR, days for the others); `paused_days`: whole days the clock stood still for a clarification."""
    period = regime.opt_out if request_type == OPT_OUT_SALE and regime.opt_out else regime.answer
    if request_type != OPT_OUT_SALE and extension:
        period = Period(period.count + extension, period.unit)
    if regime.code == DEFAULT:
        return clock.add_months(received, period.count)  # instant to instant, as the GDPR has always been counted
    return due_after(regime, received, period, paused_days)


def due_after(regime: Regime, start: dt.datetime, period: Period, paused_days: int = 0) -> dt.datetime:
    """The end of the local day `period` after `start` (its local date counted as the law counts)."""
    day = local_date(regime, start)
    if period.unit == MONTHS:
        target = add_months(day, period.count)
    elif period.unit == DAYS:
        target = day + dt.timedelta(days=period.count)
    else:
        target = add_business_days(regime, day, period.count)
    target += dt.timedelta(days=paused_days)
    if regime.ico_counting:
        target = next_business_day(regime, target)
    return end_of_day(regime, target)


def local_date(regime: Regime, moment: dt.datetime) -> dt.date:
    return moment.astimezone(ZoneInfo(regime.zone)).date()


def end_of_day(regime: Regime, day: dt.date) -> dt.datetime:
    """The last second of `day` where the law counts, in UTC (a DST change that day is accounted for)."""
    local = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=ZoneInfo(regime.zone))
    return local.astimezone(clock.UTC)


def add_months(day: dt.date, months: int) -> dt.date:
    """The corresponding date `months` later; none (31 Jan + 1): the month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def is_business_day(regime: Regime, day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _holidays(regime.holidays, day.year)


def add_business_days(regime: Regime, day: dt.date, count: int) -> dt.date:
    """The `count`th business day after `day` (the receipt day itself is never counted)."""
    while count > 0:
        day += dt.timedelta(days=1)
        count -= is_business_day(regime, day)
    return day


def next_business_day(regime: Regime, day: dt.date) -> dt.date:
    while not is_business_day(regime, day):
        day += dt.timedelta(days=1)
    return day


@functools.lru_cache(maxsize=64)
def _holidays(where: tuple, year: int) -> frozenset:
    country, subdivision = where
    if not country:
        return frozenset()
    import holidays  # ~50 ms: only when a business day is counted

    found = holidays.country_holidays(country, subdiv=subdivision or None, years=year)
    return frozenset(found)
