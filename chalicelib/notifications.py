"""Emails driven by the requests table's stream (seed §5: the officer is told; §5 end: the client is told).

Each stream record is compared old → new to find what happened (a verification to send, a request that
became pending, one that completed, ...). For each such event the handler:
1. re-reads the request (consistent) and drops the event if the request moved on — so a record delivered
   late or out of order can't resurrect an old email;
2. skips it if its marker says it was already sent — so a redelivered record sends nothing twice;
3. sends, then writes the marker. A crash between 2 and 3 may send one duplicate (at-least-once); the
   opposite order could lose the email, which is worse for a legal notice.
A failing record doesn't stop the others: all are tried, then the batch raises so Lambda retries it, and
the markers make the retry resend only what failed.

Only failures that may pass are retried (throttling, an outage: see awsfaults.is_transient). A message that
can never go (a bad address, a message SES rejects as invalid, nobody to notify) is recorded on the request
as an alert the team sees, and its event is done; so is an unforeseen error that repeats MAX_ATTEMPTS times.
One client's record can therefore never hold back the emails of every later record of the shard.
"""
import dataclasses
import datetime as dt
import functools
import logging

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from . import actors, clock, config, dossiers, exports, languages, mailer, regimes, systems, templating, teams, tokens
from . import recipients as art19
from . import privacy_requests as pr
from .awsfaults import is_transient
from .db import condition_failed
from .models import Marker, PrivacyRequest

log = logging.getLogger(__name__)
MARKER_LIFETIME = dt.timedelta(days=400)
MAX_ATTEMPTS = 3  # an unforeseen error seen this often for one email is treated as permanent


class NobodyToNotify(mailer.PermanentSendError):
    """A request needs an officer's attention, but the team has no privacy officer and no admin."""


@dataclasses.dataclass
class Event:
    name: str  # template family, also part of the once-only marker
    request: PrivacyRequest
    serial: str = ""  # distinguishes repeatable events (the n-th verification email)

    @property
    def marker(self) -> str:
        return f"mail#{self.request.team_id}#{self.request.request_id}#{self.name}#{self.serial}"


class BatchFailed(Exception):
    """Raised after the whole batch was tried, so Lambda redelivers it; markers skip what succeeded."""


def handle_stream(records: list[dict]) -> dict:
    sent, failed = 0, []
    for record in records:
        try:
            sent += handle_record(record)
        except Exception:  # noqa: BLE001 — one bad record must not stop the others
            log.exception("stream record %s failed", record.get("dynamodb", {}).get("SequenceNumber"))
            failed.append(record.get("dynamodb", {}).get("SequenceNumber"))
    if failed and config.get("STREAM_FAILURE_MODE") == "report":
        # The event source mapping has ReportBatchItemFailures (devtools/patch_sam.py): Lambda resumes from
        # the first failed record; later ones come again and their markers skip what was already sent.
        return {"batchItemFailures": [{"itemIdentifier": seq} for seq in failed]}
    if failed:
        raise BatchFailed(f"{len(failed)} of {len(records)} records failed: {failed}")
    return {"records": len(records), "emails_sent": sent}


def handle_record(record: dict) -> int:
    images = record.get("dynamodb", {})
    old = _image(images.get("OldImage"))
    new = _image(images.get("NewImage"))
    if new is None:
        return 0  # REMOVE (TTL expiry of an unverified request): nothing to tell anyone
    events = events_for(old, new)
    if not events:
        return 0
    # One fresh read of the request, one batch read of the markers and one of the team's settings serve every
    # event of the record (a pending record has two: the officer's email and the client's receipt).
    current = _current(new)
    if current is None:
        return 0
    relevant = [event for event in events if _still_relevant(event, current)]
    sent = sent_markers([event.marker for event in relevant])
    team = functools.cache(lambda: teams.require_team(current.team_id))  # read once, only if an email needs it
    count = 0
    for event in relevant:
        if event.marker in sent:
            continue
        count += send_once(event.marker, lambda event=event: compose(event, current, team()), item=current,
                           name=event.name, checked=True)
        log.info("sent %s for request %s", event.name, current.request_id)
    return count


def _image(raw: dict | None) -> PrivacyRequest | None:
    return PrivacyRequest.from_raw_data(raw) if raw else None


