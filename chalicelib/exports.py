"""Access (Art. 15) and portability (Art. 20) exports: one zip per request, encrypted in S3.

The zip holds `data.json` (structured and machine-readable: dossiers, fields, consent records, documents),
`data.csv` (one row per dossier field, with formula-like cells made inert) and the documents themselves. The access export also carries the
Art. 15(1) information the team configured. The client's email links to a stable URL that checks its token
and redirects to a fresh presigned URL, so the emailed link can live 30 days while S3 URLs live minutes.
"""
import csv
import io
import json
import zipfile

from . import aws, clock, config, tokens
from .dossiers import all_client_dossiers
from .errors import NotFound
from .settings import view as settings_view
from .teams import require_team

PRESIGNED_SECONDS = 300


def export_key(team_id: str, request_id: str) -> str:
    return f"exports/{team_id}/{request_id}.zip"


def build(item, progress: dict) -> dict:
    """Write the export of the request's client; returns the result counts."""
    team = require_team(item.team_id)
    settings = settings_view(team)
    dossiers = list(all_client_dossiers(item.team_id, item.email))
    bucket = config.get("DOCUMENTS_BUCKET")
    buffer = io.BytesIO()
    documents = 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        entries = []
        for dossier in dossiers:
            docs = []
            for doc in dossier.documents or []:
                path = f"documents/{dossier.dossier_id}/{doc.document_id}-{doc.filename}"
                body = aws.s3().get_object(Bucket=bucket, Key=doc.s3_key)["Body"].read()
                archive.writestr(path, body)
                docs.append({"document_id": doc.document_id, "filename": doc.filename, "size": int(doc.size),
                             "uploaded_at": doc.uploaded_at, "path": path})
                documents += 1
            entries.append({
                "dossier_id": dossier.dossier_id, "title": dossier.title, "created_at": dossier.created_at,
                "updated_at": dossier.updated_at, "fields": dossier.fields or {}, "consent": dossier.consent,
                "restricted": bool(dossier.restricted), "objection": dossier.objection, "documents": docs,
            })
        payload = {
            "format": "privacy-desk-export/1",
            "type": item.type,
            "generated_at": clock.iso(clock.now()),
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
        archive.writestr("data.json", json.dumps(payload, indent=2, ensure_ascii=False))
        archive.writestr("data.csv", _csv(entries))
    key = export_key(item.team_id, item.request_id)
    aws.s3().put_object(Bucket=bucket, Key=key, Body=buffer.getvalue(), ServerSideEncryption="AES256",
                        ContentType="application/zip")
    progress.update(export_key=key)
    return {"dossiers": len(entries), "documents": documents, "bytes": len(buffer.getvalue())}


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


def download_url(token: str) -> str:
    """A fresh short-lived S3 URL for the export the token names (raises TokenError once it expired)."""
    from .privacy_requests import get_item

    claims = tokens.read(token, tokens.EXPORT)
    item = get_item(claims["team"], claims["req"])
    if not item.result or item.type not in ("access", "portability"):
        raise NotFound("this export does not exist")
    if item.export_erased_at:
        raise tokens.TokenError("the client's data was erased since this export was made", "export_expired")
    return aws.s3().generate_presigned_url(
        "get_object", ExpiresIn=PRESIGNED_SECONDS,
        Params={"Bucket": config.get("DOCUMENTS_BUCKET"), "Key": export_key(item.team_id, item.request_id),
                "ResponseContentDisposition": f'attachment; filename="privacy-export-{item.request_id}.zip"'})


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
    """Delete one request's export and kill its link (idempotent); True if there was one to delete."""
    from .models import PrivacyRequest

    if request.type not in ("access", "portability") or not request.result or request.export_erased_at:
        return False
    aws.s3().delete_object(Bucket=config.get("DOCUMENTS_BUCKET"), Key=export_key(request.team_id, request.request_id))
    request.update(actions=[PrivacyRequest.export_erased_at.set(clock.iso(clock.now()))])
    return True
