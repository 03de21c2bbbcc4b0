"""Sending email through SES (v1 SendRawEmail: one MIME message with a plain-text and an HTML part)."""
from email.message import EmailMessage

from . import aws, config


def build(to: list[str], subject: str, text: str, html: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = config.get("SENDER_EMAIL")
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def send(to: list[str], subject: str, text: str, html: str) -> str:
    message = build(to, subject, text, html)
    answer = aws.ses().send_raw_email(Source=config.get("SENDER_EMAIL"), Destinations=to,
                                      RawMessage={"Data": message.as_bytes()})
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
