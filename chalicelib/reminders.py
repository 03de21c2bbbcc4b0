"""The daily reminder (Art. 12(3) deadline): the officer is emailed once when a request is 7 days from due,
and once more when it is overdue.

Open, verified requests carry `open_due` and sit in the sparse `by_due` index, so this reads only those whose
due date is within the next week — one Query, whatever the number of teams. The once-only markers of
notifications.py make a re-run (or a retried schedule) send nothing twice.
"""
import datetime as dt
import functools

from . import clock, notifications, teams
from . import privacy_requests as pr
from .models import PrivacyRequest

DUE_SOON = dt.timedelta(days=7)


def run(now: dt.datetime | None = None) -> dict:
    now = now or clock.now()
    horizon = clock.iso(now + DUE_SOON)
    sent = {"officer_reminder": 0, "officer_overdue": 0}
    teams_seen: dict[str, tuple] = {}  # one settings read and one officer lookup per team and run
    for item in PrivacyRequest.by_due.query(pr.OPEN_DUE, PrivacyRequest.due_at <= horizon):
        if item.status not in pr.OPEN - {pr.AWAITING}:
            continue
        due = clock.parse(item.due_at)
        name = "officer_overdue" if due <= now else "officer_reminder"
        marker = notifications.Event(name, item, item.due_at).marker  # a new due date earns a new reminder
        if item.team_id not in teams_seen:
            settings = teams.require_team(item.team_id)
            teams_seen[item.team_id] = (settings, notifications.officers(item.team_id, settings))
        settings, recipients = teams_seen[item.team_id]
        common = notifications.common_values(item, settings)
        # Calendar days, as a person reads a due date: due tomorrow at 09:00 is "1 day left" even at 10:00 today.
        days = (due.date() - now.date()).days
        extra = {"days_overdue": -days} if name == "officer_overdue" else {"days_left": max(days, 0)}
        sent[name] += notifications.send_once(marker, functools.partial(
            notifications.officer_messages, name, item, settings, common, recipients=recipients, **extra),
            item=item, name=name)
    return sent