def events_for(old: PrivacyRequest | None, new: PrivacyRequest) -> list[Event]:
    became = new.status if (old is None or old.status != new.status) else None
    withdrawal = new.type == pr.CONSENT_WITHDRAWAL
    events = []
    if new.status == pr.AWAITING and (old is None or int(old.verification_sends or 1) < int(new.verification_sends)):
        events.append(Event("verify_withdrawal" if withdrawal else "verify", new, str(int(new.verification_sends))))
    if became == pr.PENDING and old is not None and old.status == pr.DENIED:  # the client appealed
        events.append(Event("officer_new", new, "appeal"))
    elif became == pr.PENDING and not withdrawal:
        events += [Event("officer_new", new), Event("client_receipt", new)]
    if became == pr.COMPLETED:
        events.append(Event(f"client_completed_{new.type}", new))
        if withdrawal:
            events.append(Event("officer_consent_withdrawn", new))
    if became == pr.DENIED:
        events.append(Event("client_denied", new))
    if became == pr.CANCELLED:
        events.append(Event("client_cancelled", new))
        if old is not None and old.status != pr.AWAITING and not withdrawal:
            events.append(Event("officer_cancelled", new))
    extended = pr.extension_granted(new)
    if old is not None and extended > pr.extension_granted(old):
        events.append(Event("client_extended", new, str(extended)))
    if new.paused_at and (old is None or old.paused_at != new.paused_at):  # UK GDPR Art. 12A
        events.append(Event("client_clarification", new, new.paused_at))
    return events + recipient_events(old, new)



def recipient_events(old: PrivacyRequest | None, new: PrivacyRequest) -> list[Event]:
    """Art. 19 (recipients.py): a manual system's owner is emailed its task (again at each reminder); the
    officer is told when a system can't do its part (it answered so, it is gone, or delivery gave up)."""
    events = []
    before_all = (old.recipients if old is not None else None) or {}
    for system_id, task in (new.recipients or {}).items():
        before = before_all.get(system_id) or {}
        sends = int(task.get("sends") or 0)
        if task["kind"] == "manual" and task["status"] not in art19.FINAL and sends > int(before.get("sends") or 0):
            events.append(Event("recipient_task", new, f"{system_id}#{sends}"))
        failed_now = task["status"] == art19.FAILED and before.get("status") != art19.FAILED
        gave_up_now = bool(task.get("gave_up_at")) and not before.get("gave_up_at")
        if failed_now or gave_up_now:
            events.append(Event("officer_recipient_problem", new, f"{system_id}#{task['attempts']}#{task['status']}"))
    return events


def deliver(event: Event) -> int:
    current = _current(event.request)
    if current is None or not _still_relevant(event, current):
        return 0
    count = send_once(event.marker, lambda: compose(event, current), item=current, name=event.name)
    log.info("sent %s for request %s to %d recipient(s)", event.name, current.request_id, count)
    return count


def send_once(marker: str, messages, item: PrivacyRequest | None = None, name: str = "", checked: bool = False) -> int:
    """Send what `messages()` composes unless `marker` says it was sent (`checked`: the caller just read it);
    mark it after sending (see above). A message that can never be sent is recorded on `item` and skipped; the
    others still go."""
    if not checked and already_sent(marker):
        return 0
    count = 0
    try:
        for to, message in messages():
            try:
                mailer.send([to], message["subject"], message["text"], message["html"])
                count += 1
            except mailer.PermanentSendError as exc:
                _record_failure(item, name, _recipient(item, to), str(exc))
    except mailer.PermanentSendError as exc:  # composing failed for good (e.g. nobody to notify)
        _record_failure(item, name, "officer" if name.startswith("officer_") else "client", str(exc))
    except Exception as exc:
        if is_transient(exc) or _attempt(marker) < MAX_ATTEMPTS:
            raise
        _record_failure(item, name, "unknown", f"gave up after {MAX_ATTEMPTS} attempts: {type(exc).__name__}")
    if count and item is not None and is_final_notice(name):
        record_notice(item, name)  # before the marker: a crash in between re-sends, and the entry stays single
    mark_sent(marker)
    return count


def _recipient(item: PrivacyRequest | None, to: str) -> str:
    return "client" if item is not None and to == item.email else "officer"


def _attempt(marker: str) -> int:
    """Count one more failed attempt at `marker`'s email; returns the count so far."""
    counter = Marker(f"attempts#{marker}")
    counter.update(actions=[Marker.count.add(1), Marker.expires_at.set(dt.timedelta(days=2))])
    return int(counter.count)


