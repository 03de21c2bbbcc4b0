"""Sending email through SES (v1 SendRawEmail: one MIME message with a plain-text and an HTML part).

Headers are written by this module alone, from values it checks itself, so the message can't depend on the
interpreter's email package getting header folding right (CPython's CVE-2024-6923 let an encoded newline in
an address add a `Bcc:`): the recipient must be a plain ASCII addr-spec, the subject is stripped of control
and format characters and sent as RFC 2047 base64 words, bodies are base64. The finished message is parsed
back and refused unless its headers are exactly the ones written here.

A message that can never be sent (a bad address, a message SES rejects as invalid) raises PermanentSendError;
the stream handler records it on the request instead of retrying it forever."""
import base64
import unicodedata
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate

from botocore.exceptions import ClientError

from . import aws, config, emails

HEADERS = ("From", "To", "Subject", "Date", "MIME-Version", "Content-Type")
# SES answers these for the message itself (a bad address, content it refuses): retrying can't help.
PERMANENT_SES_CODES = {"MessageRejected", "InvalidParameterValue"}


class PermanentSendError(Exception):
    """This message can never be sent as it is; retrying would only block other messages."""


def clean_subject(subject: str) -> str:
    """One line of printable text: control, format (bidi) and separator characters become spaces."""
    shown = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs") else c for c in subject)
    return " ".join(shown.split())[:400]


def encode_subject(subject: str) -> str:
    text = clean_subject(subject)
    # Text that looks like an encoded word (=?...?=) is encoded too: written as is, mail clients would decode
    # it and show what clean_subject removed (line breaks, text-direction overrides).
    if text.isascii() and "=?" not in text:
        return text
    # Base64 words of at most 45 bytes of UTF-8 each (60 encoded characters), never splitting a character.
    words, chunk = [], b""
    for char in text:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > 45:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return " ".join(f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words if w)


def build(to: list[str], subject: str, text: str, html: str) -> bytes:
    sender = config.get("SENDER_EMAIL")
    for address in [sender, *to]:
        if not emails.deliverable(address):
            raise PermanentSendError("a recipient or sender is not a plain ASCII address")
    message = MIMEMultipart("alternative")
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = encode_subject(subject)
    message["Date"] = formatdate(usegmt=True)
    message.attach(MIMEText(text, "plain", "utf-8"))
    message.attach(MIMEText(html, "html", "utf-8"))
    raw = message.as_bytes()
    check_headers(raw)
    return raw


def check_headers(raw: bytes) -> None:
    """Refuse a message whose top-level headers are not exactly those this module wrote."""
    head = raw.split(b"\n\n", 1)[0].replace(b"\r\n", b"\n")
    names = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            continue  # a folded continuation of the previous header
        name, colon, _ = line.partition(b":")
        if not colon:
            raise PermanentSendError("the message's header block has a line that is not a header")
        names.append(name.decode("ascii", "replace"))
    if sorted(names) != sorted(HEADERS):
        raise PermanentSendError(f"the message's headers are not the expected ones: {sorted(names)}")


def send(to: list[str], subject: str, text: str, html: str) -> str:
    raw = build(to, subject, text, html)
    try:
        answer = aws.ses().send_raw_email(Source=config.get("SENDER_EMAIL"), Destinations=to,
                                          RawMessage={"Data": raw})
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in PERMANENT_SES_CODES:
            raise PermanentSendError(f"SES refused the message: {code}") from exc
        raise
    return answer["MessageId"]


def parse(raw: str | bytes) -> dict:
    """The inverse of build(), for the local outbox and tests."""
    import email
    from email import policy

    parsed = email.message_from_bytes(raw if isinstance(raw, bytes) else raw.encode(), policy=policy.default)
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    return {
        "to": [a.strip() for a in str(parsed["To"]).split(",")],
        "subject": " ".join(str(parsed["Subject"]).split()),  # long subjects come back folded
        "text": text.get_content() if text else "",
        "html": html.get_content() if html else "",
    }
