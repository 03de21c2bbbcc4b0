"""Each law's clock at its edges (chalicelib/regimes.py; docs/regimes.md): month ends, leap days, weekends, public
holidays and time zones. Dates are written as the law's local day; instants in UTC."""
import datetime as dt

import pytest

from chalicelib import regimes
from chalicelib.regimes import BUSINESS_DAYS, Period, REGIMES

UTC = dt.timezone.utc


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def local_due(code: str, received: str, request_type: str | None = None, extension: int = 0, paused: int = 0) -> str:
    regime = REGIMES[code]
    due = regimes.answer_due(regime, utc(received), request_type, extension, paused)
    return regimes.local_date(regime, due).isoformat()


@pytest.mark.parametrize("received, due", [
    ("2027-01-31T10:00:00", "2027-02-28T10:00:00"),  # no 31 February: the month's last day
    ("2028-01-31T10:00:00", "2028-02-29T10:00:00"),  # a leap year
    ("2028-02-29T08:00:00", "2028-03-29T08:00:00"),
    ("2027-12-15T23:30:00", "2028-01-15T23:30:00"),  # across the year's end
])
def test_gdpr_answer_is_due_one_month_later_at_the_same_instant(received, due):
    assert regimes.answer_due(REGIMES["gdpr"], utc(received)) == utc(due)


def test_gdpr_extension_of_two_months_counts_from_receipt():
    assert regimes.answer_due(REGIMES["gdpr"], utc("2027-01-31T10:00:00"), extension=2) == utc("2027-04-30T10:00:00")


@pytest.mark.parametrize("received, due", [
    ("2027-09-03T12:00:00", "2027-10-04"),  # 3 Oct 2027 is a Sunday: the next working day
    ("2027-03-10T12:00:00", "2027-04-12"),  # 10 Apr 2027 is a Saturday
    ("2026-01-31T12:00:00", "2026-03-02"),  # no 31 Feb → 28 Feb, a Saturday → Monday 2 March
    ("2028-01-31T12:00:00", "2028-02-29"),  # a leap year: 29 Feb, a Tuesday
    ("2027-02-26T12:00:00", "2027-03-30"),  # 26 March is Good Friday, then a weekend, then Easter Monday
])
def test_uk_gdpr_counts_as_the_ico_does(received, due):
    assert local_due("uk_gdpr", received) == due


def test_uk_gdpr_receipt_day_is_the_local_day_in_london():
    # 23:30 UTC on 30 June is 00:30 on 1 July in London (BST): the receipt day is 1 July, due 1 August
    # (a Sunday in 2027) → Monday 2 August.
    assert local_due("uk_gdpr", "2027-06-30T23:30:00") == "2027-08-02"


def test_uk_gdpr_clock_moves_by_the_days_it_stood_still():
    assert local_due("uk_gdpr", "2027-09-06T12:00:00") == "2027-10-06"
    assert local_due("uk_gdpr", "2027-09-06T12:00:00", paused=10) == "2027-10-18"  # 16 Oct is a Saturday


@pytest.mark.parametrize("received, due", [
    ("2027-01-01T20:00:00", "2027-02-15"),  # 45 days
    ("2028-01-20T20:00:00", "2028-03-05"),  # across 29 February
    ("2027-12-20T20:00:00", "2028-02-03"),  # across the year's end
])
def test_ccpa_answer_is_due_45_calendar_days_after_the_local_day_of_receipt(received, due):
    assert local_due("ccpa", received) == due


def test_ccpa_receipt_day_is_californian():
    # 2 a.m. UTC on 1 March is still 28 February in Los Angeles.
    assert local_due("ccpa", "2027-03-01T02:00:00") == "2027-04-14"


def test_ccpa_extension_adds_45_days_once():
    assert local_due("ccpa", "2027-01-01T20:00:00", extension=45) == "2027-04-01"


def test_ccpa_due_is_the_end_of_the_californian_day():
    due = regimes.answer_due(REGIMES["ccpa"], utc("2027-01-01T20:00:00"))
    assert due == utc("2027-02-16T07:59:59")  # 23:59:59 PST on 15 February


def test_ccpa_opt_out_is_due_in_15_business_days():
    # Received Thursday 1 July 2027; Independence Day is observed on Monday 5 July: 15 business days end on 23 July.
    assert local_due("ccpa", "2027-07-01T18:00:00", "opt_out_sale") == "2027-07-23"