def _record_failure(item: PrivacyRequest | None, name: str, recipient: str, reason: str) -> None:
    """Make a lost email visible to the team (request view, `alerts`) and to operators (error log)."""
    log.error("email %s for request %s can't be sent to the %s: %s", name,
              getattr(item, "request_id", "?"), recipient, reason)
    if item is None:
        return
    alert = {"at": clock.iso(clock.now()), "kind": "email_failed", "email": name, "recipient": recipient,
             "reason": reason[:500]}
    try:
        pr.chained(item, lambda append: item.update(
            actions=[PrivacyRequest.alerts.set((PrivacyRequest.alerts | []).append([alert])), *append.actions],
            condition=PrivacyRequest.request_id.exists() & append.condition),
            "email_failed", actors.service(), email=name, recipient=recipient)
    except UpdateError as exc:
        if not condition_failed(exc):
            raise


def is_final_notice(name: str) -> bool:
    """The email that tells the client how their request ended."""
    return name.startswith("client_completed_") or name in ("client_denied", "client_cancelled")


def record_notice(item: PrivacyRequest, name: str) -> None:
    """Add "notice_sent" to the request's record once the client's final notice went. Once only: the marker
    guards the sending, and a retried record finds the entry already there (checked again on every fresh read,
    since the write is conditional on the head it was read with)."""
    for _ in range(pr.APPEND_ATTEMPTS):
        if any(e.get("event") == "notice_sent" and e.get("email") == name for e in item.history or []):
            return
        append = pr.record(item, "notice_sent", actors.service(), email=name, recipient="client")
        try:
            item.update(actions=append.actions, condition=PrivacyRequest.request_id.exists() & append.condition)
            return
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
        item = _current(item)
        if item is None:
            return
    log.error("could not record the notice %s of request %s: its history kept changing", name,
              getattr(item, "request_id", "?"))


def _current(item: PrivacyRequest) -> PrivacyRequest | None:
    try:
        return PrivacyRequest.get(item.team_id, item.request_id, consistent_read=True)
    except DoesNotExist:
        return None


def _still_relevant(event: Event, current: PrivacyRequest) -> bool:
    """Drop events the request has moved past (late or out-of-order records)."""
    name = event.name
    if name in ("verify", "verify_withdrawal"):
        return pr.effective_status(current) == pr.AWAITING and int(current.verification_sends) >= int(event.serial)
    if name in ("officer_new", "client_receipt"):
        return current.status in pr.OPEN - {pr.AWAITING}  # once it is handled, "a new request" is old news
    if name.startswith("client_completed") or name == "officer_consent_withdrawn":
        return current.status == pr.COMPLETED
    if name == "client_denied":
        return current.status == pr.DENIED
    if name in ("client_cancelled", "officer_cancelled"):
        return current.status == pr.CANCELLED
    if name == "client_extended":
        return pr.extension_granted(current) >= int(event.serial)
    if name == "client_clarification":
        return current.paused_at == event.serial
    if name == "recipient_task":
        system_id, sends = event.serial.rsplit("#", 1)
        task = (current.recipients or {}).get(system_id)
        return current.status == pr.IN_PROGRESS and task is not None and task["status"] not in art19.FINAL \
            and int(task.get("sends") or 0) == int(sends)  # an older reminder's link is superseded
    if name == "client_restriction_lifted":  # sent by execution.lift_restriction before it lifts
        return current.type == "restriction" and current.status == pr.COMPLETED
    return True


def sent_markers(keys: list[str]) -> set[str]:
    """Which of these emails were already sent: one consistent BatchGetItem for up to 100 markers."""
    if not keys:
        return set()
    return {marker.pk for marker in Marker.batch_get(list(dict.fromkeys(keys)), consistent_read=True)}


def already_sent(key: str) -> bool:
    try:
        Marker.get(key, consistent_read=True)
        return True
    except DoesNotExist:
        return False


def mark_sent(key: str) -> None:
    try:
        Marker(key, created_at=clock.iso(clock.now()), expires_at=MARKER_LIFETIME).save(
            condition=Marker.pk.does_not_exist())
    except PutError as exc:
        if not condition_failed(exc):
            raise


# --- composing ------------------------------------------------------------------------------------------------

