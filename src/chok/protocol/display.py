"""Showing what records say to a person, whatever a member wrote in them.

Every text and number below comes from a record that anyone with write access
may have written (protocol.md, sections 1 and 7). A name may hold a newline
(a faked timeline row), U+202E (text shown backwards), escape sequences (a
terminal's title or colours) or invisible characters; a time may lie past the
year 9999. The command line and the desktop app show record content only
through these functions: unsafe characters are escaped visibly (``\\n``,
``\\u202e``), text is bounded in length, and a value that cannot be shown is
shown as ``?``. Pure functions, no I/O.

JSON output keeps the exact strings (a script gets what the record says), but
``json_text`` writes the same unsafe characters as JSON ``\\u`` escapes, so that
printing JSON to a terminal is safe too.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from functools import lru_cache

from ._util import MAX_COUNT, int_in
from .names import is_emoji

UNKNOWN = "?"
ELLIPSIS = "\u2026"
#: Longest name shown (the protocol's own names are at most 64 characters).
MAX_NAME_CHARS = 64
#: Longest text of a reaction shown when it is not an emoji.
MAX_EMOJI_CHARS = 16
#: Longest part of a file name taken from a record (a name in a saved file's name).
MAX_FILE_PART_CHARS = 40
#: Longest duration shown (``MAX_COUNT`` ms, 11.6 days); longer is not believed.
MAX_SHOWN_MS = MAX_COUNT

# Categories never shown raw: controls (C0, C1, DEL), format characters (all
# bidi controls U+202A-202E, U+2066-2069, U+200E/F, U+061C; zero-width ones;
# tags), surrogates, private use, unassigned code points, line and paragraph
# separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Default_Ignorable_Code_Point characters of other categories: invisible in
# most fonts, so a name could hide them (Hangul fillers, Mongolian selectors...).
_INVISIBLE = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u3164\uffa0"
    "\U0001bca0\U0001bca1\U0001bca2\U0001bca3"
)
# The emoji variation selectors only change how the character before them is
# drawn: kept, so that "❤️" in a name stays a heart.
_PRESENTATION = frozenset("\ufe0e\ufe0f")
_ZWJ = "\u200d"
_JSON_LAYOUT = frozenset("\n\r\t ")
_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


@lru_cache(maxsize=4096)
def is_unsafe_char(char: str) -> bool:
    """True for a character never shown raw: control, bidi, invisible, unassigned..."""
    if char in _PRESENTATION:
        return False
    return unicodedata.category(char) in _UNSAFE_CATEGORIES or char in _INVISIBLE


def escape_char(char: str) -> str:
    """A visible stand-in for an unsafe character: ``\\n``, ``\\x1b``, ``\\u202e``."""
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    point = ord(char)
    if point < 0x100:
        return f"\\x{point:02x}"
    if point < 0x10000:
        return f"\\u{point:04x}"
    return f"\\U{point:08x}"


def _joins_symbols(text: str, index: int) -> bool:
    """A zero-width joiner between two symbols is part of an emoji (👨‍👩‍👧): kept."""
    before = text[index - 1] if index > 0 else ""
    after = text[index + 1] if index + 1 < len(text) else ""
    if before in _PRESENTATION and index > 1:
        before = text[index - 2]
    return bool(before and after) and all(unicodedata.category(c) == "So" for c in (before, after))


def safe_text(text: object, limit: int = MAX_NAME_CHARS) -> str:
    """``text`` as it may be shown on a terminal or in the app: unsafe characters
    escaped, at most ``limit`` characters (cut with "…"), "?" for no text."""
    if not isinstance(text, str) or not text:
        return UNKNOWN
    if text.isascii() and text.isprintable() and len(text) <= limit:
        return text  # the usual case: a user name
    pieces: list[str] = []
    size = 0
    for index, char in enumerate(text):
        if is_unsafe_char(char) and not (char == _ZWJ and _joins_symbols(text, index)):
            piece = escape_char(char)
        else:
            piece = char
        if size + len(piece) > limit:
            break
        pieces.append(piece)
        size += len(piece)
    else:
        return "".join(pieces)
    while pieces and size + len(ELLIPSIS) > limit:  # cut whole escapes, never half of one
        size -= len(pieces.pop())
    return "".join(pieces) + ELLIPSIS


def safe_emoji(emoji: object) -> str:
    """A reaction's emoji: as it is when it is one emoji (protocol.md 3.3), else as text."""
    if is_emoji(emoji):
        return emoji
    return safe_text(emoji, MAX_EMOJI_CHARS)


def safe_file_part(text: object, limit: int = MAX_FILE_PART_CHARS) -> str:
    """A piece of a file name made of record content: letters, digits, ``-`` and
    ``_`` only (no path separators, no dots, nothing hidden), bounded, never empty."""
    chars = text if isinstance(text, str) else ""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in chars)
    return safe[:limit] or "unknown"


def moment_utc(timestamp_ms: object) -> dt.datetime | None:
    """The UTC time of a record's ms timestamp, or None if it cannot be a date
    (not an int, before 1970, after the year 9999)."""
    if not int_in(timestamp_ms, 0, 2**63 - 1):
        return None
    try:
        return dt.datetime.fromtimestamp(timestamp_ms / 1000, dt.UTC)
    except (ValueError, OverflowError, OSError):
        return None


def moment_local(timestamp_ms: object) -> dt.datetime | None:
    """The local (naive) time of a record's ms timestamp, or None (see moment_utc)."""
    if not int_in(timestamp_ms, 0, 2**63 - 1):
        return None
    try:
        return dt.datetime.fromtimestamp(timestamp_ms / 1000)
    except (ValueError, OverflowError, OSError):
        return None


def iso_time(timestamp_ms: object) -> str | None:
    """ISO 8601 UTC time for JSON output, or None (JSON null) if it is not a date."""
    moment = moment_utc(timestamp_ms)
    return moment.isoformat() if moment is not None else None


def shown_ms(duration_ms: object) -> int | None:
    """A duration worth showing (0 to 11.6 days), or None."""
    return duration_ms if int_in(duration_ms, 0, MAX_SHOWN_MS) else None


def seconds_text(duration_ms: object, unit: str = " s") -> str:
    """``12.3 s``, or ``?`` for a duration that is not believable."""
    ms = shown_ms(duration_ms)
    return UNKNOWN if ms is None else f"{ms / 1000:.1f}{unit}"


def json_text(serialized: str) -> str:
    """JSON text with every unsafe character written as a ``\\u`` escape.

    ``serialized`` must be the output of ``json.dumps``: it escapes control
    characters inside strings itself, so a raw line break or tab is layout
    (``indent``) and stays; any other unsafe character occurs only inside a
    string, where an escape means the same character. ``json.loads`` gives back
    exactly the same data.
    """
    if serialized.isascii() and "\x7f" not in serialized:
        return serialized
    return "".join(
        _json_escape(c) if c not in _JSON_LAYOUT and is_unsafe_char(c) else c for c in serialized
    )


def _json_escape(char: str) -> str:
    point = ord(char)
    if point < 0x10000:
        return f"\\u{point:04x}"
    point -= 0x10000
    return f"\\u{0xD800 + (point >> 10):04x}\\u{0xDC00 + (point & 0x3FF):04x}"
