"""Text a person reads must show what it says: no characters that hide, reorder or disguise it.

A right-to-left override (U+202E) makes the filename `invoice<U+202E>fdp.exe` read as `invoiceexe.pdf`;
zero-width and other format characters make two different titles or names look the same, and control
characters rewrite lines in logs and terminals. Two rules:

- a single-line label (a filename, a dossier title, a member's name, a field's name, a URL or id in the
  settings) refuses every control, format and line/paragraph separator character (Unicode Cc, Cf, Zl, Zp);
- multi-line free text (a client's message, an officer's note or reason, the consent wording, a field's value)
  keeps line feeds, tabs and CRLF line ends, and refuses every other control character and the bidirectional
  embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069). Other format characters stay allowed
  there: marks such as U+200E/U+200F and joiners are part of ordinary right-to-left and Indic writing.

Accents, non-Latin scripts and emoji pass both rules.
"""
import unicodedata

from .errors import BadRequest

BIDI_CONTROLS = frozenset(chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_REFUSED_IN_LABELS = frozenset({"Cc", "Cf", "Zl", "Zp"})
_ZWJ, _EMOJI_PRESENTATION = "\u200d", "\ufe0f"


def check_label(value: str, field: str, *, emoji_joiner: bool = False, what: str | None = None) -> str:
    """`value` if it is a clean single-line label, else BadRequest naming `field` (described as `what`, if
    given) and the character.

    emoji_joiner: accept U+200D inside an emoji sequence (👩🏽‍💻, 🏳️‍🌈). Titles and names allow it, since a person
    may type such emoji; filenames don't, as nobody needs one there and it hides in any font without emoji."""
    for index, char in enumerate(value):
        if unicodedata.category(char) not in _REFUSED_IN_LABELS:
            continue
        if emoji_joiner and char == _ZWJ and _joins_emoji(value, index):
            continue
        raise BadRequest(f"{what or field} contains {_describe(char)} at character {index + 1}: control and invisible "
                         "formatting characters are not allowed in it", field=field)
    return value


def check_multiline(value: str, field: str) -> str:
    """`value` if it is clean multi-line text, else BadRequest naming `field` and the character."""
    for index, char in enumerate(value):
        if char in "\n\t" or (char == "\r" and value[index + 1:index + 2] == "\n"):
            continue
        if char in BIDI_CONTROLS or unicodedata.category(char) == "Cc":
            raise BadRequest(f"{field} contains {_describe(char)} at character {index + 1}: control characters "
                             "(other than line breaks and tabs) and bidirectional overrides are not allowed in it",
                             field=field)
    return value


def _joins_emoji(value: str, index: int) -> bool:
    # An emoji ZWJ sequence: pictograph (maybe with a skin tone or U+FE0F) + ZWJ + pictograph.
    before, after = value[index - 1:index] if index else "", value[index + 1:index + 2]
    return (bool(before) and (unicodedata.category(before) in ("So", "Sk") or before == _EMOJI_PRESENTATION)
            and bool(after) and unicodedata.category(after) == "So")


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" ({name})" if name else " (a control character)")
