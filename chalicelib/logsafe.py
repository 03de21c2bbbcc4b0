"""Keep personal data and secrets out of logs.

Every log record is scrubbed as it is created: email addresses become a keyed hash (the same address always
maps to the same pseudonym, so support can still follow one client's trail) and signed tokens a placeholder.
Installed once by app.py, as logging's record factory, so no logger or handler can see the raw text.

A record keeps its `msg` and `args` apart, with the same shape: other libraries' filters read `record.args`
(Chalice's LargeRequestBodyFilter reads `args[0].name` and replaces the last argument), so only the arguments
that show personal data are replaced. Limit: attributes passed as `extra=` are added after the factory ran
and are not scrubbed (nothing in this project passes personal data that way)."""
import logging
import re
import unicodedata
import urllib.parse

from . import config, ids

# Addresses in any script: a local part of ASCII address characters or any non-ASCII letter or mark, an @
# (or its URL-encoded or full-width forms), and dotted domain labels (IDNA also reads 。．｡ as dots).
# It rather over-matches (a `key=` before an address is taken in) than leaves part of an address behind.
_NON_ASCII = "[^\\x00-\\x7f\\s\u3002\uff0e\uff61\uff20]"
EMAIL = re.compile(
    rf"(?:[\w.!#$%&*+/=?^`{{|}}~-]|{_NON_ASCII})(?:[\w.!#$%&'*+/=?^`{{|}}~-]|{_NON_ASCII})*"  # not from a quote
    r"(?:@|%40|\uff20)"
    rf"(?:[\w-]|{_NON_ASCII})+(?:[.\u3002\uff0e\uff61](?:[\w-]|{_NON_ASCII})+)+",
    re.IGNORECASE)
TOKEN = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
_DOTS = re.compile("[\u3002\uff0e\uff61]")


def pseudonym(address: str) -> str:
    try:
        key = config.log_hash_key()
    except RuntimeError:  # no usable secret in this stage: a log line must still never show the address
        return "email:[unkeyed]"
    return "email:" + ids.keyed_hash(_canonical(address), key)[:16]


def _canonical(address: str) -> str:
    """One spelling per address, so its pseudonym doesn't change with case, encoding or IDNA form."""
    text = urllib.parse.unquote(address.strip()).replace("\uff20", "@")
    local, _, domain = unicodedata.normalize("NFC", text).rpartition("@")
    labels = []
    for label in _DOTS.sub(".", domain).split("."):
        if label.lower().startswith("xn--"):
            try:
                label = label[4:].encode("ascii").decode("punycode")
            except UnicodeError:
                pass
        labels.append(label)
    return unicodedata.normalize("NFC", f"{local}@{'.'.join(labels)}").lower()


def scrub(text: str) -> str:
    text = TOKEN.sub("[token]", text)
    return EMAIL.sub(lambda m: pseudonym(m.group(0)), text)


class _Scrubbed:
    """Stands in for a log argument whose text showed personal data: formats as its scrubbed str or repr."""

    __slots__ = ("_str", "_repr")

    def __init__(self, value):
        self._str, self._repr = scrub(str(value)), scrub(repr(value))

    def __str__(self):
        return self._str

    def __repr__(self):
        return self._repr


def _scrub_value(value):
    if isinstance(value, str):
        return scrub(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    try:
        shown = (str(value), repr(value))
    except Exception:  # noqa: BLE001 — the handler meets the same error when it formats, and reports it
        return value
    if any(scrub(text) != text for text in shown):
        return _Scrubbed(value)
    return value  # the same object: other filters may read its attributes


def _scrub_args(args):
    if isinstance(args, tuple):
        return tuple(_scrub_value(arg) for arg in args)
    if isinstance(args, dict):
        return {key: _scrub_value(value) for key, value in args.items()}
    return args


class ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        elif record.msg is not None and scrub(str(record.msg)) != str(record.msg):
            record.msg = scrub(str(record.msg))
        record.args = _scrub_args(record.args)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 — a bad format string: the handler reports it, as logging always does
            message = None
        if message is not None and scrub(message) != message:
            # Only the joined text shows it (an address split over arguments): keep that text alone.
            record.msg, record.args = scrub(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
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
