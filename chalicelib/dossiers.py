"""Client dossiers and their documents (seed: "every client dossier created with the client's email").

A dossier's consent record is the team's proof of consent (Art. 7(1)): which wording (version and hash),
when, and from where (source IP, user agent). Documents live in S3 under the team's and dossier's prefix,
encrypted at rest; the dossier item lists them so a purge knows exactly what to delete.
"""
import base64
import binascii

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from . import aws, clock, config, emails, ids, schemas
from .db import cancelled_by_condition, check_cursor, condition_failed, connection, transaction_conflict
from .errors import BadRequest, Conflict, NotFound, Unprocessable
from .models import Dossier, DocumentRef, Marker, TeamSettings
from .settings import consent_text_hash
from .teams import require_team

MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
PAGE_SIZE = 50


def team_email_key(team_id: str, email: str) -> str:
    return f"{team_id}#{email}"


def document_key(team_id: str, dossier_id: str, document_id: str) -> str:
    return f"teams/{team_id}/dossiers/{dossier_id}/documents/{document_id}"


def opt_out_marker_key(team_id: str, email: str) -> str:
    return f"optout#{team_id}#{emails.pseudonym(email)}"


def objection_marker_key(team_id: str, email: str) -> str:
    # Kept as long as the objection holds, so it names the client by a keyed hash, never by address.
    return f"objection#{team_id}#{emails.pseudonym(email)}"


def view(d: Dossier) -> dict:
    return {
        "dossier_id": d.dossier_id,
        "team_id": d.team_id,
        "client_email": d.client_email,
        "title": d.title,
        "fields": d.fields or {},
        "consent": d.consent,
        "documents": [document_view(doc) for doc in (d.documents or [])],
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "restricted": bool(d.restricted),
        "objection": d.objection,
        "opt_out": d.opt_out,
    }


def document_view(doc: DocumentRef) -> dict:
    return {"document_id": doc.document_id, "filename": doc.filename, "size": int(doc.size),
            "uploaded_at": doc.uploaded_at}


def create_dossier(team_id: str, body, caller: dict) -> dict:
    """`caller` has member_id, source_ip, user_agent: who created it and where the consent came from."""
    data = schemas.validate("dossier_create", body)
    settings = require_team(team_id)
    client_email = emails.normalise(data["client_email"], "client_email")
    stamp = clock.iso(clock.now())
    consent = None
    accepted = bool(data.get("consent", {}).get("accepted"))
    if settings.consent_capture_enabled:
        if not accepted:
            raise Unprocessable("this team captures consent: consent.accepted must be true",
                                field="body.consent.accepted")
        shown = data.get("consent", {}).get("version")
        if shown is not None and shown != int(settings.consent_version or 0):
            raise Conflict(f"the client accepted consent version {shown}, but version "
                           f"{int(settings.consent_version or 0)} is current: show them the new wording",
                           field="body.consent.version")
        consent = {
            "accepted": True,
            "version": int(settings.consent_version or 0),
            "text_sha256": consent_text_hash(settings.consent_text),
            "accepted_at": stamp,
            "source_ip": caller.get("source_ip"),
            "user_agent": caller.get("user_agent"),
            "withdrawn_at": None,
        }
    objection, opt_out = _standing_choices(team_id, client_email)
    dossier = Dossier(team_id, ids.new_id("d_"), team_email=team_email_key(team_id, client_email),
                      client_email=client_email, title=data["title"], fields=data.get("fields") or {},
                      consent=consent, documents=[], created_at=stamp, created_by=caller.get("member_id"),
                      objection=objection, opt_out=opt_out)
    if consent is None:
        dossier.save(condition=Dossier.dossier_id.does_not_exist())
        return view(dossier)
    # The recorded consent version must be the one in force at write time: check it in the same transaction.
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.condition_check(TeamSettings, team_id, condition=TeamSettings.consent_version == consent["version"])
            tx.save(dossier, condition=Dossier.dossier_id.does_not_exist())
    except TransactWriteError as exc:
        if not (cancelled_by_condition(exc) or transaction_conflict(exc)):
            raise
        raise Conflict("the team's consent wording changed while saving; reload and try again") from None
    return view(dossier)


