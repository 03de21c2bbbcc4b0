"""The pages' own stylesheet and scripts, served by the API itself so the pages' CSP can stay `'self'`
(no inline code, no third-party host)."""
import os
import re

from . import config
from .errors import NotFound

_ROOT = os.path.join(os.path.dirname(__file__), "static")
TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
FILES = ("page.css", "frame.js", "embed.js", "console.css", "console.js")
_COLOUR = re.compile(r"^[0-9a-fA-F]{6}$")


def url(name: str) -> str:
    return config.public_url(f"/portal/assets/{name}")


def read(name: str, colour: str | None = None) -> tuple[str, str]:
    """(content type, text) of one asset. `accent.css` is made from the colour in its query string: the
    settings checked its contrast, and any other #rrggbb only restyles the page of whoever asked for it."""
    if name == "accent.css" and colour and _COLOUR.match(colour):
        return TYPES[".css"], f":root{{--accent:#{colour.lower()}}}\n"
    if name not in FILES:
        raise NotFound("no such asset")
    with open(os.path.join(_ROOT, name), encoding="utf-8") as f:
        return TYPES[os.path.splitext(name)[1]], f.read()
