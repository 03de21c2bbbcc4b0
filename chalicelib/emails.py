"""Client email addresses: only what SES can deliver and what can't change meaning on the way.

An address is accepted only as a plain ASCII addr-spec: no display name, no quoted local part, no RFC 2047
encoded word (`=?utf-8?q?=0a?=` decodes to a newline in some mail libraries), no non-ASCII local part (SES
destinations are 7-bit ASCII). An internationalised domain is kept in its ASCII (punycode) form, so
`a@exämple.fr` and `a@xn--exmple-cua.fr` are the same client. The stored form is the validator's
normalisation, lower-cased.

Plus-tags and dots are kept: `a.b+x@example.com` is another mailbox than `ab@example.com`, and erasing the
wrong person's data is the one thing this module must never do. Rate limits and email budgets, which protect
an inbox rather than identify a client, use `inbox()` instead, which drops the plus-tag."""
import re

from . import config, ids
from .errors import BadRequest

# What a stored address must look like, checked again by the mailer before any header is written.
PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
MAX_LENGTH = 254


def normalise(address: str, field: str = "email") -> str:
    if not isinstance(address, str):
        raise BadRequest(f"{field} must be a string", field=field)
    candidate = address.strip(" ")
    if "=?" in candidate:
        raise BadRequest(f"{field} must be a plain address: MIME encoded words (=?...?=) are not allowed",
                         field=field)
    if any(ord(c) < 0x20 or ord(c) == 0x7f for c in candidate):
        raise BadRequest(f"{field} must not contain control characters (line breaks, tabs, NUL)", field=field)
    from email_validator import EmailNotValidError, validate_email  # on first use: it weighs on cold starts

    try:
        local, _, _domain = candidate.rpartition("@")
        if any(ord(c) > 0x7f for c in local):
            raise BadRequest(f"{field}: the part before the @ must be plain ASCII; internationalised mailbox names "
                             "can't be delivered reliably, use the ASCII address of the mailbox", field=field)
        result = validate_email(candidate, check_deliverability=False, allow_smtputf8=False,
                                allow_quoted_local=False, allow_display_name=False, allow_domain_literal=False)
    except EmailNotValidError as exc:
        raise BadRequest(f"{field} is not a valid email address: {exc}", field=field) from None
    normalised = result.ascii_email.lower()
    if not deliverable(normalised):
        raise BadRequest(f"{field} is not a plain ASCII address SES can deliver to", field=field)
    return normalised


def deliverable(address: str) -> bool:
    """True for a plain ASCII addr-spec: safe as an SES destination and in a To header, whatever wrote it."""
    return isinstance(address, str) and len(address) <= MAX_LENGTH and "=?" not in address \
        and PLAIN_ADDRESS.fullmatch(address) is not None


def inbox(address: str) -> str:
    """The mailbox that receives mail for `address`: plus-tag dropped, case folded (for budgets, never identity)."""
    local, _, domain = address.lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def pseudonym(address: str) -> str:
    """A keyed hash standing for an address where the address itself isn't needed (keys, closed records)."""
    return "h:" + ids.keyed_hash(address, config.pseudonym_key())
