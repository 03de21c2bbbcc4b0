"""The yearly report (chalicelib/report.py; CCPA regs §7102): GET /teams/{team_id}/privacy/report?year= and the
console's Report page. Requests go through the product as clients and officers make them (submitted, confirmed by
the emailed link, executed or denied), with the whole product's time (our clock, PyJWT's, the ids' milliseconds)
set to when each step happens."""
import csv
import datetime as dt
import io
import re
import types

import pytest

from chalicelib import clock, ids, report, spreadsheet, teams
from chalicelib.models import PrivacyRequest
from tests.console_support import Console

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


class _FrozenDatetime:
    def __init__(self, moment):
        self.moment = moment

    def __getattr__(self, name):
        return getattr(dt.datetime, name)

    def now(self, tz=None):
        return self.moment


def at(monkeypatch, *when) -> dt.datetime:
    """Sets the time to `when` (UTC; year, month, day[, hour, minute, second, microsecond]) everywhere it is read."""
    moment = dt.datetime(*when, tzinfo=UTC)
    millis = (moment - EPOCH) // dt.timedelta(milliseconds=1)
    monkeypatch.setattr(clock, "now", lambda: moment)
    monkeypatch.setattr("jwt.api_jwt.datetime", _FrozenDatetime(moment))
    # Half a millisecond in: float rounding can't move an id to the millisecond before.
    monkeypatch.setattr(ids, "time", types.SimpleNamespace(time=lambda: (millis + 0.5) / 1000))
    return moment


def token(team) -> str:
    """The admin's bearer token, issued now and kept as `team.token` (tokens last 12 hours, the tests move time by
    days)."""
    team.token = teams.bearer_token(team.id, team.admin_id)
    return team.token


def received(api, team, email: str, type_: str = "erasure", **extra) -> str:
    """A request the client submitted and confirmed now."""
    return api.verified_request(team, email, type_, **extra)


def complete(api, team, request_id: str) -> dict:
    return api.executed(team, request_id, token=token(team))


def deny(api, team, request_id: str, basis: str | None = None):
    body = {"reason": "Refused for the report's test"} | ({"basis": basis} if basis else {})
    answer = api.post(f"/teams/{team.id}/privacy/requests/{request_id}/deny", body, token=token(team))
    assert answer.status_code == 200, answer.body


def cancel(api, team, request_id: str):
    from chalicelib import privacy_requests

    status = privacy_requests.status_token(PrivacyRequest.get(team.id, request_id))
    assert api.post(f"/portal/privacy/requests/{request_id}/cancel?token={status}", {}).status_code == 200


def get_report(api, team, year="2025", **params):
    query = "&".join(f"{name}={value}" for name, value in {"year": year, **params}.items() if value is not None)
    return api.get(f"/teams/{team.id}/privacy/report?{query}", token=token(team))


def year_report(api, team, year="2025") -> dict:
    answer = get_report(api, team, year)
    assert answer.status_code == 200, answer.body
    return answer.json_body


def row(data: dict, type_: str, regime: str = "gdpr") -> dict:
    found = [r for r in data["rows"] if (r["type"], r["regime"]) == (type_, regime)]
    assert len(found) == 1, data["rows"]
    return found[0]


@pytest.fixture
def team(api, monkeypatch):
    """A team made early in 2025, its admin's token issued then (see `token` for later)."""
    at(monkeypatch, 2025, 1, 2, 9, 0)
    return api.new_team()


# --- what is counted ------------------------------------------------------------------------------------------

def test_each_request_type_and_law_has_a_row_of_its_own(api, team, monkeypatch):
    assert api.patch(f"/teams/{team.id}/privacy/settings", {"regimes": ["gdpr", "ccpa"]},
                     token=token(team)).status_code == 200
    at(monkeypatch, 2025, 3, 1, 10, 0)
    received(api, team, "a@client.example")
    received(api, team, "b@client.example")
    received(api, team, "c@client.example", "access")
    received(api, team, "d@client.example", regime="ccpa")

    data = year_report(api, team)

    assert [(r["type"], r["regime"]) for r in data["rows"]] == [("erasure", "gdpr"), ("erasure", "ccpa"),
                                                                ("access", "gdpr")]
    assert [r["received"] for r in data["rows"]] == [2, 1, 1]
    assert data["team_id"] == team.id and data["year"] == 2025


def test_the_totals_add_the_rows_up(api, team, monkeypatch):
    at(monkeypatch, 2025, 3, 1)
    first, second = received(api, team, "a@client.example"), received(api, team, "b@client.example", "access")
    received(api, team, "c@client.example", "objection")
    at(monkeypatch, 2025, 3, 2)
    complete(api, team, first)
    deny(api, team, second, "excessive")

    totals = year_report(api, team)["totals"]

    assert (totals["received"], totals["completed"], totals["denied"], totals["on_time"]) == (3, 1, 1, 2)
    assert totals["denied_by_basis"]["excessive"] == 1


