"""Access (Art. 15) and portability (Art. 20) exports: one zip per request, encrypted in S3.

The zip holds `data.json` (structured and machine-readable: dossiers, fields, consent records, documents),
`data.csv` (one row per dossier field, with formula-like cells made inert) and the documents themselves. The access export also carries the
Art. 15(1) information the team configured. The client's email links to a stable URL that checks its token
and redirects to a fresh presigned URL, so the emailed link can live 30 days while S3 URLs live minutes.

Any client, any size (issue 8): the zip is streamed into S3 part by part by `s3zip` (its docstring says how,
and why with the stdlib's zipfile rather than a streaming-zip library), documents stored as they are, data.json
and data.csv deflated. The build runs in slices: it stops when `should_stop()` says so after a part, and the
next call goes on from `progress`. What the zip holds is decided once, by the first slice (`_plan`): dossiers
edited meanwhile don't mix two moments into one archive.
"""
import csv
import io
import json
from typing import Callable

from . import aws, clock, config, languages, regimes, s3zip, templating, tokens
from .dossiers import all_client_dossiers
from .errors import NotFound
from .settings import view as settings_view
from .teams import require_team

PRESIGNED_SECONDS = 300
OBJECT_HEADERS = {"ServerSideEncryption": "AES256", "ContentType": "application/zip"}


def export_key(team_id: str, request_id: str) -> str:
    return f"exports/{team_id}/{request_id}.zip"


def work_prefix(team_id: str, request_id: str) -> str:
    """Where an unfinished export keeps what a later slice needs (deleted once the zip is complete)."""
    return f"exports/{team_id}/{request_id}.work/"


def build(item, progress: dict, on_progress: Callable[[dict], None], should_stop: Callable[[], bool]) -> dict | None:
    """Write (or go on writing) the export of the request's client.

    Returns the result counts once the zip is complete, or None when `should_stop()` asked to stop; `progress`
    then holds what the next call needs and was passed to `on_progress` (after every uploaded part, too)."""
    key = export_key(item.team_id, item.request_id)

    def save(state: dict) -> None:
        progress.update(export_key=key, zip=state)
        on_progress(progress)

    written = s3zip.write(bucket=config.get("DOCUMENTS_BUCKET"), key=key,
                          work=work_prefix(item.team_id, item.request_id), state=progress.get("zip"),
                          make_plan=lambda: _plan(item), save=save, should_stop=should_stop,
                          headers=OBJECT_HEADERS)
    if written is None:
        return None
    progress.update(export_key=key)
    return {"dossiers": written["dossiers"], "documents": written["documents"], "bytes": written["bytes"]}


def _plan(item) -> s3zip.Plan:
    """What the zip holds: every document of the client's dossiers, then data.json and data.csv."""
    team = require_team(item.team_id)
    settings = settings_view(team)
    generated = clock.now()
    entries, stored = [], []
    for dossier in all_client_dossiers(item.team_id, item.email):
        docs = []
        for doc in dossier.documents or []:
            path = f"documents/{dossier.dossier_id}/{doc.document_id}-{doc.filename}"
            stored.append((path, doc.s3_key, int(doc.size)))
            docs.append({"document_id": doc.document_id, "filename": doc.filename, "size": int(doc.size),
                         "uploaded_at": doc.uploaded_at, "path": path})
        entries.append({
            "dossier_id": dossier.dossier_id, "title": dossier.title, "created_at": dossier.created_at,
            "updated_at": dossier.updated_at, "fields": dossier.fields or {}, "consent": dossier.consent,
            "restricted": bool(dossier.restricted), "objection": dossier.objection, "documents": docs,
        })
    payload = {
        "format": "privacy-desk-export/1",
        "type": item.type,
        "generated_at": clock.iso(generated),
        "controller": {"team_id": item.team_id, "team_name": team.team_name},
        "data_subject": {"email": item.email},
        "request": {"request_id": item.request_id, "received_at": item.received_at},
        "dossiers": entries,
    }
    if item.type == "access":
        payload["information"] = {  # Art. 15(1)(a)–(h), as the team configured it
            "purposes": settings["processing_purposes"],
            "recipients": settings["data_recipients"],
            "retention_period": settings["retention_period"],
            "right_to_complain": settings["supervisory_authority"],
            "rights": ["rectification", "erasure", "restriction", "objection", "complaint"],
            "source": "collected from you through the team's client portal",
        }
    deflated = {"data.json": json.dumps(payload, indent=2, ensure_ascii=False).encode(),
                "data.csv": _csv(entries).encode()}
    if item.type == "access":  # the same information for a person to read, in the client's language
        locale = languages.for_client(item.locale, item.accept_language, team)
        deflated["information.txt"] = templating.render(
            "export/information.txt", locale, team_name=team.team_name or item.team_id,
            info=payload["information"], **regimes.citations(item.regime)).encode()
    return s3zip.Plan(stored=stored, deflated=deflated, time=generated.timetuple()[:6],
                      meta={"dossiers": len(entries), "documents": len(stored)})


