"""A team's light branding and where its privacy page may be framed (issue 17).

Checked when the settings are saved, so pages and headers can use the stored values as they are."""
import re

from . import config
from .errors import BadRequest

# An origin, exactly as a browser sends it: scheme, lowercase host, optional port, nothing after.
_HTTPS_ORIGIN = re.compile(r"^https://[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
                           r"(?::[1-9][0-9]{0,4})?$")
# A developer's own page, for trying the embedding with `make run`; never on a deployed stage.
_LOCAL_ORIGIN = re.compile(r"^http://127\.0\.0\.1:[1-9][0-9]{0,4}$")
_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
WCAG_AA = 4.5  # normal text (WCAG 2.x, 1.4.3)


def check_embed_origins(origins: list[str] | None) -> None:
    for index, origin in enumerate(origins or []):
        local = config.stage() == "local" and _LOCAL_ORIGIN.match(origin)
        if not (_HTTPS_ORIGIN.match(origin) or local):
            raise BadRequest(f"body.embed_origins[{index}] must be an https:// origin (scheme, host and optional "
                             "port; no path)", field=f"body.embed_origins[{index}]")


def check_accent_colour(colour: str | None) -> None:
    if colour is None:
        return
    if not _HEX_COLOUR.match(colour):
        raise BadRequest("body.accent_color must be #rrggbb", field="body.accent_color")
    ratio = contrast_with_white(colour)
    if ratio < WCAG_AA:
        raise BadRequest(f"body.accent_color has a contrast of {ratio:.2f}:1 with white; WCAG AA asks for at least "
                         f"{WCAG_AA}:1 (choose a darker colour)", field="body.accent_color")


def contrast_with_white(colour: str) -> float:
    """WCAG 2.x contrast ratio between #rrggbb and white (1 to 21)."""
    return 1.05 / (_luminance(colour) + 0.05)


def _luminance(colour: str) -> float:
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
