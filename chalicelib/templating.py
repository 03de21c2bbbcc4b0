"""Jinja2 templates for every email and HTML page, per language (`templates/<locale>/...`).

No user-facing sentence is built in Python: code picks a template and passes values. StrictUndefined turns
a missing variable into an error instead of a silently blank sentence."""
import functools
import os

LOCALES = ("en", "fr")
DEFAULT_LOCALE = "en"
_ROOT = os.path.join(os.path.dirname(__file__), "templates")


@functools.lru_cache(maxsize=None)
def _env():
    import jinja2  # imported on first render: most invocations (stream records, list routes) render nothing

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_ROOT),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["day"] = lambda iso_text: (iso_text or "")[:10]
    return env


def pick_locale(*candidates: str | None) -> str:
    for candidate in candidates:
        if candidate in LOCALES:
            return candidate
    return DEFAULT_LOCALE


def render(path: str, locale: str, **values) -> str:
    return _env().get_template(f"{pick_locale(locale)}/{path}").render(locale=pick_locale(locale), **values)


def render_email(name: str, locale: str, **values) -> dict:
    """An email is three templates: `<name>.subject.txt`, `<name>.txt` and `<name>.html`."""
    return {
        "subject": " ".join(render(f"email/{name}.subject.txt", locale, **values).split()),
        "text": render(f"email/{name}.txt", locale, **values),
        "html": render(f"email/{name}.html", locale, **values),
    }


def email_names() -> list[str]:
    folder = os.path.join(_ROOT, DEFAULT_LOCALE, "email")
    return sorted({f.split(".")[0] for f in os.listdir(folder) if not f.startswith("_")})


def page_names() -> list[str]:
    folder = os.path.join(_ROOT, DEFAULT_LOCALE, "pages")
    return sorted(f[: -len(".html")] for f in os.listdir(folder) if f.endswith(".html") and not f.startswith("_"))