def test_a_request_still_open_counts_as_received_and_nothing_more(api, team, monkeypatch):
    at(monkeypatch, 2025, 3, 1)
    received(api, team, "a@client.example")

    erasure = row(year_report(api, team), "erasure")

    assert erasure["received"] == 1
    assert (erasure["completed"], erasure["denied"], erasure["on_time"]) == (0, 0, 0)
    assert erasure["median_days"] is None and erasure["mean_days"] is None


def test_requests_never_confirmed_or_cancelled_are_counted_apart_from_those_received(api, team, monkeypatch):
    at(monkeypatch, 2025, 3, 1)
    received(api, team, "confirmed@client.example")
    api.submit(team, "expired@client.example")
    cancel(api, team, received(api, team, "cancelled@client.example"))
    at(monkeypatch, 2025, 3, 1, 12, 0)
    api.submit(team, "waiting@client.example")
    at(monkeypatch, 2025, 3, 2, 11, 0)  # the first link has expired (24 h), the second not yet

    erasure = row(year_report(api, team), "erasure")

    assert (erasure["received"], erasure["unverified"], erasure["cancelled"]) == (1, 2, 1)


def test_an_answer_given_by_the_due_date_is_on_time_and_one_after_it_is_not(api, team, monkeypatch):
    at(monkeypatch, 2025, 3, 1, 10, 0)
    on_time, late = received(api, team, "a@client.example"), received(api, team, "b@client.example")
    at(monkeypatch, 2025, 4, 1, 10, 0)  # the GDPR's month, to the second
    complete(api, team, on_time)
    at(monkeypatch, 2025, 4, 1, 10, 0, 1)
    deny(api, team, late)

    erasure = row(year_report(api, team), "erasure")

    assert (erasure["completed"], erasure["denied"], erasure["on_time"]) == (1, 1, 1)


def test_median_and_mean_count_days_from_receipt_to_the_answer_to_one_decimal(api, team, monkeypatch):
    at(monkeypatch, 2025, 3, 1)
    requests = [received(api, team, f"{n}@client.example") for n in range(3)]
    received(api, team, "open@client.example")
    at(monkeypatch, 2025, 3, 2)
    complete(api, team, requests[0])  # 1 day
    at(monkeypatch, 2025, 3, 3, 12)
    deny(api, team, requests[1], "unfounded")  # 2.5 days: a denial is an answer too
    at(monkeypatch, 2025, 3, 7)
    complete(api, team, requests[2])  # 6 days; the open request doesn't count

    erasure = row(year_report(api, team), "erasure")

    assert erasure["median_days"] == 2.5
    assert erasure["mean_days"] == 3.2  # 9.5 / 3


def test_denials_are_counted_by_their_basis(api, team, monkeypatch):
    at(monkeypatch, 2025, 3, 1)
    denied = [received(api, team, f"{n}@client.example", "access") for n in range(4)]
    for request_id, basis in zip(denied, ["unfounded", "unfounded", "no_data", None], strict=True):
        deny(api, team, request_id, basis)

    access = row(year_report(api, team), "access")

    assert access["denied"] == 4
    assert access["denied_by_basis"] == {"unverified": 0, "exemption": 0, "unfounded": 2, "excessive": 0,
                                         "no_data": 1, "other": 1}


def test_a_denial_stored_without_a_basis_counts_as_other(api, team, monkeypatch):
    at(monkeypatch, 2025, 3, 1)
    request_id = received(api, team, "a@client.example")
    deny(api, team, request_id, "excessive")
    PrivacyRequest(team.id, request_id).update(actions=[PrivacyRequest.denial_basis.remove()])  # as before bases

    assert row(year_report(api, team), "erasure")["denied_by_basis"]["other"] == 1


def test_a_request_stored_without_a_law_is_a_gdpr_request(api, team, monkeypatch):
    at(monkeypatch, 2025, 3, 1)
    request_id = received(api, team, "a@client.example")
    PrivacyRequest(team.id, request_id).update(actions=[PrivacyRequest.regime.remove()])  # as before regimes

    assert row(year_report(api, team), "erasure", "gdpr")["received"] == 1


def test_a_year_of_several_pages_is_read_whole(api, team, monkeypatch):
    monkeypatch.setattr(report, "PAGE_SIZE", 2)
    at(monkeypatch, 2025, 3, 1)
    for n in range(5):
        received(api, team, f"{n}@client.example")

    assert year_report(api, team)["totals"]["received"] == 5


