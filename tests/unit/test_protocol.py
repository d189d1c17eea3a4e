"""Topics, names, audio records and transmission records (docs/protocol.md, sections 2-5.3)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chok.errors import UsageError
from chok.protocol import (
    MAX_COUNT,
    MAX_FRAMES,
    MAX_SEQ,
    REQUIRED_FIELDS,
    SILENCE_MARKER,
    SUPPORTED_EMOJI,
    AudioFrame,
    EndOfTransmission,
    SilenceRun,
    TopicRef,
    Transmission,
    audio_topic,
    build_audio_frame,
    build_end_of_transmission,
    build_transmission,
    fill_gaps,
    is_emoji,
    is_silence,
    is_tx_id,
    may_omit,
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
    validate_tx_id,
    validate_user_name,
)

TX = "8f3a5c0e"
TX_BYTES = bytes.fromhex(TX)
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
    assert tx_id_from_bytes(TX_BYTES) == TX
    assert tx_id_from_bytes(b"\x00\x00\x00\x01") == "00000001"
    for raw in (b"123", b"12345", bytes(8), bytearray(4), "8f3a5c0e"):
        with pytest.raises(UsageError, match="exactly 4 random bytes"):
            tx_id_from_bytes(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize("tx_id", ["8f3a5c0e", "00000000", "ffffffff", "0123abcd"])
def test_valid_tx_ids(tx_id: str) -> None:
    assert is_tx_id(tx_id) and validate_tx_id(tx_id) == tx_id


@pytest.mark.parametrize(
    "tx_id",
    ["8F3A5C0E", "8f3a5c0", "8f3a5c0e0", "8f3a5c0e1b2d4f67", "8f3a5c0g", " 8f3a5c0", "", None, 1],
)
def test_invalid_tx_ids(tx_id: object) -> None:
    assert not is_tx_id(tx_id)
    with pytest.raises(UsageError, match="8 lowercase hex characters"):
        validate_tx_id(tx_id)


# --- audio records --------------------------------------------------------------------


def test_samples_per_frame() -> None:
    assert [samples_per_frame(ms) for ms in (20, 40, 60)] == [960, 1920, 2880]


@pytest.mark.parametrize("size", [0, 1, 2, 24])
def test_short_packets_become_silence_marker(size: int) -> None:
    record = build_audio_frame("dan", TX, 3, b"\x07" * size)
    assert record.value == SILENCE_MARKER == b"\x00\x00"
    parsed = parse_audio_record(*record)
    assert isinstance(parsed, AudioFrame) and parsed.is_silence_marker


def test_packets_of_25_bytes_or_more_are_sent_as_they_are() -> None:
    for size in (25, 26, 400):
        packet = bytes([1]) * size
        assert not is_silence(packet)
        assert build_audio_frame("dan", TX, 0, packet).value == packet
    assert build_audio_frame("dan", TX, 0, bytearray(PACKET)).value == PACKET  # type: ignore[arg-type]
    assert build_audio_frame("dan", TX, 0, memoryview(PACKET)).value == PACKET  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seq", "frame_ms", "header"),
    [
        (0, 60, "238f3a5c0e000000"),
        (1, 40, "228f3a5c0e000001"),
        (0x0A0B0C, 20, "218f3a5c0e0a0b0c"),
        (MAX_SEQ, 20, "218f3a5c0effffff"),
    ],
)
def test_audio_frame_round_trip(seq: int, frame_ms: int, header: str) -> None:
    record = build_audio_frame("ann-2", TX, seq, PACKET, frame_ms)
    assert record.key == b"ann-2" and record.value == PACKET
    assert record.headers == [("chok", bytes.fromhex(header))]
    parsed = parse_audio_record(record.key, record.value, record.headers)
    assert parsed == AudioFrame("ann-2", TX, seq, frame_ms, PACKET)
    assert parsed.samples == 48 * frame_ms and not parsed.is_original_app
    # the headers as a tuple, as some clients return them
    assert parse_audio_record(record.key, record.value, tuple(record.headers)) == parsed


@pytest.mark.parametrize(
    ("frames", "duration_ms", "frame_ms", "header"),
    [
        (17, 1020, 60, "238f3a5c0e000011000003fc000000"),
        (1, 0, 20, "218f3a5c0e00000100000000000000"),
        (MAX_FRAMES, 2**32 - 1, 40, "228f3a5c0effffffffffffff000000"),
    ],
)
def test_end_of_transmission_round_trip(
    frames: int, duration_ms: int, frame_ms: int, header: str
) -> None:
    record = build_end_of_transmission("dan", TX, frames, duration_ms, frame_ms=frame_ms)
    assert record.key == b"dan" and record.value == b""
    assert record.headers == [("chok-end", bytes.fromhex(header))]
    assert parse_audio_record(*record) == EndOfTransmission(
        "dan", TX, frames, duration_ms, frame_ms
    )


def test_end_of_transmission_defaults_to_60_ms() -> None:
    record = build_end_of_transmission("dan", TX, 17, 1020)
    assert parse_audio_record(*record) == EndOfTransmission("dan", TX, 17, 1020)
    with pytest.raises(TypeError):
        build_end_of_transmission("dan", TX, 17, 1020, 60)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("dan smith", TX, 0, PACKET, 60), "user name"),
        (("dan", "ABCDEF01", 0, PACKET, 60), "transmission id"),
        (("dan", TX[:-1], 0, PACKET, 60), "transmission id"),
        (("dan", "8f3a5c0e1b2d4f67", 0, PACKET, 60), "transmission id"),
        (("dan", TX_BYTES, 0, PACKET, 60), "transmission id"),
        (("dan", TX, -1, PACKET, 60), "sequence number"),
        (("dan", TX, MAX_SEQ + 1, PACKET, 60), "sequence number"),
        (("dan", TX, True, PACKET, 60), "sequence number"),
        (("dan", TX, 0, PACKET, 10), "frame duration"),
        (("dan", TX, 0, PACKET, 60.0), "frame duration"),
        (("dan", TX, 0, "packet", 60), "bytes"),
    ],
)
def test_build_audio_frame_rejects(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        build_audio_frame(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "frame_ms", "message"),
    [
        (("dan smith", TX, 1, 60), 60, "user name"),
        (("dan", "8f3a5c0e1b2d4f67", 1, 60), 60, "transmission id"),
        (("dan", TX, 0, 0), 60, "frame count"),
        (("dan", TX, -1, 0), 60, "frame count"),
        (("dan", TX, MAX_FRAMES + 1, 0), 60, "frame count"),
        (("dan", TX, 1.0, 60), 60, "frame count"),
        (("dan", TX, 1, -1), 60, "duration"),
        (("dan", TX, 1, 2**32), 60, "duration"),
        (("dan", TX, 1, False), 60, "duration"),
        (("dan", TX, 1, 60), 30, "frame duration"),
    ],
)
def test_build_end_rejects(args: tuple[object, ...], frame_ms: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        build_end_of_transmission(*args, frame_ms=frame_ms)  # type: ignore[arg-type]


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


def _header(
    first: int = 0x23, tx: bytes = TX_BYTES, seq: bytes = b"\x00\x00\x07", extra: bytes = b""
) -> bytes:
    return bytes([first]) + tx + seq + extra


def _end(first: int = 0x23, frames: bytes = b"\x00\x00\x03", rest: bytes = bytes(7)) -> bytes:
    return bytes([first]) + TX_BYTES + frames + rest


@pytest.mark.parametrize(
    "headers",
    [
        [("chok", _header(first=0x13))],  # version 1
        [("chok", _header(first=0x33))],  # version 3
        [("chok", _header(first=0x03))],  # version 0
        [("chok", _header(first=0x20))],  # frame code 0
        [("chok", _header(first=0x24))],  # frame code 4
        [("chok", _header(first=0x2F))],  # frame code 15
        [("chok", _header()[:7])],
        [("chok", _header(extra=b"\x00"))],
        [("chok", b"")],
        [("chok", _end())],  # an end header on a frame
        [("chok", None)],
        [("chok", bytearray(_header()))],
        [("chok", _header()), ("chok", _header())],
        [("chok", _header()), ("chok", None)],
        [("chok", None), ("chok", _header())],
        [("chok", _header()), "not a tuple"],
        [("chok", _header()), ("x", b"1", b"2")],
        [("Chok", _header())],
        [("chok ", _header())],
        [
            ("chok-v", b"1"),
            ("chok-tx", b"8f3a5c0e1b2d4f67"),
            ("chok-seq", b"7"),
            ("chok-fms", b"60"),
        ],
        None,
        [],
        "chok=238f3a5c0e000007",
        {"chok": _header()},
    ],
)
def test_malformed_chok_headers_make_an_original_frame(headers: object) -> None:
    parsed = parse_audio_record(b"dan", PACKET, headers)  # type: ignore[arg-type]
    assert parsed == AudioFrame(None, None, None, 60, PACKET)
    # without a value there is nothing to play: skipped
    assert parse_audio_record(b"dan", b"", headers) is None  # type: ignore[arg-type]


def test_odd_header_names_are_unknown_headers() -> None:
    headers: Any = [
        (["unhashable"], b"1"),
        (None, None),
        ("CHOK", b"x"),
        ("chok-end", None),  # an end header on a frame is ignored, even a null one
        ("chok", _header()),
        (b"chok", b"bytes name"),
    ]
    assert parse_audio_record(b"dan", PACKET, headers) == AudioFrame("dan", TX, 7, 60, PACKET)


def test_any_transmission_id_bytes_and_seq() -> None:
    for raw in (b"\x00" * 4, b"\xff" * 4, b"\x00\x00\x00\x01"):
        headers = [("chok", bytes([0x22]) + raw + b"\xff\xff\xfe")]
        assert parse_audio_record(b"dan", PACKET, headers) == AudioFrame(
            "dan", raw.hex(), 0xFFFFFE, 40, PACKET
        )


@pytest.mark.parametrize("key", [b"user one", b"", b"\xc3\xa9", b"a" * 65, None, "dan"])
def test_chok_frame_with_bad_key_is_an_original_frame(key: object) -> None:
    headers = [("chok", _header())]
    parsed = parse_audio_record(key, PACKET, headers)  # type: ignore[arg-type]
    assert parsed == AudioFrame(None, None, None, 60, PACKET)
    assert parse_audio_record(key, b"", [("chok-end", _end())]) is None  # type: ignore[arg-type]


def test_empty_value_needs_end_header() -> None:
    assert parse_audio_record(b"dan", b"", [("chok", _header())]) is None
    assert parse_audio_record(b"dan", None, [("chok", _header())]) is None
    assert parse_audio_record(b"dan", bytearray(), [("chok-end", _end())]) is None  # type: ignore[arg-type]
    end = build_end_of_transmission("dan", TX, 3, 180)
    assert parse_audio_record(end.key, None, end.headers) is None
    # on a non-empty value, an end header is ignored: an original-app frame
    original = AudioFrame(None, None, None, 60, PACKET)
    assert parse_audio_record(end.key, PACKET, end.headers) == original
    # a frame header next to the end header is ignored
    headers = [("chok", b"junk"), *end.headers, ("chok", None)]
    assert parse_audio_record(end.key, b"", headers) == EndOfTransmission("dan", TX, 3, 180)


@pytest.mark.parametrize(
    "headers",
    [
        [("chok-end", _end(first=0x13))],
        [("chok-end", _end(first=0x24))],
        [("chok-end", _end(first=0x20))],
        [("chok-end", _end(frames=b"\x00\x00\x00"))],
        [("chok-end", _end()[:14])],
        [("chok-end", _end() + b"\x00")],
        [("chok-end", _header())],
        [("chok-end", None)],
        [("chok-end", _end()), ("chok-end", _end())],
        [("chok-end", _end()), ("chok-end", None)],
        [("chok-end", _end()), ("x",)],
        [("CHOK-END", _end())],
        [("chok-end", b"2"), ("chok-v", b"1"), ("chok-tx", b"8f3a5c0e1b2d4f67")],
        [("chok-v", b"1"), ("chok-tx", b"8f3a5c0e1b2d4f67"), ("chok-end", b"2")],
    ],
)
def test_malformed_end_headers_are_skipped(headers: object) -> None:
    assert parse_audio_record(b"dan", b"", headers) is None  # type: ignore[arg-type]


def test_end_reserved_bytes_are_ignored() -> None:
    rest = b"\x00\x00\x01\x68" + b"\xff\xfe\xfd"
    parsed = parse_audio_record(b"dan", b"", [("chok-end", _end(rest=rest))])
    assert parsed == EndOfTransmission("dan", TX, 3, 360)


# --- silence suppression (section 4.5) --------------------------------------------------


def test_is_silence() -> None:
    assert is_silence(b"") and is_silence(SILENCE_MARKER) and is_silence(bytes(24))
    assert not is_silence(bytes(25)) and not is_silence(PACKET)


def test_may_omit() -> None:
    short, long = b"\x01\x02\x03", PACKET
    assert not may_omit(short, None)  # the first frame is always sent
    assert not may_omit(long, None)
    assert not may_omit(short, long)  # the first frame of a pause is sent
    assert may_omit(short, short)
    assert may_omit(b"", SILENCE_MARKER)
    assert not may_omit(long, short)


def test_talker_sequence_with_suppression() -> None:
    """A talker that omits what it may sends the first frame of each run of silence."""
    speech = [b"S" * 40, b"", b"\x01", b"\x02", b"S" * 30, b"", b"S" * 50, b"", b"", b""]
    previous: bytes | None = None
    records = []
    for seq, packet in enumerate(speech):
        if not may_omit(packet, previous):
            records.append(build_audio_frame("dan", TX, seq, packet))
        previous = packet
    sent = [parse_audio_record(*record) for record in records]
    assert [(f.seq, f.is_silence_marker) for f in sent if isinstance(f, AudioFrame)] == [
        (0, False),
        (1, True),
        (4, False),
        (5, True),
        (6, False),
        (7, True),
    ]
    # the receiver rebuilds every frame but the trailing silence, which the end record counts
    rebuilt: list[AudioFrame] = []
    for frame in sent:
        assert isinstance(frame, AudioFrame)
        rebuilt.extend(fill_gaps(len(rebuilt), frame))
        rebuilt.append(frame)
    assert [f.seq for f in rebuilt] == list(range(8))
    expected_values = [build_audio_frame("dan", TX, 0, p).value for p in speech]
    assert [f.packet for f in rebuilt] == expected_values[:8]
    end = parse_audio_record(*build_end_of_transmission("dan", TX, len(speech), 600))
    assert isinstance(end, EndOfTransmission)
    tail = SilenceRun("dan", TX, end.frame_ms, len(rebuilt), end.frames)
    assert [f.packet for f in [*rebuilt, *tail]] == expected_values


def test_fill_gaps() -> None:
    frame = AudioFrame("dan", TX, 5, 20, PACKET)
    gap = fill_gaps(2, frame)
    assert isinstance(gap, SilenceRun) and len(gap) == 3 and gap.duration_ms == 60
    assert list(gap) == [AudioFrame("dan", TX, seq, 20, SILENCE_MARKER) for seq in (2, 3, 4)]
    assert fill_gaps(5, frame) == () and fill_gaps(6, frame) == () and fill_gaps(99, frame) == ()
    assert len(fill_gaps(0, frame)) == 5
    assert fill_gaps(0, AudioFrame(None, None, None, 60, PACKET)) == ()
    for bad in (-1, True, 1.0, None, MAX_COUNT + 1):
        with pytest.raises(UsageError, match="expected sequence number"):
            fill_gaps(bad, frame)  # type: ignore[arg-type]


def test_a_huge_gap_costs_nothing_until_played() -> None:
    headers = [("chok", bytes([0x21]) + TX_BYTES + b"\xff\xff\xff")]
    frame = parse_audio_record(b"dan", PACKET, headers)
    assert isinstance(frame, AudioFrame)
    gap = fill_gaps(0, frame)
    assert isinstance(gap, SilenceRun)
    assert len(gap) == MAX_SEQ and gap.duration_ms == MAX_SEQ * 20
    assert gap[0].seq == 0 and gap[-1].seq == MAX_SEQ - 1
    assert next(iter(gap)).seq == 0
    assert AudioFrame("dan", TX, 123456, 20, SILENCE_MARKER) in gap


def test_silence_run_sequence() -> None:
    run = SilenceRun("dan", TX, 60, 10, 14)
    frames = [AudioFrame("dan", TX, seq, 60, SILENCE_MARKER) for seq in range(10, 14)]
    assert list(run) == frames and len(run) == 4
    assert run[0] == frames[0] and run[-1] == frames[-1] and run[2] == frames[2]
    assert run[1:3] == SilenceRun("dan", TX, 60, 11, 13)
    assert list(run[::2]) == frames[::2] and list(run[::-1]) == frames[::-1]
    assert list(reversed(run)) == frames[::-1]
    assert run.index(frames[1]) == 1 and run.count(frames[1]) == 1
    assert frames[3] in run
    assert AudioFrame("dan", TX, 14, 60, SILENCE_MARKER) not in run
    assert AudioFrame("dan", TX, 12, 60, PACKET) not in run
    assert AudioFrame("eve", TX, 12, 60, SILENCE_MARKER) not in run
    assert "frame" not in run  # type: ignore[comparison-overlap]
    with pytest.raises(IndexError):
        run[4]
    assert len(SilenceRun("dan", TX, 60, 3, 3)) == 0
    assert hash(run) == hash(SilenceRun("dan", TX, 60, 10, 14))
    # as long as a transmission record may say (chokFrames up to MAX_COUNT)
    assert len(SilenceRun("dan", TX, 60, 0, MAX_COUNT)) == MAX_COUNT


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("dan smith", TX, 60, 0, 1), "user name"),
        (("dan", "nope", 60, 0, 1), "transmission id"),
        (("dan", TX, 30, 0, 1), "frame duration"),
        (("dan", TX, 60, -1, 1), "first sequence number"),
        (("dan", TX, 60, 2, 1), "end sequence number"),
        (("dan", TX, 60, 0, MAX_COUNT + 1), "end sequence number"),
    ],
)
def test_silence_run_rejects(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        SilenceRun(*args)  # type: ignore[arg-type]


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
        {"chokV": 1},
        {"chokV": 3},
        {"chokV": True},
        {"chokV": "2"},
        {"chokV": 2.0},
        {"chokTx": "8F3A5C0E"},
        {"chokTx": "8f3a5c0e1b2d4f67"},
        {"chokTx": "8f3a5c0"},
        {"chokTx": None},
        {"chokFrames": 0},
        {"chokFrames": MAX_COUNT + 1},
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
        "chokV": 2,
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


@pytest.mark.parametrize("frames", [1, 34, 35, 1000, MAX_COUNT])
def test_chok_frames_may_exceed_the_span(frames: int) -> None:
    """Frames left out as silence count in chokFrames but not in the offsets (section 5.1)."""
    details = {"chokV": 2, "chokTx": TX, "chokFrames": frames, "chokFrameMs": 60}
    parsed = parse_metadata_record(
        b"msg-1-25571", _msg(chokDurationMs=min(frames * 60, MAX_COUNT), **details)
    )
    assert isinstance(parsed, Transmission) and parsed.has_talk_details
    assert parsed.frames == frames and parsed.span == 34 and parsed.message_count == 34
    built = build_transmission(
        user="dan",
        channel=1,
        start_offset=25571,
        end_offset=25604,
        timestamp_ms=1704825600000,
        tx_id=TX,
        frames=frames,
        duration_ms=parsed.duration_ms,
        frame_ms=60,
    )
    assert parse_metadata_record(built.key(), built.to_value()) == built
    assert b'"chokV":2,"chokTx":"8f3a5c0e",' in built.to_value()


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
        ({"tx_id": "8f3a5c0e1b2d4f67"}, "transmission id"),
        ({"frames": 0}, "frame count"),
        ({"frames": MAX_COUNT + 1}, "frame count"),
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
