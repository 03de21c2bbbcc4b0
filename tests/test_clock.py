"""The GDPR clock (Art. 12(3)): one calendar month, extendable by two, counted from the day received."""
import datetime as dt

import pytest

from chalicelib import clock

UTC = dt.timezone.utc


def at(y, m, d):
    return dt.datetime(y, m, d, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize("received, due", [
    (at(2026, 1, 15), at(2026, 2, 15)),
    (at(2026, 1, 31), at(2026, 2, 28)),
    (at(2028, 1, 31), at(2028, 2, 29)),   # leap year
    (at(2026, 3, 31), at(2026, 4, 30)),
    (at(2026, 12, 31), at(2027, 1, 31)),  # year end
    (at(2026, 2, 28), at(2026, 3, 28)),
    (at(2028, 2, 29), at(2028, 3, 29)),
])
def test_due_date_is_same_day_next_month_or_its_last_day(received, due):
    assert clock.due_date(received) == due


def test_extension_counts_from_the_day_received_not_from_the_previous_due_date():
    # 31 Jan + 1 month = 28 Feb; + 3 months = 30 Apr (not 28 Apr, as chaining from 28 Feb would give)
    assert clock.due_date(at(2026, 1, 31), extension_months=2) == at(2026, 4, 30)


def test_two_month_extension_over_a_leap_february():
    assert clock.due_date(at(2027, 11, 30), extension_months=2) == at(2028, 2, 29)


def test_add_months_keeps_time_of_day():
    assert clock.add_months(at(2026, 5, 31), 1).time() == at(2026, 5, 31).time()