def test_another_teams_requests_are_not_in_the_report(api, team, monkeypatch):
    at(monkeypatch, 2025, 3, 1)
    other = api.new_team("Other", admin_email="other@team.example")
    received(api, other, "a@client.example")

    assert year_report(api, team)["rows"] == []


# --- the year's edges --------------------------------------------------------------------------------------------

def test_a_year_runs_from_its_first_to_its_last_millisecond_utc(api, team, monkeypatch):
    for name, when in {"2024-last": (2024, 12, 31, 23, 59, 59, 999000), "2025-first": (2025, 1, 1),
                       "2025-last": (2025, 12, 31, 23, 59, 59, 999000), "2026-first": (2026, 1, 1)}.items():
        at(monkeypatch, *when)
        received(api, team, f"{name}@client.example")

    def counted(year):
        return year_report(api, team, str(year))["totals"]["received"]

    assert (counted(2024), counted(2025), counted(2026)) == (1, 2, 1)


def test_the_ids_bounding_a_year_hold_exactly_the_ids_made_in_it(monkeypatch):
    first, last = report.year_ids(2025)
    made = {}
    for name, when in {"before": (2024, 12, 31, 23, 59, 59, 999000), "first": (2025, 1, 1),
                       "last": (2025, 12, 31, 23, 59, 59, 999000), "after": (2026, 1, 1)}.items():
        at(monkeypatch, *when)
        made[name] = ids.new_id("r_")

    assert made["before"] < first <= made["first"] and made["last"] <= last < made["after"]
    assert last < report.year_ids(2026)[0]


# --- CSV ---------------------------------------------------------------------------------------------------------

def test_the_csv_is_an_attachment_with_one_row_per_type_and_law_then_the_totals(api, team, monkeypatch):
    at(monkeypatch, 2025, 3, 1)
    first = received(api, team, "a@client.example")
    received(api, team, "b@client.example", "access")
    at(monkeypatch, 2025, 3, 3)
    complete(api, team, first)

    answer = get_report(api, team, format="csv")

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="privacy-report-2025.csv"'
    assert answer.headers["Cache-Control"] == "no-store"
    table = list(csv.reader(io.StringIO(answer.body.decode())))
    assert table[0] == ["year", "type", "regime", "received", "completed", "denied", "denied_unverified",
                        "denied_exemption", "denied_unfounded", "denied_excessive", "denied_no_data", "denied_other",
                        "cancelled", "unverified", "on_time", "median_days", "mean_days"]
    assert table[1] == ["2025", "erasure", "gdpr", "1", "1", "0", "0", "0", "0", "0", "0", "0", "0", "0", "1",
                        "2.0", "2.0"]
    assert table[2] == ["2025", "access", "gdpr", "1", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "", ""]
    assert table[3][:6] == ["2025", "total", "all", "2", "1", "0"] and len(table) == 4


def test_no_csv_cell_can_start_a_formula(api, team, monkeypatch):
    at(monkeypatch, 2025, 3, 1)
    request_id = received(api, team, "a@client.example")
    # No law is named like this; a damaged or hostile item must still open harmlessly in a spreadsheet.
    PrivacyRequest(team.id, request_id).update(actions=[PrivacyRequest.regime.set('=HYPERLINK("http://x")')])

    table = list(csv.reader(io.StringIO(get_report(api, team, format="csv").body.decode())))

    assert table[1][2] == "'=HYPERLINK(\"http://x\")"
    assert not any(cell[:1] in ("=", "+", "-", "@") for line in table for cell in line)


def test_the_csv_and_the_request_log_share_one_formula_guard():
    from chalicelib.console import team as team_pages

    assert team_pages.formula_safe is spreadsheet.formula_safe


# --- what is refused ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("year", [None, "", "25", "02025", "2025.0", " 2025", "２０２５", "1999", "2027"])
def test_a_missing_or_malformed_year_is_a_400_naming_year(api, team, year):
    answer = get_report(api, team, year)

    assert answer.status_code == 400
    assert answer.json_body["field"] == "year"


def test_next_year_may_be_asked_for_and_is_empty(api, team):
    assert year_report(api, team, "2026") == {"team_id": team.id, "year": 2026, "rows": [], "totals": {
        "received": 0, "completed": 0, "denied": 0, "cancelled": 0, "unverified": 0, "on_time": 0,
        "denied_by_basis": {"unverified": 0, "exemption": 0, "unfounded": 0, "excessive": 0, "no_data": 0,
                            "other": 0}, "median_days": None, "mean_days": None}}


def test_the_year_2000_is_the_first_one(api, team):
    assert get_report(api, team, "2000").status_code == 200


@pytest.mark.parametrize("answer_format", ["", "xml", "CSV", "csv "])
def test_an_unknown_format_is_a_400_naming_format(api, team, answer_format):
    answer = get_report(api, team, format=answer_format)

    assert answer.status_code == 400
    assert answer.json_body["field"] == "format"