def _csv(entries: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["dossier_id", "title", "created_at", "field", "value"])
    for entry in entries:
        if not entry["fields"]:
            writer.writerow(_inert([entry["dossier_id"], entry["title"], entry["created_at"], "", ""]))
        for name, value in entry["fields"].items():
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            writer.writerow(_inert([entry["dossier_id"], entry["title"], entry["created_at"], name, shown]))
    return out.getvalue()


# A spreadsheet opening data.csv runs a cell that starts with one of these as a formula (=HYPERLINK, @SUM,
# +cmd|...): OWASP's advice is a leading single quote, which shows the text and runs nothing. Full-width signs
# are included because some spreadsheet locales fold them into their ASCII forms. data.json stays exact.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _inert(cells: list[str]) -> list[str]:
    return ["'" + cell if cell.startswith(_FORMULA_STARTS) else cell for cell in cells]


def link_token(item) -> str:
    return tokens.sign(tokens.EXPORT, {"team": item.team_id, "req": item.request_id})


def linked_export(token: str):
    """(request item, token claims) of the export a link names: raises TokenError once it expired or was erased."""
    from .privacy_requests import get_item

    claims = tokens.read(token, tokens.EXPORT)
    item = get_item(claims["team"], claims["req"])
    if not item.result or item.type not in ("access", "portability"):
        raise NotFound("this export does not exist")
    if item.export_erased_at:
        raise tokens.TokenError("the client's data was erased since this export was made", "export_expired")
    return item, claims


def file_name(request_id: str) -> str:
    return f"privacy-export-{request_id}.zip"


def download_url(token: str) -> str:
    """A fresh short-lived S3 URL for the export the token names (raises TokenError once it expired)."""
    item, _ = linked_export(token)
    return aws.s3().generate_presigned_url(
        "get_object", ExpiresIn=PRESIGNED_SECONDS,
        Params={"Bucket": config.get("DOCUMENTS_BUCKET"), "Key": export_key(item.team_id, item.request_id),
                "ResponseContentDisposition": f'attachment; filename="{file_name(item.request_id)}"'})


def erase_client_exports(team_id: str, email: str) -> int:
    """Erasure covers copies too: delete the client's earlier exports and stop their links from working."""
    from .models import PrivacyRequest

    erased = 0
    # A pseudonymised request no longer has its export (housekeeping.scrub deletes it), so the address finds all.
    for request in PrivacyRequest.by_requester.query(f"{team_id}#{email}"):
        if request.team_id == team_id:
            erased += erase_export(request)
    return erased


def erase_export(request) -> bool:
    """Delete one request's export and kill its link (idempotent); True if there was one to delete.

    An unfinished export is a copy too: its multipart upload (parts are invisible but stored) is aborted and its
    work objects deleted. If it is executed again, it finds its upload gone and starts over from today's data."""
    from .models import PrivacyRequest

    if request.type not in ("access", "portability") or request.export_erased_at:
        return False
    if not request.result:
        return s3zip.discard(config.get("DOCUMENTS_BUCKET"), export_key(request.team_id, request.request_id),
                             work_prefix(request.team_id, request.request_id), (request.progress or {}).get("zip"))
    aws.s3().delete_object(Bucket=config.get("DOCUMENTS_BUCKET"), Key=export_key(request.team_id, request.request_id))
    request.update(actions=[PrivacyRequest.export_erased_at.set(clock.iso(clock.now()))])
    return True
