"""Housekeeping, run every few minutes: the execution watchdog, the erasure's follow-up sweep, then
pseudonymisation of closed requests.

0. **Watchdog.** An execution whose worker died or whose next slice was never queued is queued again
   (execution.requeue_stalled): no request stays in_progress for want of a click.

1. **Sweep.** Erasure finds a client's dossiers through the `by_client` index, which DynamoDB keeps eventually
   consistent: a dossier written seconds before the erasure may not be in it yet. So a completed erasure is
   swept again SWEEP_DELAY later, once the index has caught up; the sweep deletes whatever dossier of the
   client was created up to the erasure's completion, and its finds are recorded on the request (`sweep`,
   and a history entry). Dossiers created after the erasure are a new relationship and are left alone.
2. **Scrub.** A closed request is the team's proof (Art. 5(2)) that a request of this type was received and
   answered, when and by whom: type, status, dates, counts, history and the team's own reasons stay. What
   identifies the client goes once `CLOSED_REQUEST_RETENTION_DAYS` have passed after closing: the address
   becomes a keyed hash (the team can still tell whether an address it is given made the request), the
   client's free-text message and the note sent to them are removed, and an access or portability export
   still in S3 is deleted.

Requests wait for these in the sparse `by_chore` index (`chore` = sweep | scrub, `chore_at`), so a run reads
only what is due. Each step is one conditional update on the chore it performs: a run repeated or overlapping
another does nothing twice."""
import datetime as dt
import logging

from pynamodb.exceptions import UpdateError

from . import actors, clock, emails, execution, exports, purge, recipients
from . import privacy_requests as pr
from .db import condition_failed
from .models import PrivacyRequest

log = logging.getLogger(__name__)

SWEEP, SCRUB = pr.SWEEP, pr.SCRUB
BATCH = 50  # chores per kind per run; the schedule comes back for the rest


def run(now: dt.datetime | None = None) -> dict:
    now = now or clock.now()
    done = {"swept": 0, "scrubbed": 0, "requeued": execution.requeue_stalled(now), **recipients.run_due(now)}
    for item in PrivacyRequest.by_chore.query(SWEEP, PrivacyRequest.chore_at <= clock.iso(now), limit=BATCH):
        done["swept"] += sweep(item, now)
    for item in PrivacyRequest.by_chore.query(SCRUB, PrivacyRequest.chore_at <= clock.iso(now), limit=BATCH):
        done["scrubbed"] += scrub(item, now)
    return done


def sweep(item: PrivacyRequest, now: dt.datetime) -> int:
    found: dict = {}
    purge.erase_client(item.team_id, item.email, found, lambda _progress: None, created_until=item.completed_at)
    exports_deleted = exports.erase_client_exports(item.team_id, item.email)
    result = {"at": clock.iso(now), "dossiers_deleted": found["dossiers_deleted"],
              "documents_deleted": found["documents_deleted"], "exports_deleted": exports_deleted}
    if found["dossiers_deleted"] or exports_deleted:
        log.warning("erasure sweep of %s found what the erasure missed: %s", item.request_id, result)
    closed_at = clock.parse(item.completed_at)
    return _update(item, SWEEP, [PrivacyRequest.sweep.set(result), PrivacyRequest.chore.set(SCRUB),
                                 PrivacyRequest.chore_at.set(clock.iso(closed_at + pr.retention(item)))],
                   "erasure_swept", **result)


def scrub(item: PrivacyRequest, now: dt.datetime) -> int:
    # The export is a copy of the client's data: it doesn't outlive the request's pseudonymisation.
    exports.erase_export(item)
    pseudonym = item.email if item.email.startswith("h:") else _pseudonym(item)
    # A connected system's or owner's note may name the client: only the team's own reasons (skips) stay. The
    # last delivery error quotes the receiver's answer, which may name the client too: it goes for every task.
    tasks = {sid: {**task, "last_error": None,
                   **({"note": None} if actors.kind(task.get("answered_by")) in (actors.SYSTEM, actors.OWNER) else {})}
             for sid, task in (item.recipients or {}).items()}
    return _update(item, SCRUB, [
        *([PrivacyRequest.recipients.set(tasks)] if tasks else []),
        PrivacyRequest.email.set(pseudonym),
        PrivacyRequest.team_email.set(f"{item.team_id}#{pseudonym}"),
        PrivacyRequest.message.remove(),
        PrivacyRequest.note.remove(),
        PrivacyRequest.clarification_answer.remove(),  # the client's own words, like their message
        PrivacyRequest.appeal_reason.remove(),
        PrivacyRequest.pseudonymised_at.set(clock.iso(now)),
        PrivacyRequest.chore.remove(),
        PrivacyRequest.chore_at.remove(),
    ], "pseudonymised")


def _pseudonym(item: PrivacyRequest) -> str:
    """The address's keyed hash: the one the record's first entry holds, when it is this address's (after a
    token key rotation without PSEUDONYM_KEY today's hash differs, and the record would no longer match)."""
    first = (item.history or [None])[0]
    named = first.get("client") if isinstance(first, dict) else None
    return named if named in pr.client_hashes(item.email) else emails.pseudonym(item.email)


def _update(item: PrivacyRequest, chore: str, actions: list, event: str, /, **details) -> int:
    """The chore's changes and its history entry. Entries never hold the address, so pseudonymising rewrites
    none of them and the record still verifies."""
    try:
        pr.chained(item, lambda append: item.update(actions=actions + append.actions,
                                                    condition=(PrivacyRequest.chore == chore) & append.condition),
                   event, actors.service(), **details)
    except UpdateError as exc:
        if condition_failed(exc):
            return 0  # another run did it, or the request is gone (TTL)
        raise
    return 1
