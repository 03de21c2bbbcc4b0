"""Keep personal data and secrets out of logs.

Every log record passes through a filter that replaces email addresses with a keyed hash (the same address
always maps to the same pseudonym, so support can still follow one client's trail) and signed tokens with
a placeholder. Installed once by app.py on the root logger, which is where Lambda's handler writes."""
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
    """Attach the filter to the root logger's handlers and to the root logger itself (idempotent)."""
    root = logging.getLogger()
    for target in [root, *root.handlers]:
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)
    logging.setLogRecordFactory(_scrubbing_factory(logging.getLogRecordFactory()))


def _scrubbing_factory(previous):
    if getattr(previous, "_privacy_desk", False):
        return previous

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        _FILTER.filter(record)
        return record

    factory._privacy_desk = True
    return factory
