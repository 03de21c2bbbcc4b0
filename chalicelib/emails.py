"""Client email addresses: syntax checked by email-validator, matched case-insensitively after trimming.

Plus-tags and dots are kept: `a.b+x@example.com` is another mailbox than `ab@example.com`, and erasing the
wrong person's data is the one thing this module must never do."""
from email_validator import EmailNotValidError, validate_email

from .errors import BadRequest


def normalise(address: str, field: str = "email") -> str:
    if not isinstance(address, str):
        raise BadRequest(f"{field} must be a string")
    candidate = address.strip()
    try:
        validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise BadRequest(f"{field} is not a valid email address: {exc}") from None
    return candidate.lower()
