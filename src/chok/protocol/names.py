"""User names, transmission ids and emoji (protocol.md, section 3)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import TypeGuard

from chok.errors import UsageError

#: The three reactions the original app offers, in its order (❤️ is U+2764 U+FE0F).
SUPPORTED_EMOJI: tuple[str, ...] = ("\U0001f44d", "\u2764\ufe0f", "\U0001f525")

MAX_USER_NAME_LENGTH = 64
MAX_EMOJI_BYTES = 16
TX_ID_BYTES = 4

_USER_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TX_ID = re.compile(r"[0-9a-f]{8}")

_ZWJ = "\u200d"
_KEYCAP = "\u20e3"
_VARIATION_SELECTORS = frozenset("\ufe0e\ufe0f")
_KEYCAP_BASES = frozenset("0123456789#*")


def is_user_name(name: object) -> TypeGuard[str]:
    """True if ``name`` is a user name chok may write (1-64 of A-Z a-z 0-9 _ -)."""
    return isinstance(name, str) and _USER_NAME.fullmatch(name) is not None


def validate_user_name(name: object) -> str:
    """Return ``name`` if it is a valid user name, else raise UsageError."""
    if not isinstance(name, str):
        raise UsageError(f"a user name must be text, not {type(name).__name__}")
    if not name:
        raise UsageError("a user name cannot be empty")
    if len(name) > MAX_USER_NAME_LENGTH:
        raise UsageError(
            f"user name {name[:20]!r}... is {len(name)} characters long; "
            f"the limit is {MAX_USER_NAME_LENGTH}"
        )
    if not is_user_name(name):
        raise UsageError(
            f"invalid user name {name!r}",
            hint="use only letters A-Z a-z, digits, '_' and '-'",
        )
    return name


def is_tx_id(tx_id: object) -> TypeGuard[str]:
    """True for a transmission id as text: 8 lowercase hex characters (4 bytes)."""
    return isinstance(tx_id, str) and _TX_ID.fullmatch(tx_id) is not None


def validate_tx_id(tx_id: object) -> str:
    """Return ``tx_id`` if it is a transmission id (8 lowercase hex characters), else raise."""
    if not is_tx_id(tx_id):
        raise UsageError(f"invalid transmission id {tx_id!r}: expected 8 lowercase hex characters")
    return tx_id


def tx_id_from_bytes(raw: bytes) -> str:
    """The transmission id of 4 random bytes (the caller draws them: os.urandom(4))."""
    if not isinstance(raw, bytes) or len(raw) != TX_ID_BYTES:
        raise UsageError(f"a transmission id is made of exactly {TX_ID_BYTES} random bytes")
    return raw.hex()


def _is_symbol(char: str) -> bool:
    return unicodedata.category(char) == "So" and not _is_regional_indicator(char)


def _is_regional_indicator(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def _is_modifier(char: str) -> bool:
    return (
        char in _VARIATION_SELECTORS
        or "\U0001f3fb" <= char <= "\U0001f3ff"  # skin tones
        or "\U000e0020" <= char <= "\U000e007f"  # tags (subdivision flags)
        or char == _KEYCAP
    )


def _is_emoji_shape(text: str) -> bool:
    """Approximate test for one emoji grapheme (protocol.md, section 3.3)."""
    if len(text) == 2 and all(_is_regional_indicator(c) for c in text):
        return True  # a flag
    if text[0] in _KEYCAP_BASES:
        return text[1:] in (_KEYCAP, "\ufe0f" + _KEYCAP)
    expect_symbol = True
    for char in text:
        if expect_symbol:
            if not _is_symbol(char):
                return False
            expect_symbol = False
        elif char == _ZWJ:
            expect_symbol = True
        elif not _is_modifier(char):
            return False
    return not expect_symbol


def is_emoji(emoji: object) -> TypeGuard[str]:
    """True if ``emoji`` is one emoji that chok may write as a reaction."""
    if not isinstance(emoji, str) or not emoji:
        return False
    try:
        size = len(emoji.encode("utf-8"))
    except UnicodeEncodeError:
        return False
    return size <= MAX_EMOJI_BYTES and _is_emoji_shape(emoji)


def validate_emoji(emoji: object) -> str:
    """Return ``emoji`` if it is one emoji of at most 16 UTF-8 bytes, else raise UsageError."""
    if not is_emoji(emoji):
        raise UsageError(
            f"{emoji!r} is not a single emoji",
            hint="for example " + " ".join(SUPPORTED_EMOJI),
        )
    return emoji


def emoji_sort_key(emoji: str) -> tuple[int, str]:
    """Order: the supported emoji first, in their order, then the others by code points."""
    try:
        return (SUPPORTED_EMOJI.index(emoji), "")
    except ValueError:
        return (len(SUPPORTED_EMOJI), emoji)


def sort_emoji(emoji: Iterable[str]) -> list[str]:
    return sorted(emoji, key=emoji_sort_key)


def consumer_group_prefix(user: str) -> str:
    """``chok.<user>.``: the consumer groups one person may use (ACLs grant the
    prefix). A dot never occurs in a name, so no prefix covers another's."""
    return f"chok.{user}."