def _standing_choices(team_id: str, client_email: str) -> tuple[dict | None, dict | None]:
    """The client's objection (Art. 21) and opt-out of sale/sharing (CCPA §1798.120), which every new dossier
    of theirs records: one read for both."""
    keys = {objection_marker_key(team_id, client_email): "objected_at", opt_out_marker_key(team_id, client_email): "opted_out_at"}
    found = {m.pk: {keys[m.pk]: m.created_at, "request_id": m.value} for m in Marker.batch_get(list(keys))}
    objection, opt_out = (found.get(key) for key in keys)
    return objection, opt_out


def get_dossier_item(team_id: str, dossier_id: str) -> Dossier:
    if not ids.plausible(dossier_id):
        raise NotFound("dossier does not exist")
    try:
        return Dossier.get(team_id, dossier_id)
    except DoesNotExist:
        raise NotFound(f"dossier {dossier_id} does not exist in team {team_id}") from None


def get_dossier(team_id: str, dossier_id: str) -> dict:
    require_team(team_id)
    return view(get_dossier_item(team_id, dossier_id))


def query_client(team_id: str, client_email: str, last_key=None, limit: int | None = None):
    """The client's dossiers in this team, through the by_client index (a Query, never a Scan)."""
    return Dossier.by_client.query(team_email_key(team_id, client_email), last_evaluated_key=last_key,
                                   limit=limit)


def count_client_dossiers(team_id: str, client_email: str) -> int:
    return Dossier.by_client.count(team_email_key(team_id, client_email))


def list_dossiers(team_id: str, client_email: str | None, cursor: dict | None) -> dict:
    require_team(team_id)
    if client_email is not None:
        return _client_page(team_id, emails.normalise(client_email, "client_email"), cursor, "next")
    check_cursor(cursor, {"team_id": team_id}, ("dossier_id",))
    results = Dossier.query(team_id, last_evaluated_key=cursor, limit=PAGE_SIZE, scan_index_forward=False)
    return {"items": [view(d) for d in results], "next_key": results.last_evaluated_key}


def search_dossiers(team_id: str, body, read_cursor) -> dict:
    """The client filter of list_dossiers with the address in the body: a URL's query string lands in access
    logs. `read_cursor(token, field)` decodes the body's `next` (the HTTP layer's cursor format)."""
    data = schemas.validate("dossier_search", body)
    require_team(team_id)
    try:
        address = emails.normalise(data["client_email"], "body.client_email")
    except BadRequest as exc:
        raise BadRequest(exc.message, field="body.client_email") from None
    return _client_page(team_id, address, read_cursor(data.get("next"), "body.next"), "body.next")


def _client_page(team_id: str, address: str, cursor: dict | None, cursor_field: str) -> dict:
    # The cursor holds the address (the index key): it may only continue this client's list.
    check_cursor(cursor, {"team_id": team_id, "team_email": team_email_key(team_id, address)}, ("dossier_id",),
                 field=cursor_field)
    results = query_client(team_id, address, last_key=cursor, limit=PAGE_SIZE)
    return {"items": [view(d) for d in results], "next_key": results.last_evaluated_key}


def update_dossier(team_id: str, dossier_id: str, body) -> dict:
    changes = schemas.validate("dossier_patch", body)
    require_team(team_id)
    dossier = get_dossier_item(team_id, dossier_id)
    actions = [Dossier.updated_at.set(clock.iso(clock.now()))]
    if "title" in changes:
        actions.append(Dossier.title.set(changes["title"]))
    if "fields" in changes:
        actions.append(Dossier.fields.set(changes["fields"]))
    try:
        dossier.update(actions=actions, condition=Dossier.dossier_id.exists() & _not_restricted())
    except UpdateError as exc:
        if condition_failed(exc):
            _raise_write_refused(team_id, dossier_id)
        raise
    return view(dossier)


def _not_restricted():
    return Dossier.restricted.does_not_exist() | (Dossier.restricted == False)  # noqa: E712


def _raise_write_refused(team_id: str, dossier_id: str):
    current = get_dossier_item(team_id, dossier_id)  # raises NotFound if it was deleted meanwhile
    if current.restricted:
        raise Conflict(f"dossier {dossier_id} is restricted (GDPR Art. 18): writes are refused until the "
                       "restriction is lifted")
    raise Conflict(f"dossier {dossier_id} changed while saving; try again")


