"""Showing record content safely (chok.protocol.display): examples and properties."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chok.protocol.display import (
    ELLIPSIS,
    MAX_NAME_CHARS,
    UNKNOWN,
    is_unsafe_char,
    iso_time,
    json_text,
    moment_local,
    moment_utc,
    safe_emoji,
    safe_file_part,
    safe_text,
    seconds_text,
)

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
INVISIBLE = "\u200b\u200c\u2060\ufeff\u00ad\u034f\u115f\u3164\U000e0041\U000e0001"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("alice", "alice"),
        ("eve\n   1  bob", "eve\\n   1  bob"),
        ("\u202emallory", "\\u202emallory"),
        ("a\tb\rc", "a\\tb\\rc"),
        ("bob\x1b]0;owned\x07", "bob\\x1b]0;owned\\x07"),
        ("x\x7fy\x85z", "x\\x7fy\\x85z"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("Zoë 名前", "Zoë 名前"),
        ("dan\u2764\ufe0f", "dan\u2764\ufe0f"),  # an emoji's presentation selector stays
        (FAMILY, FAMILY),  # joiners between symbols make one emoji
        ("a\u200db", "a\\u200db"),  # a joiner between letters is hidden text
        ("", UNKNOWN),
        (None, UNKNOWN),
        (42, UNKNOWN),
    ],
)
def test_safe_text_examples(raw: object, shown: str) -> None:
    assert safe_text(raw) == shown


@pytest.mark.parametrize("char", list(BIDI + INVISIBLE))
def test_every_bidi_and_invisible_character_is_escaped(char: str) -> None:
    assert is_unsafe_char(char)
    assert char not in safe_text(f"a{char}b")


def test_long_text_is_cut_at_whole_escapes() -> None:
    assert safe_text("a" * 1000) == "a" * (MAX_NAME_CHARS - 1) + ELLIPSIS
    assert safe_text("a" * MAX_NAME_CHARS) == "a" * MAX_NAME_CHARS
    cut = safe_text("\u202e" * 100)
    assert cut == "\\u202e" * 10 + ELLIPSIS  # 63 characters would split an escape
    assert safe_text("abcdef", 3) == "ab" + ELLIPSIS


def test_emoji_and_file_names() -> None:
    assert safe_emoji("\u2764\ufe0f") == "\u2764\ufe0f"
    assert safe_emoji("\U0001f1eb\U0001f1f7") == "\U0001f1eb\U0001f1f7"
    assert safe_emoji("\x1b[31m\n") == "\\x1b[31m\\n"
    assert safe_emoji("x" * 40) == "x" * 15 + ELLIPSIS
    assert safe_file_part("../../.bashrc") == "_______bashrc"
    assert safe_file_part("名前/\u202e") == "____"
    assert safe_file_part("") == "unknown"
    assert len(safe_file_part("a" * 10_000)) == 40


@pytest.mark.parametrize("ms", [253402300800000, 10**18, 2**63 - 1, -1, 1.5, True, None])
def test_times_that_are_no_date(ms: object) -> None:
    assert moment_utc(ms) is None and moment_local(ms) is None and iso_time(ms) is None


def test_times_that_are_dates() -> None:
    assert iso_time(0) == "1970-01-01T00:00:00+00:00"
    assert iso_time(1704825600000) == "2024-01-09T18:40:00+00:00"
    last = moment_utc(253402300799000)
    assert last == dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


def test_durations() -> None:
    assert seconds_text(1500) == "1.5 s"
    assert seconds_text(1500, "s") == "1.5s"
    assert seconds_text(10**9) == "1000000.0 s"
    for ms in (10**9 + 1, 2**62, -1, None, 1.0):
        assert seconds_text(ms) == UNKNOWN


def test_json_keeps_the_exact_strings() -> None:
    data = {"user": "a\u202eb\U000e0041\n\x1b\x7f", "\u2066": ["\u200b"], "ok": "Zoë 👍"}
    for indent in (None, 2):
        text = json_text(json.dumps(data, ensure_ascii=False, indent=indent))
        assert json.loads(text) == data
        assert not [c for c in text if c not in "\n " and is_unsafe_char(c)]
        assert "Zoë 👍" in text  # readable text stays readable


# -- properties ------------------------------------------------------------------

_any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=200)


def _raw_unsafe(shown: str) -> list[str]:
    """Unsafe characters left raw, apart from the joiners of emoji sequences."""
    return [
        c
        for i, c in enumerate(shown)
        if is_unsafe_char(c)
        and not (c == "\u200d" and 0 < i < len(shown) - 1 and shown[i + 1] != "\\")
    ]


@settings(max_examples=2000, deadline=None)
@given(_any_text, st.integers(min_value=1, max_value=80))
def test_safe_text_is_safe_and_bounded(text: str, limit: int) -> None:
    shown = safe_text(text, limit)
    assert 1 <= len(shown) <= max(limit, 1)
    assert _raw_unsafe(shown) == []
    if text and len(text) <= limit and not any(is_unsafe_char(c) for c in text):
        assert shown == text


@settings(max_examples=1000, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | _any_text,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_any_text, inner, max_size=4),
        max_leaves=12,
    ),
    st.sampled_from([None, 2]),
)
def test_json_text_round_trips(data: object, indent: int | None) -> None:
    text = json_text(json.dumps(data, ensure_ascii=False, indent=indent))
    assert json.loads(text) == data
    assert not [c for c in text if c not in "\n\r\t " and is_unsafe_char(c)]


@settings(max_examples=1000, deadline=None)
@given(st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.none())
def test_time_and_duration_never_raise(value: object) -> None:
    iso_time(value)
    moment_local(value)
    assert seconds_text(value)
