"""Erasure (Art. 17, seed §5): delete every dossier of this team created with the client's email.

The dossiers are found through the by_client index (team + normalised email), a Query, so another team's or
another client's dossier can't be reached. Each page of 25 is deleted in batches — S3 documents first (one
DeleteObjects per page), then the dossier items (BatchWriteItem) — so it costs ~4 calls per 25 dossiers
whatever the table's size, and holds one page in memory.

Progress is exact and resumable from any crash. Before a page is deleted, one progress write commits the
previous page's counts and names this page as "in flight" (its ids and document count) with the cursor past
it. A run that finds a page in flight finishes it (deleting again is a no-op) and counts it once. So a slice
cut short, a killed Lambda or a redelivered message never counts a dossier twice nor skips one, and the next
slice carries on from the saved cursor instead of re-reading pages the index may still show.
"""
from pynamodb.exceptions import PynamoDBException

from . import aws, config
from .dossiers import query_client
from .models import Dossier

BATCH = 25  # BatchWriteItem takes at most 25 items


class PurgeError(Exception):
    pass


def erase_client(team_id: str, email: str, progress: dict, on_progress, created_until: str | None = None,
                 should_stop=lambda: False) -> bool:
    """Delete the client's dossiers; `progress` (counts, cursor, page in flight) is updated in place and saved
    with `on_progress` before every page. Returns True once none is left, False when `should_stop()` said to
    stop between pages (progress saved: call again to carry on).

    `created_until` (ISO time) limits it to dossiers created by then: the follow-up sweep after an erasure
    must not delete a dossier the team opened for the same client after the erasure was done."""
    progress.setdefault("dossiers_deleted", 0)
    progress.setdefault("documents_deleted", 0)
    if progress.get("in_flight"):
        _finish_in_flight(team_id, progress["in_flight"])
    last_key = progress.get("cursor")
    while True:
        results = query_client(team_id, email, last_key=last_key, limit=BATCH)
        page = [d for d in results if d.team_id == team_id  # belt and braces: never another team's item
                and (created_until is None or d.created_at <= created_until)]
        last_key = results.last_evaluated_key
        keys = [doc.s3_key for d in page for doc in (d.documents or [])]
        _commit(progress)
        if page:
            progress["in_flight"] = {"ids": [d.dossier_id for d in page], "documents": len(keys)}
        progress["cursor"] = last_key
        if page or not last_key:
            on_progress(dict(progress))
        if page:
            _delete(page, keys)
        if not last_key:
            _commit(progress)
            progress.pop("cursor", None)
            return True
        if should_stop():
            _commit(progress)  # this page is gone: the saved progress need not re-check it
            return False


def _commit(progress: dict) -> None:
    """Count the page in flight as done (it was deleted, or is being finished now)."""
    flight = progress.pop("in_flight", None)
    if flight:
        progress["dossiers_deleted"] += len(flight["ids"])
        progress["documents_deleted"] += int(flight["documents"])


def _finish_in_flight(team_id: str, flight: dict) -> None:
    """A page whose deletion may have been cut short: delete what is left of it (a no-op for what is gone).

    Documents go before their dossier item, so a dossier still present still lists every document left."""
    remaining = list(Dossier.batch_get([(team_id, dossier_id) for dossier_id in flight["ids"]],
                                       consistent_read=True))
    _delete(remaining, [doc.s3_key for d in remaining for doc in (d.documents or [])])


def _delete(page: list[Dossier], keys: list[str]) -> None:
    for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
        chunk = keys[start:start + 1000]
        answer = aws.s3().delete_objects(Bucket=config.get("DOCUMENTS_BUCKET"),
                                         Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise PurgeError(f"S3 refused to delete {len(answer['Errors'])} document(s): {first.get('Code')}")
    if not page:
        return
    try:
        with Dossier.batch_write() as batch:
            for dossier in page:
                batch.delete(dossier)
    except PynamoDBException as exc:
        raise PurgeError(f"DynamoDB refused to delete dossiers: {exc.msg}") from exc