def test_json_is_the_format_asked_for_by_name_too(api, team):
    answer = get_report(api, team, format="json")

    assert answer.status_code == 200 and answer.json_body["year"] == 2025


def test_a_member_of_another_team_is_refused(api, team, monkeypatch):
    other = api.new_team("Other", admin_email="other@team.example")

    answer = api.get(f"/teams/{team.id}/privacy/report?year=2025", token=token(other))

    assert answer.status_code == 403


def test_no_token_no_report(api, team):
    assert api.get(f"/teams/{team.id}/privacy/report?year=2025").status_code == 401


def test_any_member_may_read_it_as_any_member_may_list_the_requests(api, team):
    member_token = api.add_member(team, "m1", "member@team.example")

    for path in (f"/teams/{team.id}/privacy/requests", f"/teams/{team.id}/privacy/report?year=2025"):
        assert api.get(path, token=member_token).status_code == 200, path


# --- the console ---------------------------------------------------------------------------------------------

def signed_in(api, team) -> Console:
    """The team's admin at the console, signed in now (a session lasts hours, the tests move time by months)."""
    console = Console(api)
    console.sign_in(team.admin_email)
    return console


def test_the_console_report_shows_the_year_asked_for_as_a_table(api, team, monkeypatch):
    at(monkeypatch, 2025, 3, 1)
    received(api, team, "a@client.example", "access")
    deny(api, team, received(api, team, "b@client.example", "access"), "unfounded")
    officer = signed_in(api, team)

    answer = officer.get(f"/console/teams/{team.id}/report?year=2025")

    assert answer.status_code == 200
    page = officer.page
    assert '<th scope="col">Requests received</th>' in page and '<th scope="row">Access<br><small>GDPR</small></th>' in page
    assert '<td data-label="Requests received">2</td>' in page
    assert '<td data-label="Denied requests"><div>1<br><small>manifestly unfounded: 1</small></div></td>' in page
    assert '<option value="2025" selected>2025</option>' in page
    assert f'href="/console/teams/{team.id}/report.csv?year=2025"' in page
    assert f'<a href="/console/teams/{team.id}/report" aria-current="page">' in page


def test_the_console_report_is_of_this_year_unless_asked(api, team, monkeypatch):
    at(monkeypatch, 2025, 3, 1)
    officer = signed_in(api, team)

    officer.get(f"/console/teams/{team.id}/report")

    assert "Privacy requests received in 2025" in officer.text()


def test_the_console_says_when_a_year_cant_be_shown(api, team):
    officer = signed_in(api, team)

    answer = officer.get(f"/console/teams/{team.id}/report?year=1999")

    assert answer.status_code == 400
    assert 'role="alert"' in officer.page and "Privacy requests received in 2025" in officer.text()


def test_the_console_report_speaks_the_members_language(api, team, monkeypatch):
    at(monkeypatch, 2025, 3, 1)
    request_id = received(api, team, "a@client.example")
    at(monkeypatch, 2025, 3, 3, 12)
    complete(api, team, request_id)
    officer = signed_in(api, team)

    officer.get(f"/console/teams/{team.id}/report?year=2025", headers={"Accept-Language": "fr"})

    assert "Demandes reçues en 2025" in officer.text()
    assert re.search(r'data-label="Jours avant réponse \(médiane\)">2,5<', officer.page)


def test_the_console_csv_is_the_apis(api, team, monkeypatch):
    at(monkeypatch, 2025, 3, 1)
    received(api, team, "a@client.example")
    officer = signed_in(api, team)

    answer = officer.get(f"/console/teams/{team.id}/report.csv?year=2025")

    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/csv")
    assert answer.headers["Content-Disposition"] == 'attachment; filename="privacy-report-2025.csv"'
    assert answer.body == get_report(api, team, format="csv").body


def test_the_console_report_and_its_csv_are_kept_by_no_browser_and_run_no_inline_code(api, team):
    officer = signed_in(api, team)

    for path in (f"/console/teams/{team.id}/report?year=2025", f"/console/teams/{team.id}/report.csv?year=2025"):
        answer = officer.get(path)
        assert answer.headers["Cache-Control"] == "no-store", path
        assert answer.headers["X-Content-Type-Options"] == "nosniff", path
        assert "default-src 'none'" in answer.headers["Content-Security-Policy"], path
        body = answer.body.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", body), path


def test_another_teams_report_is_not_found_in_the_console(api, team):
    other = api.new_team("Other", admin_email="other@team.example")
    officer = signed_in(api, team)

    for path in (f"/console/teams/{other.id}/report", f"/console/teams/{other.id}/report.csv?year=2025"):
        assert officer.get(path).status_code == 404, path
