"""Which language a person reads, from what they asked for and what the team offers.

A client: the `locale` their portal submission named, if the team offers it; else the best match of their
browser's Accept-Language among the team's languages; else the team's default. An officer: the team's default.
A visitor nobody knows (a link that can't be read): their Accept-Language among every language we have.

Submitting a request reads no settings (it costs two calls), so the request keeps what the client asked for
(`locale`, `accept_language`) and the choice is made where the team's settings are at hand."""
from . import templating
from .errors import BadRequest

MAX_HEADER = 512  # a real Accept-Language is a few dozen characters; more is noise, kept out of the table
_MAX_RANGES = 20


def check(value, field: str) -> str | None:
    """A language code from a request body: one the product has, or a 400 naming the field."""
    if value is None:
        return None
    if value not in templating.LOCALES:
        raise BadRequest(f"{field} must be one of the languages offered: {', '.join(templating.LOCALES)}",
                         field=field)
    return value


def team_default(settings) -> str:
    locale = getattr(settings, "locale", None)
    return locale if locale in templating.LOCALES else templating.DEFAULT_LOCALE


def offered(settings) -> tuple[str, ...]:
    """The team's languages: the list it chose (the default always among them), else every one we have."""
    chosen = [code for code in (getattr(settings, "locales", None) or []) if code in templating.LOCALES]
    if not chosen:
        return templating.LOCALES
    default = team_default(settings)
    return tuple(chosen if default in chosen else [default, *chosen])


def preferred(accept_language: str | None) -> list[str]:
    """Accept-Language's ranges, best first (RFC 9110 §12.5.4): q=0 means "not this", a range that can't be
    read is skipped, equal weights keep their order. "*" (anything) chooses nothing: the default is as good."""
    ranges = []
    for position, part in enumerate((accept_language or "")[:MAX_HEADER].split(",")[:_MAX_RANGES]):
        tag, *params = [piece.strip() for piece in part.split(";")]
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = -1.0
        if not tag or not 0 < weight <= 1 or not all(c.isalnum() or c in "-_*" for c in tag):
            continue
        ranges.append((-weight, position, tag.replace("_", "-")))
    return [tag for _, _, tag in sorted(ranges)]


def negotiate(accept_language: str | None, available) -> str | None:
    """The best of `available` for this header, or None: "es-ES" matches "es" (Babel's negotiation)."""
    named = [tag for tag in preferred(accept_language) if tag != "*"]
    if not named:
        return None
    from babel.core import negotiate_locale  # on first use: most invocations choose no language

    # Babel answers with the header's spelling ("FR", "es"), or None; aliases would map "de" to "de_DE"
    match = negotiate_locale(named, list(available), sep="-", aliases=None)
    return next((code for code in available if match and code.lower() == match.lower()), None)


def for_client(explicit: str | None, accept_language: str | None, settings) -> str:
    languages = offered(settings)
    if explicit in languages:
        return explicit
    return negotiate(accept_language, languages) or team_default(settings)


def for_visitor(accept_language: str | None) -> str:
    return negotiate(accept_language, templating.LOCALES) or templating.DEFAULT_LOCALE
