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
    "SYSTEMS_TABLE": "privacy-desk-systems",
    "DOCUMENTS_BUCKET": "privacy-desk-documents",
    "EXECUTION_QUEUE": "privacy-desk-executions",
    "EXECUTION_LEASE_SECONDS": "360",
    # Seconds before each webhook retry (the Standard Webhooks schedule after the first attempt).
    "WEBHOOK_RETRY_SCHEDULE": "5,300,1800,7200,18000,36000,36000",
    "SENDER_EMAIL": "privacy@privacy-desk.example",
    "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
    "PORTAL_TAGGED_INBOX_PER_DAY": "10",
    # A closed request keeps the client's address and words this long, then only a keyed hash of the address.
    "CLOSED_REQUEST_RETENTION_DAYS": "30",
    "PORTAL_LIMIT_PER_IP_HOUR": "60",
    "BEARER_TOKEN_HOURS": "12",
    # The console's sessions (OWASP): ended after this long without a page, and after this long whatever happens.
    "CONSOLE_IDLE_MINUTES": "30",
    "CONSOLE_SESSION_HOURS": "8",
    "CONSOLE_SIGNIN_EMAILS_PER_HOUR": "5",
    "LOG_HASH_KEY": "",
    # "raise": a failed record fails the batch (safe with plain `chalice deploy`); "report": return
    # batchItemFailures, only where the event source mapping has ReportBatchItemFailures.
    "STREAM_FAILURE_MODE": "raise",
}


# The environment variable each table's name comes from, and the suffix of its deployed name (`<stack>-members`):
# the one place a table is named (the template, the local stack and the CLI all read it).
TABLE_SUFFIXES = {"MEMBERS_TABLE": "members", "SETTINGS_TABLE": "settings", "DOSSIERS_TABLE": "dossiers",
                  "REQUESTS_TABLE": "requests", "MARKERS_TABLE": "markers", "SYSTEMS_TABLE": "systems"}


def deployed_table_names(stack: str) -> dict[str, str]:
    return {variable: f"{stack}-{suffix}" for variable, suffix in TABLE_SUFFIXES.items()}


def get(name: str) -> str:
    value = os.environ.get(name)
    if value:
        return value
    if name in DEFAULTS:
        return DEFAULTS[name]
    raise RuntimeError(f"environment variable {name} is not set for this stage")


def optional(name: str) -> str | None:
    """A variable that may be left out (its absence turns a feature off)."""
    return os.environ.get(name) or None


def get_int(name: str) -> int:
    return int(get(name))


def stage() -> str:
    return get("STAGE")


class WeakSecret(RuntimeError):
    """The stage's TOKEN_SECRET is one anyone could know or guess: tokens signed with it can be forged."""


# Secrets committed to this repository (and their kin): whoever reads it could sign tokens with them.
PLACEHOLDER_SECRETS = {"replace-me-with-a-long-random-secret", "local-only-secret-not-for-deployment"}
PLACEHOLDER_MARKS = ("replace-me", "replace_me", "changeme", "change-me", "change_me", "not-for-deployment",
                     "placeholder")
MIN_SECRET_LENGTH = 32
MIN_DISTINCT_CHARACTERS = 10  # a hex secret has 16; "abab..." or "xxxx..." has 2 or 1


def weak_secret_reason(secret: str) -> str | None:
    lowered = secret.strip().lower()
    if lowered in PLACEHOLDER_SECRETS or any(mark in lowered for mark in PLACEHOLDER_MARKS):
        return "a placeholder (it is in the repository)"
    if len(secret) < MIN_SECRET_LENGTH:
        return f"shorter than {MIN_SECRET_LENGTH} characters"
    if len(set(secret)) < MIN_DISTINCT_CHARACTERS:
        return f"made of fewer than {MIN_DISTINCT_CHARACTERS} distinct characters"
    return None


def token_secret() -> str:
    """The key that signs built-in tokens now (with TOKEN_SECRET_ARN: the secret's current key, see
    signing_keys; TOKEN_SECRET is then never read)."""
    if optional("TOKEN_SECRET_ARN"):
        from . import signing_keys

        return signing_keys.current().key
    # No default: a deployed stage without its own secret must fail loudly rather than sign with a known key.
    # Checked at every use, not only at start-up, so no token is ever signed or checked with a weak one.
    return _strong("TOKEN_SECRET", get("TOKEN_SECRET"), "anyone could forge its tokens")


def log_hash_key() -> str:
    """The key of the pseudonyms in logs: LOG_HASH_KEY, else TOKEN_SECRET. A guessable key would let anyone
    with the logs hash candidate addresses and find who a pseudonym is."""
    own = get("LOG_HASH_KEY")
    return _strong("LOG_HASH_KEY", own, "its log pseudonyms could be reversed") if own else token_secret()


def strong_secret(name: str, secret: str, risk: str) -> str:
    """`secret`, unless it is weak outside the local stage (WeakSecret)."""
    return _strong(name, secret, risk)


def _strong(name: str, secret: str, risk: str) -> str:
    if stage() != "local":
        reason = weak_secret_reason(secret)
        if reason:
            raise WeakSecret(f"{name} of stage {stage()} is {reason}: {risk}. Set a long random one: "
                             "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'")
    return secret


def check_lambda_start() -> None:
    """Inside AWS Lambda, refuse to start rather than serve forgeable tokens.

    Only there: `chalice package` and `chalice deploy` import app.py on the deployer's machine with the
    committed placeholder, and must keep working; the secret is written into the stage at deploy time."""
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return
    if stage() == "local":  # also when STAGE is unset: its secret is in the repository, its /_dev routes open
        raise RuntimeError("the local stage (STAGE unset or 'local') must not run in AWS Lambda: deploy dev or "
                           "prod, with STAGE set")
    token_secret()
    log_hash_key()


def pseudonym_key() -> str:
    """Keys the hashes that stand for a client's address (rate limits, locks, pseudonymised records). It must
    outlive signing-key rotations, or objections and erased clients could no longer be recognised."""
    return get("PSEUDONYM_KEY") if os.environ.get("PSEUDONYM_KEY") else token_secret()


def public_url(path: str) -> str:
    return get("PUBLIC_BASE_URL").rstrip("/") + path
