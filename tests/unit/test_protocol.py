"""Topics, names, audio records and transmission records (docs/protocol.md, sections 2-5.3)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chok.errors import UsageError
from chok.protocol import (
    MAX_COUNT,
    REQUIRED_FIELDS,
    SILENCE_MARKER,
    SUPPORTED_EMOJI,
    AudioFrame,
    EndOfTransmission,
    TopicRef,
    Transmission,
    audio_topic,
    build_audio_frame,
    build_end_of_transmission,
    build_transmission,
    is_emoji,
    metadata_topic,
    parse_audio_record,
    parse_metadata_record,
    parse_topic,
    parse_transmission_key,
    samples_per_frame,
    transmission_key,
    tx_id_from_bytes,
    validate_channel_number,
    validate_emoji,
    validate_user_name,
)

TX = "8f3a5c0e1b2d4f67"
PACKET = bytes(range(100, 160))


def _msg(**changes: object) -> bytes:
    obj: dict[str, object] = {
        "userId": "dan",
        "channelId": 1,
        "startOffset": 25571,
        "endOffset": 25604,
        "timestamp": 1704825600000,
        "messageCount": 34,
        "reactions": {},
    }
    obj.update(changes)
    return json.dumps({k: v for k, v in obj.items() if v is not ...}).encode()


# --- topics ---------------------------------------------------------------------------


def test_topic_names_round_trip() -> None:
    for n in (1, 7, 42, 2**31 - 1):
        assert parse_topic(audio_topic(n)) == TopicRef("audio", n)
        assert parse_topic(metadata_topic(n)) == TopicRef("metadata", n)
    assert audio_topic(1) == "chok-audio-1"
    assert metadata_topic(12) == "chok-metadata-12"


@pytest.mark.parametrize("bad", [0, -1, 2**31, True, 1.0, "1", None])
def test_invalid_channel_numbers(bad: object) -> None:
    with pytest.raises(UsageError, match="channel number"):
        validate_channel_number(bad)
    with pytest.raises(UsageError):
        audio_topic(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name", ["chok-audio-", "chok-audio-x", "chok-audio-١", "chok-metadata-1-2", "", 5, None]
)
def test_parse_topic_rejects(name: object) -> None:
    assert parse_topic(name) is None


# --- names ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["dan", "a", "Ann_2", "x-y", "A" * 64, "user1", "-_-"])
def test_valid_user_names(name: str) -> None:
    assert validate_user_name(name) == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "empty"),
        ("a" * 65, "limit is 64"),
        ("dan smith", "invalid user name"),
        ("dän", "invalid user name"),
        ("a/b", "invalid user name"),
        ("dan\n", "invalid user name"),
        (None, "must be text"),
        (b"dan", "must be text"),
    ],
)
def test_invalid_user_names(name: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        validate_user_name(name)


def test_supported_emoji() -> None:
    assert SUPPORTED_EMOJI == ("\U0001f44d", "\u2764\ufe0f", "\U0001f525")
    assert [e.encode().hex() for e in SUPPORTED_EMOJI] == ["f09f918d", "e29da4efb88f", "f09f94a5"]
    for emoji in SUPPORTED_EMOJI:
        assert validate_emoji(emoji) == emoji


@pytest.mark.parametrize("emoji", ["😀", "👍🏽", "🇫🇷", "1️⃣", "👩‍🚀", "❤", "☕"])
def test_other_emoji_accepted(emoji: str) -> None:
    assert is_emoji(emoji)


@pytest.mark.parametrize(
    "text", ["", "abc", "a", "1", "👍👍", "👍 ", "\u200d👍", "👍\u200d", "👨‍👩‍👧‍👦", "\ud83d", 7]
)
def test_non_emoji_rejected(text: object) -> None:
    assert not is_emoji(text)
    with pytest.raises(UsageError, match="not a single emoji"):
        validate_emoji(text)


def test_tx_id_from_bytes() -> None:
    assert tx_id_from_bytes(bytes.fromhex(TX)) == TX
    with pytest.raises(UsageError):
        tx_id_from_bytes(b"1234567")


# --- audio records --------------------------------------------------------------------


def test_samples_per_frame() -> None:
    assert [samples_per_frame(ms) for ms in (20, 40, 60)] == [960, 1920, 2880]


@pytest.mark.parametrize("size", [0, 1, 2, 24])
def test_short_packets_become_silence_marker(size: int) -> None:
    record = build_audio_frame("dan", TX, 3, b"\x07" * size)
    assert record.value == SILENCE_MARKER == b"\x00\x00"
    parsed = parse_audio_record(*record)
    assert isinstance(parsed, AudioFrame) and parsed.is_silence_marker


def test_audio_frame_round_trip() -> None:
    for seq, frame_ms in [(0, 60), (1, 40), (MAX_COUNT, 20)]:
        record = build_audio_frame("ann-2", TX, seq, PACKET, frame_ms)
        assert record.key == b"ann-2" and record.value == PACKET
        parsed = parse_audio_record(record.key, record.value, record.headers)
        assert parsed == AudioFrame("ann-2", TX, seq, frame_ms, PACKET)
        assert parsed.samples == 48 * frame_ms and not parsed.is_original_app


def test_end_of_transmission_round_trip() -> None:
    record = build_end_of_transmission("dan", TX, 17, 1020)
    assert record.value == b""
    assert parse_audio_record(*record) == EndOfTransmission("dan", TX, 17, 1020)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("dan smith", TX, 0, PACKET, 60), "user name"),
        (("dan", "ABCDEF0123456789", 0, PACKET, 60), "transmission id"),
        (("dan", TX[:-1], 0, PACKET, 60), "transmission id"),
        (("dan", TX, -1, PACKET, 60), "sequence number"),
        (("dan", TX, MAX_COUNT + 1, PACKET, 60), "sequence number"),
        (("dan", TX, True, PACKET, 60), "sequence number"),
        (("dan", TX, 0, PACKET, 10), "frame duration"),
        (("dan", TX, 0, PACKET, 60.0), "frame duration"),
        (("dan", TX, 0, "packet", 60), "bytes"),
    ],
)
def test_build_audio_frame_rejects(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        build_audio_frame(*args)  # type: ignore[arg-type]


def test_build_end_rejects() -> None:
    with pytest.raises(UsageError, match="frame count"):
        build_end_of_transmission("dan", TX, -1, 0)
    with pytest.raises(UsageError, match="duration"):
        build_end_of_transmission("dan", TX, 1, MAX_COUNT + 1)


def test_original_app_frame_ignores_key() -> None:
    for key in (b"user1", b"dan", None, b"\xff\xfe", b""):
        parsed = parse_audio_record(key, PACKET, None)
        assert parsed == AudioFrame(None, None, None, 60, PACKET)
        assert parsed.is_original_app
    # an empty header list is the same as none
    assert parse_audio_record(b"user1", PACKET, []) == AudioFrame(None, None, None, 60, PACKET)


def test_unknown_headers_are_ignored() -> None:
    record = build_audio_frame("dan", TX, 5, PACKET)
    headers = [("x-trace", b"abc"), ("x-null", None), *record.headers, ("chok-future", b"?")]
    assert parse_audio_record(record.key, record.value, headers) == AudioFrame(
        "dan", TX, 5, 60, PACKET
    )


def _headers(**overrides: bytes | None) -> list[tuple[str, bytes | None]]:
    base: dict[str, bytes | None] = {
        "chok-v": b"1",
        "chok-tx": TX.encode(),
        "chok-seq": b"7",
        "chok-fms": b"60",
    }
    base.update(overrides)
    return [(name, value) for name, value in base.items() if value != b"DROP"]


@pytest.mark.parametrize(
    "headers",
    [
        _headers(**{"chok-seq": b"-1"}),
        _headers(**{"chok-seq": b"07"}),
        _headers(**{"chok-seq": b"+7"}),
        _headers(**{"chok-seq": b" 7"}),
        _headers(**{"chok-seq": b"1000000001"}),
        _headers(**{"chok-seq": b"99999999999999999999999999"}),
        _headers(**{"chok-seq": "٧".encode()}),
        _headers(**{"chok-seq": b"\xff"}),
        _headers(**{"chok-seq": None}),
        _headers(**{"chok-seq": b"DROP"}),
        _headers(**{"chok-fms": b"30"}),
        _headers(**{"chok-fms": b"DROP"}),
        _headers(**{"chok-v": b"2"}),
        _headers(**{"chok-v": b"01"}),
        _headers(**{"chok-v": b"DROP"}),
        _headers(**{"chok-tx": b"8f3a5c0e1b2d4f6"}),
        _headers(**{"chok-tx": b"8f3a5c0e1b2d4f6g"}),
        _headers(**{"chok-tx": b"\x8f\x3a\x5c\x0e\x1b\x2d\x4f\x67"}),
        _headers(**{"chok-tx": b"DROP"}),
        [*_headers(), ("chok-tx", TX.encode())],
        [("chok-v", b"1"), "not a tuple"],
        [*_headers(), ("chok-end", b"1"), ("chok-end", b"2")],
        "chok-v=1",
    ],
)
def test_malformed_chok_headers_make_an_original_frame(headers: object) -> None:
    parsed = parse_audio_record(b"dan", PACKET, headers)  # type: ignore[arg-type]
    assert parsed == AudioFrame(None, None, None, 60, PACKET)
    # without a value there is nothing to play: skipped
    assert parse_audio_record(b"dan", b"", headers) is None  # type: ignore[arg-type]


def test_odd_header_names_are_unknown_headers() -> None:
    headers: Any = [*_headers(), (["unhashable"], b"1"), (None, None), ("CHOK-V", b"x")]
    assert parse_audio_record(b"dan", PACKET, headers) == AudioFrame("dan", TX, 7, 60, PACKET)


@pytest.mark.parametrize("key", [b"user one", b"", b"\xc3\xa9", b"a" * 65, None])
def test_chok_frame_with_bad_key_is_an_original_frame(key: bytes | None) -> None:
    assert parse_audio_record(key, PACKET, _headers()) == AudioFrame(None, None, None, 60, PACKET)


def test_empty_value_needs_end_headers() -> None:
    assert parse_audio_record(b"dan", b"", _headers()) is None  # frame headers, no chok-end
    assert parse_audio_record(b"dan", None, _headers()) is None
    end = build_end_of_transmission("dan", TX, 3, 180)
    assert parse_audio_record(end.key, None, end.headers) is None


# --- transmission records -------------------------------------------------------------


def test_reference_example() -> None:
    parsed = parse_metadata_record(b"msg-1-25571", _msg())
    assert isinstance(parsed, Transmission)
    assert parsed.user_id == "dan" and parsed.channel == 1
    assert (parsed.start_offset, parsed.end_offset, parsed.message_count) == (25571, 25604, 34)
    assert parsed.timestamp_ms == 1704825600000 and parsed.reactions == {}
    assert parsed.duration_ms == 34 * 60 and parsed.frames == 34 and parsed.frame_ms == 60


def test_original_record_without_reactions_or_with_extras() -> None:
    assert isinstance(parse_metadata_record(b"msg-1-25571", _msg(reactions=...)), Transmission)
    parsed = parse_metadata_record(b"msg-1-25571", _msg(color="red", nested={"a": [1]}))
    assert isinstance(parsed, Transmission) and parsed.user_id == "dan"
    # any string is an original userId; pretty-printed JSON is fine too
    value = json.dumps(json.loads(_msg(userId="Dan Smith ✨")), indent=4).encode()
    parsed = parse_metadata_record(b"msg-1-25571", value)
    assert isinstance(parsed, Transmission) and parsed.user_id == "Dan Smith ✨"


def test_messagecount_is_not_checked_against_offsets() -> None:
    parsed = parse_metadata_record(b"msg-1-25571", _msg(messageCount=5))
    assert isinstance(parsed, Transmission)
    assert parsed.duration_ms == 300 and parsed.span == 34


def test_original_reactions_map_is_normalised() -> None:
    value = _msg(reactions={"🔥": ["b", "a", "b"], "x": ["z"], "👍": [], "❤️": ["c"]})
    parsed = parse_metadata_record(b"msg-1-25571", value)
    assert isinstance(parsed, Transmission)
    assert parsed.reactions == {"❤️": ("c",), "🔥": ("a", "b"), "x": ("z",)}
    assert list(parsed.reactions) == ["❤️", "🔥", "x"]


@pytest.mark.parametrize(
    "changes",
    [
        {"userId": ...},
        {"channelId": ...},
        {"startOffset": ...},
        {"endOffset": ...},
        {"timestamp": ...},
        {"messageCount": ...},
        {"userId": 5},
        {"userId": None},
        {"channelId": 0},
        {"channelId": 2**31},
        {"channelId": "1"},
        {"channelId": 1.5},
        {"startOffset": -1, "endOffset": 3},
        {"startOffset": True},
        {"endOffset": 2**63},
        {"timestamp": -5},
        {"timestamp": 2**63},
        {"timestamp": 1.0e12},
        {"messageCount": -1},
        {"messageCount": False},
        {"reactions": None},
        {"reactions": []},
        {"reactions": {"👍": "dan"}},
        {"reactions": {"👍": [1]}},
        {"reactions": {"👍": [None]}},
        {"reactions": {"👍": [["dan"]]}},
    ],
)
def test_invalid_transmissions_are_skipped(changes: dict[str, object]) -> None:
    assert parse_metadata_record(b"msg-1-25571", _msg(**changes)) is None


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"null",
        b"34",
        b'"msg"',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"userId":"dan"',
        b"\xef\xbb\xbf" + _msg(),  # UTF-8 byte order mark
        _msg().replace(b"25604", b"1" + b"0" * 5000),  # very long integer
        _msg().replace(b"25604", b"25604.0"),
        _msg().replace(b"25604", b"Infinity"),
        _msg().replace(b'"dan"', b'"\\ud800"'),  # lone surrogate
        _msg().replace(b'"dan"', b'"d\xe4n"'),  # Latin-1, not UTF-8
        _msg().replace(b"}", b',"userId":"eve"}', 1),
    ],
)
def test_malformed_json_is_skipped(value: bytes) -> None:
    assert parse_metadata_record(b"msg-1-25571", value) is None


@pytest.mark.parametrize(
    "key",
    [b"msg-2-25571", b"msg-1-25570", b"msg-1", b"msg--1-25571", b"msg-1-25571-", b"MSG-1-25571"],
)
def test_key_must_match_value(key: bytes) -> None:
    assert parse_metadata_record(key, _msg()) is None


def test_channel_filter() -> None:
    assert parse_metadata_record(b"msg-1-25571", _msg(), channel=2) is None
    assert parse_metadata_record(b"msg-1-25571", _msg(), channel=1) is not None


def test_transmission_round_trip_and_details() -> None:
    built = build_transmission(
        user="ann",
        channel=3,
        start_offset=0,
        end_offset=9,
        timestamp_ms=1,
        tx_id=TX,
        frames=6,
        duration_ms=240,
        frame_ms=40,
        reactions={"🔥": ["dan"]},
    )
    assert built.key() == transmission_key(3, 0) == b"msg-3-0"
    assert built.message_count == 10 and built.has_talk_details
    assert (built.frames, built.frame_ms, built.duration_ms) == (6, 40, 240)
    assert parse_metadata_record(built.key(), built.to_value()) == built
    refreshed = built.with_reactions({"🔥": []})
    value = refreshed.to_value()
    assert b'"reactions":{}' in value and b'"chokFrames":6' in value
    assert b'"chokMapFromReactions":true' in value
    assert parse_metadata_record(built.key(), value) == refreshed
    assert parse_transmission_key(b"msg-3-0") == (3, 0)


@pytest.mark.parametrize(
    "changes",
    [
        {"chokV": 2},
        {"chokV": True},
        {"chokV": "1"},
        {"chokTx": "8F3A5C0E1B2D4F67"},
        {"chokTx": None},
        {"chokFrames": 0},
        {"chokFrames": 35},  # more than the offset range holds
        {"chokFrames": 30.0},
        {"chokDurationMs": -1},
        {"chokDurationMs": MAX_COUNT + 1},
        {"chokFrameMs": 30},
        {"chokFrameMs": True},
        {"chokFrames": ...},
        {"chokV": ...},
    ],
)
def test_invalid_talk_details_are_ignored(changes: dict[str, object]) -> None:
    details = {
        "chokV": 1,
        "chokTx": TX,
        "chokFrames": 30,
        "chokDurationMs": 1800,
        "chokFrameMs": 60,
        "chokMapFromReactions": True,
    }
    details.update(changes)
    parsed = parse_metadata_record(b"msg-1-25571", _msg(**details))
    assert isinstance(parsed, Transmission) and not parsed.has_talk_details
    assert parsed.frames == 34 and parsed.duration_ms == 2040
    assert parsed.map_from_reactions


def test_map_from_reactions_must_be_true() -> None:
    for flag in (1, "true", None):
        parsed = parse_metadata_record(b"msg-1-25571", _msg(chokMapFromReactions=flag))
        assert isinstance(parsed, Transmission) and not parsed.map_from_reactions


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"user": "dan smith"}, "user name"),
        ({"channel": 0}, "channel"),
        ({"start_offset": -1}, "start offset"),
        ({"end_offset": 9}, "below the start"),
        ({"timestamp_ms": -1}, "timestamp"),
        ({"tx_id": "nope"}, "transmission id"),
        ({"frames": 0}, "frame count"),
        ({"frames": 12}, "frame count"),
        ({"duration_ms": -1}, "duration"),
        ({"frame_ms": 25}, "frame duration"),
        ({"frame_ms": 60.0}, "frame duration"),
        ({"reactions": {"👍": "dan"}}, "list of names"),
        ({"reactions": {"👍": ["dan", 5]}}, "list of names"),
        ({"reactions": {5: ["dan"]}}, "list of names"),
    ],
)
def test_build_transmission_rejects(changes: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "user": "dan",
        "channel": 1,
        "start_offset": 10,
        "end_offset": 20,
        "timestamp_ms": 5,
        "tx_id": TX,
        "frames": 11,
        "duration_ms": 660,
        "frame_ms": 60,
    }
    args.update(changes)
    with pytest.raises(UsageError, match=message):
        build_transmission(**args)  # type: ignore[arg-type]


def test_required_fields_constant() -> None:
    assert REQUIRED_FIELDS == (
        "userId",
        "channelId",
        "startOffset",
        "endOffset",
        "timestamp",
        "messageCount",
    )
    assert list(json.loads(_msg()))[:6] == list(REQUIRED_FIELDS)


def test_transmission_is_hashable_and_frozen() -> None:
    parsed = parse_metadata_record(b"msg-1-25571", _msg(reactions={"👍": ["a"]}))
    assert isinstance(parsed, Transmission)
    assert hash(parsed) == hash(parse_metadata_record(b"msg-1-25571", _msg()))
    with pytest.raises(AttributeError):
        parsed.user_id = "eve"  # type: ignore[misc]
