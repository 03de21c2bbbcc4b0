"""Erasure (Art. 17, seed §5): delete every dossier of this team created with the client's email.

The dossiers are found through the by_client index (team + normalised email), a Query, so another team's or
another client's dossier can't be reached. Each page is deleted in batches — S3 documents first (one
DeleteObjects per page), then the dossier items (BatchWriteItem) — and progress is saved after every page,
so a crash leaves the request `failed` with its counts and executing again finishes the remaining dossiers.
Deleting a dossier that is already gone is a no-op, so a page read twice can't delete anything else.
"""
from pynamodb.exceptions import PynamoDBException

from . import aws, config
from .dossiers import query_client
from .models import Dossier

BATCH = 25  # BatchWriteItem takes at most 25 items


class PurgeError(Exception):
    pass


def erase_client(team_id: str, email: str, progress: dict, on_progress, created_until: str | None = None) -> dict:
    """Delete the client's dossiers; `progress` holds counts from earlier attempts and is updated in place.

    `created_until` (ISO time) limits it to dossiers created by then: the follow-up sweep after an erasure
    must not delete a dossier the team opened for the same client after the erasure was done."""
    progress.setdefault("dossiers_deleted", 0)
    progress.setdefault("documents_deleted", 0)
    last_key = None
    while True:
        # Page on from the last key rather than re-reading the top: the index is eventually consistent, and a
        # just-deleted page could come back and be counted twice. A resumed execution starts from the top.
        results = query_client(team_id, email, last_key=last_key, limit=BATCH)
        page = [d for d in results if d.team_id == team_id  # belt and braces: never another team's item
                and (created_until is None or d.created_at <= created_until)]
        if page:
            _delete_page(page, progress)
            on_progress(dict(progress))
        last_key = results.last_evaluated_key
        if not last_key:
            return progress


def _delete_page(page: list[Dossier], progress: dict) -> None:
    keys = [doc.s3_key for d in page for doc in (d.documents or [])]
    for start in range(0, len(keys), 1000):
        chunk = keys[start:start + 1000]
        answer = aws.s3().delete_objects(Bucket=config.get("DOCUMENTS_BUCKET"),
                                         Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise PurgeError(f"S3 refused to delete {len(answer['Errors'])} document(s): {first.get('Code')}")
    try:
        with Dossier.batch_write() as batch:
            for dossier in page:
                batch.delete(dossier)
    except PynamoDBException as exc:
        raise PurgeError(f"DynamoDB refused to delete dossiers: {exc.msg}") from exc
    progress["dossiers_deleted"] += len(page)
    progress["documents_deleted"] += len(keys)
