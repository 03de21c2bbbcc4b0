"""Jinja2 templates for every email and HTML page, translated with gettext catalogs (`locale/<lang>/...`).

No user-facing sentence is built in Python: code picks a template and passes values. StrictUndefined turns
a missing variable into an error instead of a silently blank sentence.

A template lives once under `templates/` with its sentences marked for translation (`{% trans %}`, `_()`);
`make i18n` extracts them into `locale/messages.pot` and compiles each language's catalog."""
import functools
import os
import re

DEFAULT_LOCALE = "en"
_ROOT = os.path.join(os.path.dirname(__file__), "templates")
CATALOGS = os.path.join(os.path.dirname(__file__), "locale")


def _discover_locales() -> tuple[str, ...]:
    """The languages offered are the catalogs shipped: adding one is `pybabel init` + translating + `make i18n`,
    no code. Only a compiled catalog counts, since rendering reads the .mo. The default comes first."""
    found = {name for name in os.listdir(CATALOGS)
             if os.path.isfile(os.path.join(CATALOGS, name, "LC_MESSAGES", "messages.mo"))}
    if DEFAULT_LOCALE not in found:
        raise RuntimeError(f"no compiled catalog for the default language {DEFAULT_LOCALE!r}: run make i18n")
    return (DEFAULT_LOCALE, *sorted(found - {DEFAULT_LOCALE}))


LOCALES = _discover_locales()
# CLDR's plain "en" is American ("January 1, 2026"); a European controller writes "1 January 2026".
_FORMAT_LOCALE = {"en": "en_GB"}


def _date(iso_text: str | None, locale: str) -> str:
    """"2026-01-31T10:00:00Z" → the UTC day, in the language's long form."""
    if not iso_text:
        return ""
    import datetime

    from babel.dates import format_date

    day = datetime.date.fromisoformat(iso_text[:10])
    text = format_date(day, format="long", locale=_FORMAT_LOCALE.get(locale, locale))
    if locale == "fr" and day.day == 1:
        text = "1er" + text[1:]  # French writes the first of the month as an ordinal; CLDR has no such pattern
    return text


# Elision a translation cannot spell out, because it depends on the value put in the sentence: French writes
# « auprès d'Acme » but « auprès de Martin ». Templates wrap such sentences in {% filter elide %}.
_ELISIONS = {"fr": (re.compile(r"\b([Dd])e (?=[aeiouyàâäéèêëîïôöûüœ])", re.IGNORECASE), r"\1'")}


def _elide(text, locale: str):
    if locale not in _ELISIONS:
        return text
    pattern, replacement = _ELISIONS[locale]
    return type(text)(pattern.sub(replacement, str(text)))  # Markup stays Markup: the text was already escaped


# Binary multiples, as before; CLDR names the units ("714 octets", "1,4 ko", "5,1 MB") in every language.
_SIZE_UNITS = (("digital-gigabyte", 1024 ** 3), ("digital-megabyte", 1024 ** 2), ("digital-kilobyte", 1024))


def _size(n, locale: str) -> str:
    """A number of bytes in the language's words and digits: 900 → "900 bytes", 1399 → « 1,4 ko »."""
    from babel.units import format_unit

    locale = _FORMAT_LOCALE.get(locale, locale)
    for unit, factor in _SIZE_UNITS:
        if n >= factor:
            return format_unit(n / factor, unit, length="short", format="#,##0.0", locale=locale)
    text = format_unit(n, "digital-byte", length="long", locale=locale)
    if "digital-" in text:  # some CLDR languages (it, nl) lack the long name and print the unit's id instead
        text = format_unit(n, "digital-byte", length="short", locale=locale)
    return text


def _names_list(items, locale: str) -> str:
    """["CRM", "Archive", "Billing"] → "CRM, Archive and Billing" / « CRM, Archive et Billing »."""
    from babel.lists import format_list

    items = [str(item) for item in items]
    return format_list(items, locale=_FORMAT_LOCALE.get(locale, locale)) if items else ""


@functools.lru_cache(maxsize=None)
def _env(locale: str = DEFAULT_LOCALE):
    """One environment per language: gettext is installed on the environment, so imported macro files
    (`_labels.txt`) translate too without being imported with context."""
    import gettext

    import jinja2  # imported on first render: most invocations (stream records, list routes) render nothing

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_ROOT),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # fallback=False: a language offered without its compiled catalog is a packaging error, not English text
    translations = gettext.translation("messages", CATALOGS, languages=[locale], fallback=False)
    env.install_gettext_translations(translations, newstyle=False)
    env.filters["day"] = lambda iso_text: (iso_text or "")[:10]
    env.filters["date"] = lambda iso_text: _date(iso_text, locale)
    env.filters["size"] = lambda number: _size(number, locale)
    env.filters["elide"] = lambda text: _elide(text, locale)
    env.filters["names"] = lambda items: _names_list(items, locale)
    env.filters["segment"] = _segment
    env.globals["asset"] = _asset_url
    return env


def _segment(value) -> str:
    """One URL path segment: `/`, `?`, `#` and `..` can't make a link or a form point elsewhere."""
    import urllib.parse

    return urllib.parse.quote(str(value), safe="")


def _asset_url(name: str) -> str:
    from . import assets

    return assets.url(name)


def pick_locale(*candidates: str | None) -> str:
    for candidate in candidates:
        if candidate in LOCALES:
            return candidate
    return DEFAULT_LOCALE


def render(path: str, locale: str, **values) -> str:
    locale = pick_locale(locale)
    return _env(locale).get_template(path).render(locale=locale, **values)


def render_email(name: str, locale: str, **values) -> dict:
    """An email is three templates: `<name>.subject.txt`, `<name>.txt` and `<name>.html`."""
    return {
        "subject": " ".join(render(f"email/{name}.subject.txt", locale, **values).split()),
        "text": render(f"email/{name}.txt", locale, **values),
        "html": render(f"email/{name}.html", locale, **values),
    }


def _names(folder: str, suffix: str) -> set[str]:
    path = os.path.join(_ROOT, folder)
    return {f[: -len(suffix)] for f in os.listdir(path) if f.endswith(suffix)} if os.path.isdir(path) else set()


def email_names() -> list[str]:
    names = _names("email", ".txt")
    return sorted({n.split(".")[0] for n in names if not n.startswith("_")})


def page_names() -> list[str]:
    names = _names("pages", ".html")
    return sorted(n for n in names if not n.startswith("_"))