def compose(event: Event, item: PrivacyRequest, settings=None) -> list[tuple[str, dict]]:
    settings = settings or teams.require_team(item.team_id)
    client_locale = languages.for_client(item.locale, item.accept_language, settings)
    common = common_values(item, settings)
    name = event.name
    if name.startswith("officer_"):
        extra = {}
        if name == "officer_recipient_problem":
            extra["task"] = _task_view(item, event.serial.split("#", 1)[0])
        return officer_messages(name, item, settings, common, **extra)
    if name == "recipient_task":
        return task_messages(event, item, settings, common)
    extra = {}
    if name in ("verify", "verify_withdrawal"):
        extra = {"verify_url": config.public_url(f"/portal/privacy/verify/{pr.verification_token(item)}"),
                 "hours": int(tokens.LIFETIMES[tokens.VERIFY].total_seconds() // 3600)}
    elif name in ("client_receipt", "client_clarification"):
        extra = {"status_url": status_url(item)}
    elif name in ("client_completed_access", "client_completed_portability"):
        extra = {"export_url": config.public_url(f"/portal/privacy/exports/{exports.link_token(item)}"),
                 "export_days": tokens.LIFETIMES[tokens.EXPORT].days}
    elif name == "client_denied":
        appealable = regimes.get(item.regime).appeal is not None and not item.appealed_at
        extra = {"supervisory_authority": settings.supervisory_authority,
                 "appeal_url": status_url(item) if appealable else None}
    if name.startswith("client_completed_"):  # Art. 19, second sentence: who was told of it
        extra["informed"] = [task["name"] for task in (item.recipients or {}).values() if art19.informed(task)]
    return [(item.email, templating.render_email(name, client_locale, **common, **extra))]


def common_values(item: PrivacyRequest, settings) -> dict:
    """What every email of a request shows: the request, the team's name, and its law's name and articles."""
    return {"request": pr.view(item), "team_name": settings.team_name or item.team_id,
            **regimes.citations(item.regime)}


def officer_messages(name: str, item: PrivacyRequest, settings, common: dict, recipients=None,
                     **extra) -> list[tuple[str, dict]]:
    """One email per officer (the privacy officer, else every admin), each with their own action link."""
    locale = languages.team_default(settings)
    if name == "officer_new":
        extra["matching_dossiers"] = dossiers.count_client_dossiers(item.team_id, item.email)
    if name == "officer_consent_withdrawn":
        extra["dossiers_affected"] = int((item.result or {}).get("dossiers_updated", 0))
    if name == "officer_new":  # the applications that will be told once it is carried out (Art. 19)
        # settings.system_count moves with every system created or deleted: no Query for a team without any
        told = item.type in art19.ART19_TYPES and int(settings.system_count or 0) > 0
        extra["systems_to_tell"] = sorted(system.name for system in systems.for_request_type(item.team_id, item.type)) \
            if told else []
    if name in ("officer_reminder", "officer_overdue"):
        extra["open_recipients"] = art19.open_tasks(item)
    messages = []
    people = recipients if recipients is not None else officers(item.team_id, settings)
    if not people:
        raise NobodyToNotify("the team has no privacy officer and no admin to tell")
    for officer in people:
        values = dict(common, officer_name=officer.name, **extra)
        if name in ("officer_new", "officer_reminder", "officer_overdue"):
            values["action_url"] = config.public_url(f"/actions/{action_token(item, officer)}")
        messages.append((officer.email, templating.render_email(name, locale, **values)))
    return messages


def _task_view(item: PrivacyRequest, system_id: str) -> dict:
    return next(task for task in pr.recipient_tasks(item) if task["system_id"] == system_id)


def task_messages(event: Event, item: PrivacyRequest, settings, common: dict) -> list[tuple[str, dict]]:
    """The owner of a manual system, in the team's language, with a link bound to them."""
    system_id = event.serial.rsplit("#", 1)[0]
    task = item.recipients[system_id]
    system = systems.get(item.team_id, system_id)
    if art19.system_gone(system, task) or not system.owner_email:
        return []  # deleted meanwhile: housekeeping skips the task
    url = config.public_url(f"/privacy/tasks/{art19.task_token(item, task, system.owner_email)}")
    locale = languages.team_default(settings)
    values = dict(common, task=_task_view(item, system_id), task_url=url)
    return [(system.owner_email, templating.render_email("recipient_task", locale, **values))]


def status_url(item: PrivacyRequest) -> str:
    return config.public_url(f"/portal/privacy/requests/{item.request_id}?token={pr.status_token(item)}")


def officers(team_id: str, settings) -> list:
    """The privacy officer if the team chose one, else every admin (seed §3)."""
    if settings.privacy_officer_id:
        officer = teams.get_member(team_id, settings.privacy_officer_id)
        if officer is not None:
            return [officer]
    return teams.list_admins(team_id)


def action_token(item: PrivacyRequest, officer) -> str:
    """Bound to the officer's member id *and* generation: a deleted then re-created id gets nothing back."""
    return tokens.sign(tokens.ACTION, {"team": item.team_id, "req": item.request_id, "officer": officer.member_id,
                                       "gen": officer.generation})
