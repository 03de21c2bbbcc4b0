"""Keep personal data and secrets out of logs.

Every log record is scrubbed as it is created: email addresses become a keyed hash (the same address always
maps to the same pseudonym, so support can still follow one client's trail) and signed tokens a placeholder.
Installed once by app.py, as logging's record factory, so no logger or handler can see the raw text."""
import logging
import re

from . import config, ids

EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
TOKEN = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")


def pseudonym(address: str) -> str:
    key = config.get("LOG_HASH_KEY") or config.token_secret()
    return "email:" + ids.keyed_hash(address.strip().lower(), key)[:16]


def scrub(text: str) -> str:
    text = TOKEN.sub("[token]", text)
    return EMAIL.sub(lambda m: pseudonym(m.group(0)), text)


class ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        cleaned = scrub(message)
        record.msg, record.args = cleaned, ()
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


_FILTER = ScrubFilter()


def install() -> None:
    """Scrub every record as it is created, whichever logger or handler it goes to (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_privacy_desk", False):
        return

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        _FILTER.filter(record)
        return record

    factory._privacy_desk = True
    logging.setLogRecordFactory(factory)