def test_ccpa_opt_out_has_no_extension():
    assert local_due("ccpa", "2027-07-01T18:00:00", "opt_out_sale", extension=45) == "2027-07-23"


@pytest.mark.parametrize("received, due", [
    ("2027-11-12T18:00:00", "2027-11-30"),  # Veterans Day 11 Nov is before; Thanksgiving 25 Nov and its Friday (CA) skipped
    ("2027-02-06T18:00:00", "2027-02-22"),  # a Saturday receipt: counting starts Monday; Presidents' Day 15 Feb
])
def test_ccpa_receipt_must_be_confirmed_within_10_business_days(received, due):
    ccpa = REGIMES["ccpa"]
    confirm_by = regimes.due_after(ccpa, utc(received), ccpa.receipt)
    assert regimes.local_date(ccpa, confirm_by).isoformat() == due


def test_a_holiday_on_the_fifteenth_business_day_moves_the_due_date():
    # From Monday 16 August 2027, the 15th business day would be Monday 6 September: Labor Day, so Tuesday 7.
    assert local_due("ccpa", "2027-08-16T18:00:00", "opt_out_sale") == "2027-09-07"


@pytest.mark.parametrize("code, days", [("vcdpa", 45), ("cpa", 45), ("ctdpa", 45), ("tdpsa", 45), ("ocpa", 45),
                                        ("lgpd", 15), ("fadp", 30), ("quebec", 30), ("pipeda", 30)])
def test_each_law_counts_its_days_from_the_local_day_of_receipt(code, days):
    regime = REGIMES[code]
    received = utc("2028-02-10T15:00:00")
    expected = regimes.local_date(regime, received) + dt.timedelta(days=days)
    assert local_due(code, "2028-02-10T15:00:00") == expected.isoformat()


def test_lgpd_counts_15_days_across_a_month_end():
    assert local_due("lgpd", "2027-01-20T12:00:00") == "2027-02-04"


def test_sao_paulo_evening_is_still_the_same_day():
    # 01:00 UTC on 1 February is 22:00 on 31 January in São Paulo.
    assert local_due("lgpd", "2027-02-01T01:00:00") == "2027-02-15"


def test_pipeda_extension_adds_30_days():
    assert local_due("pipeda", "2027-01-31T12:00:00", extension=30) == "2027-04-01"


@pytest.mark.parametrize("code, days", [("vcdpa", 60), ("cpa", 45), ("ctdpa", 60), ("tdpsa", 60), ("ocpa", 45)])
def test_us_state_appeals_are_answered_within_the_states_period(code, days):
    regime = REGIMES[code]
    due = regimes.due_after(regime, utc("2027-03-01T18:00:00"), regime.appeal)
    assert regimes.local_date(regime, due) == dt.date(2027, 3, 1) + dt.timedelta(days=days)


def test_business_days_skip_weekends():
    ccpa = REGIMES["ccpa"]
    assert regimes.add_business_days(ccpa, dt.date(2027, 3, 5), 1) == dt.date(2027, 3, 8)  # Friday → Monday


def test_a_daylight_saving_change_keeps_the_end_of_the_local_day():
    ccpa = REGIMES["ccpa"]
    assert regimes.end_of_day(ccpa, dt.date(2027, 3, 14)) == utc("2027-03-15T06:59:59")  # PDT from that morning
    assert regimes.end_of_day(ccpa, dt.date(2027, 3, 13)) == utc("2027-03-14T07:59:59")  # still PST


def test_every_regime_cites_its_law_for_every_right_it_gives():
    for regime in REGIMES.values():
        for right in regime.rights:
            assert regimes.cite(regime, right) != regime.law, (regime.code, right)


def test_only_laws_with_an_extension_have_one():
    assert {code for code, r in REGIMES.items() if r.extension is None} == {"lgpd", "fadp", "quebec"}


def test_a_period_in_business_days_never_lands_on_a_weekend():
    ccpa = REGIMES["ccpa"]
    start = dt.datetime(2027, 1, 1, 20, tzinfo=UTC)
    for offset in range(0, 370, 3):
        due = regimes.due_after(ccpa, start + dt.timedelta(days=offset), Period(10, BUSINESS_DAYS))
        assert regimes.local_date(ccpa, due).weekday() < 5
