"""Small pure helpers shared by the protocol modules (not public API)."""

from __future__ import annotations

import json
import re
from typing import Any, TypeGuard

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

#: The largest value of a count, sequence number or duration (protocol.md, section 1).
MAX_COUNT = 1_000_000_000

_MAX_INT_DIGITS = 20  # enough for any int64, with a sign


class _BadJson(ValueError):
    """Raised inside the JSON decoder hooks; never escapes this module."""


def parse_decimal(text: str | bytes | None, maximum: int = MAX_COUNT) -> int | None:
    """Return the value of a canonical ASCII decimal ("0" or [1-9][0-9]*), or None."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(text, str) or not text or len(text) > len(str(maximum)):
        return None
    if not text.isascii() or not text.isdigit():
        return None
    if len(text) > 1 and text[0] == "0":
        return None
    value = int(text)
    return value if value <= maximum else None


def is_int(value: object) -> TypeGuard[int]:
    """True for a JSON integer (a Python int that is not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def int_in(value: object, low: int, high: int) -> TypeGuard[int]:
    return is_int(value) and low <= value <= high


def is_clean_str(value: object) -> TypeGuard[str]:
    """True for a str that can be encoded as UTF-8 (no lone surrogates)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, item in pairs:
        if name in result:
            raise _BadJson(f"duplicate member {name!r}")
        result[name] = item
    return result


def _reject_constant(name: str) -> Any:
    raise _BadJson(f"{name} is not JSON")


def _bounded_int(text: str) -> int:
    if len(text) > _MAX_INT_DIGITS:
        raise _BadJson("integer too long")
    return int(text)


# Built once: json.loads with hooks builds a new decoder on every call, which
# was a fifth of the time to load a timeline of 10,000 transmissions.
_STRICT = json.JSONDecoder(
    object_pairs_hook=_no_duplicates,
    parse_constant=_reject_constant,
    parse_int=_bounded_int,
)
_STRICT_INTS_UNCHECKED = json.JSONDecoder(
    object_pairs_hook=_no_duplicates,
    parse_constant=_reject_constant,
)
_LONG_DIGITS = re.compile(rf"\d{{{_MAX_INT_DIGITS + 1}}}")


def loads_object(value: bytes | str) -> dict[str, Any] | None:
    """Decode strict UTF-8 JSON holding one object; None for anything else.

    Duplicate member names, NaN/Infinity, integers longer than 20 digits,
    invalid UTF-8 and nesting too deep for the decoder all give None.
    """
    try:
        text = value.decode("utf-8") if isinstance(value, bytes) else value
        # Only a text with a run of 21+ digits can hold a too-long integer:
        # checking every integer in Python costs more than the rest of a parse.
        decoder = _STRICT if _LONG_DIGITS.search(text) else _STRICT_INTS_UNCHECKED
        obj = decoder.decode(text)
    except (ValueError, RecursionError, TypeError):
        return None
    return obj if isinstance(obj, dict) else None


def dumps_compact(obj: object) -> bytes:
    """Compact JSON, non-ASCII as UTF-8 (protocol.md, section 5.1)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