def add_document(team_id: str, dossier_id: str, body) -> dict:
    data = schemas.validate("document_create", body)
    require_team(team_id)
    try:
        content = base64.b64decode(data["content_base64"], validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("content_base64 is not valid base64", field="body.content_base64") from None
    if len(content) > MAX_DOCUMENT_BYTES:
        raise BadRequest(f"the document is larger than {MAX_DOCUMENT_BYTES} bytes", field="body.content_base64")
    dossier = get_dossier_item(team_id, dossier_id)
    if dossier.restricted:
        _raise_write_refused(team_id, dossier_id)
    document_id = ids.new_id("doc_")
    key = document_key(team_id, dossier_id, document_id)
    aws.s3().put_object(Bucket=config.get("DOCUMENTS_BUCKET"), Key=key, Body=content,
                        ServerSideEncryption="AES256",
                        ContentType=data.get("content_type") or "application/octet-stream")
    ref = DocumentRef(document_id=document_id, filename=data["filename"], s3_key=key, size=len(content),
                      uploaded_at=clock.iso(clock.now()))
    try:
        dossier.update(actions=[Dossier.documents.set(Dossier.documents.append([ref]))],
                       condition=Dossier.dossier_id.exists() & _not_restricted())
    except UpdateError as exc:
        # The dossier vanished (purged) or got restricted meanwhile: don't leave an orphan object behind.
        aws.s3().delete_object(Bucket=config.get("DOCUMENTS_BUCKET"), Key=key)
        if condition_failed(exc):
            _raise_write_refused(team_id, dossier_id)
        raise
    return {"document_id": document_id, "dossier_id": dossier_id, "filename": ref.filename, "size": len(content),
            "uploaded_at": ref.uploaded_at}


# --- what executed requests do to a client's dossiers -----------------------------------------------------------

def all_client_dossiers(team_id: str, client_email: str):
    last = None
    while True:
        page = query_client(team_id, client_email, last_key=last, limit=100)
        for dossier in page:
            if dossier.team_id == team_id:
                yield dossier
        last = page.last_evaluated_key
        if not last:
            return


def _update_each(team_id: str, client_email: str, actions_for) -> int:
    """Apply `actions_for(dossier)` (None to skip) to each of the client's dossiers; returns how many changed.

    Each update is conditional on the dossier still existing, so one purged meanwhile is skipped, not recreated."""
    count = 0
    for dossier in all_client_dossiers(team_id, client_email):
        actions = actions_for(dossier)
        if not actions:
            continue
        try:
            dossier.update(actions=actions, condition=Dossier.dossier_id.exists())
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
            continue
        count += 1
    return count


def set_restricted(team_id: str, client_email: str, restricted: bool) -> int:
    """Art. 18: mark (or unmark) every dossier of the client; idempotent."""
    return _update_each(team_id, client_email, lambda d: [
        Dossier.restricted.set(True) if restricted else Dossier.restricted.remove()])


def record_objection(team_id: str, client_email: str, request_id: str) -> int:
    """Art. 21: remember the objection for the email (future dossiers record it) and mark existing dossiers."""
    stamp = clock.iso(clock.now())
    Marker(objection_marker_key(team_id, client_email), value=request_id, created_at=stamp).save()
    objection = {"objected_at": stamp, "request_id": request_id}
    return _update_each(team_id, client_email, lambda d: [Dossier.objection.set(objection)])


def record_opt_out(team_id: str, client_email: str, request_id: str) -> int:
    """CCPA §1798.120 (and the state laws' like rights): the client's data is no longer sold or shared, which
    every dossier of theirs, present and future, records for the team's other systems to read."""
    stamp = clock.iso(clock.now())
    Marker(opt_out_marker_key(team_id, client_email), value=request_id, created_at=stamp).save()
    opt_out = {"opted_out_at": stamp, "request_id": request_id}
    return _update_each(team_id, client_email, lambda d: [Dossier.opt_out.set(opt_out)])


def withdraw_consent(team_id: str, client_email: str) -> int:
    """Art. 7(3): stamp `withdrawn_at` on every consent record of the client (kept as proof of what was given)."""
    stamp = clock.iso(clock.now())

    def stamp_consent(dossier):
        if not dossier.consent or dossier.consent.get("withdrawn_at"):
            return None
        return [Dossier.consent.set(dict(dossier.consent, withdrawn_at=stamp))]

    return _update_each(team_id, client_email, stamp_consent)
