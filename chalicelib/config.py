"""The stage's environment, read in one place.

Chalice copies a stage's `environment_variables` into os.environ; everything the code needs to know about
where it runs comes from here, so tests and the local stack only have to set variables.
"""
import os

DEFAULTS = {
    "STAGE": "local",
    "MEMBERS_TABLE": "privacy-desk-members",
    "SETTINGS_TABLE": "privacy-desk-settings",
    "DOSSIERS_TABLE": "privacy-desk-dossiers",
    "REQUESTS_TABLE": "privacy-desk-requests",
    "MARKERS_TABLE": "privacy-desk-markers",
    "DOCUMENTS_BUCKET": "privacy-desk-documents",
    "SENDER_EMAIL": "privacy@privacy-desk.example",
    "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
    "PORTAL_TAGGED_INBOX_PER_DAY": "10",
    # A closed request keeps the client's address and words this long, then only a keyed hash of the address.
    "CLOSED_REQUEST_RETENTION_DAYS": "30",
    "PORTAL_LIMIT_PER_IP_HOUR": "60",
    "BEARER_TOKEN_HOURS": "12",
    "LOG_HASH_KEY": "",
    # "raise": a failed record fails the batch (safe with plain `chalice deploy`); "report": return
    # batchItemFailures, only where the event source mapping has ReportBatchItemFailures.
    "STREAM_FAILURE_MODE": "raise",
}


def get(name: str) -> str:
    value = os.environ.get(name)
    if value:
        return value
    if name in DEFAULTS:
        return DEFAULTS[name]
    raise RuntimeError(f"environment variable {name} is not set for this stage")


def get_int(name: str) -> int:
    return int(get(name))


def stage() -> str:
    return get("STAGE")


def token_secret() -> str:
    # No default: a deployed stage without its own secret must fail loudly rather than sign with a known key.
    return get("TOKEN_SECRET")


def pseudonym_key() -> str:
    """Keys the hashes that stand for a client's address (rate limits, locks, pseudonymised records). It must
    outlive signing-key rotations, or objections and erased clients could no longer be recognised."""
    return get("PSEUDONYM_KEY") if os.environ.get("PSEUDONYM_KEY") else token_secret()


def public_url(path: str) -> str:
    return get("PUBLIC_BASE_URL").rstrip("/") + path
