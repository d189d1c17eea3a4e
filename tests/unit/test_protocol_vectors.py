"""The test vectors of docs/protocol.md, section 8, read out of the document itself."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from chok.protocol import (
    AudioFrame,
    ChannelConfig,
    ClientConfig,
    EndOfTransmission,
    ReactionRecord,
    Transmission,
    audio_topic,
    build_audio_frame,
    build_end_of_transmission,
    build_transmission,
    effective_reactions,
    fill_gaps,
    may_omit,
    metadata_topic,
    parse_audio_record,
    parse_client_config,
    parse_metadata_record,
    parse_topic,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
_BLOCK = re.compile(r"^```(chok-vector(?:-file)?|chok-bytes) (\S+)\n(.*?)^```$", re.M | re.S)


@dataclass
class Rec:
    key: bytes | None = None
    value: bytes | None = None
    headers: list[tuple[str, bytes | None]] | None = None


def _records(body: str) -> list[Rec]:
    records: list[Rec] = []
    for chunk in body.split("\n\n"):
        rec = Rec()
        lines = [line for line in chunk.splitlines() if line and not line.startswith("#")]
        if not lines:
            continue
        for line in lines:
            if line == "value.null":
                rec.value = None
                continue
            field, _, text = line.partition(":")
            text = text[1:] if text.startswith(" ") else text
            if field == "key":
                rec.key = text.encode("utf-8")
            elif field == "key.hex":
                rec.key = bytes.fromhex(text)
            elif field == "value":
                rec.value = text.encode("utf-8")
            elif field == "value.hex":
                rec.value = bytes.fromhex(text)
            elif field == "header":
                name, _, header_value = text.partition(" = ")
                rec.headers = (rec.headers or []) + [(name, header_value.encode("utf-8"))]
            elif field == "header.hex":
                name, _, header_value = text.partition(" = ")
                rec.headers = (rec.headers or []) + [(name, bytes.fromhex(header_value))]
            elif field == "header.null":
                rec.headers = (rec.headers or []) + [(text, None)]
            else:
                raise AssertionError(f"unknown vector line {line!r}")
        records.append(rec)
    return records


def _load() -> tuple[dict[str, list[Rec]], dict[str, bytes], dict[str, bytes]]:
    vectors: dict[str, list[Rec]] = {}
    files: dict[str, bytes] = {}
    raw: dict[str, bytes] = {}
    for kind, name, body in _BLOCK.findall(DOC.read_text(encoding="utf-8")):
        assert name not in vectors | files | raw, f"vector {name} defined twice"
        if kind == "chok-vector-file":
            files[name] = body.encode("utf-8")
        elif kind == "chok-bytes":
            raw[name] = bytes.fromhex(body)
        else:
            vectors[name] = _records(body)
    return vectors, files, raw


VECTORS, FILES, BYTES = _load()
TX = "8f3a5c0e"
ORIGINAL = (
    b'{"userId":"dan","channelId":1,"startOffset":25571,"endOffset":25604,'
    b'"timestamp":1704825600000,"messageCount":34,"reactions":{}}'
)


def one(name: str) -> Rec:
    (rec,) = VECTORS[name]
    return rec


def test_all_vectors_found() -> None:
    expected = {
        "audio-frame",
        "audio-silence",
        "audio-gap",
        "audio-frame-20ms",
        "audio-end",
        "audio-end-reserved",
        "audio-original",
        "audio-malformed-headers",
        "skip-audio",
        "msg-original",
        "msg-chok",
        "msg-v1-details",
        "msg-map-refresh",
        "skip-msg",
        "reaction-on",
        "reaction-off",
        "skip-reaction",
        # section 9, checked by test_family_vectors.py
        "msg-chok-named",
        "msg-deleted",
        "presence",
        "profile",
        "heard",
        "access",
        "skip-family",
    }
    # Sections 9 and 10 (tests/unit/test_signing_vectors.py checks them).
    signing = {"cert-dan", "msg-signed", "msg-signed-refresh", "audio-end-signed"}
    signing |= {"reaction-signed", "revoked", "forged-msg"}
    private = {"wrapped-key", "sealed-frames", "sealed-msg", "sealed-reaction"}
    assert set(VECTORS) == expected | signing | private
    assert set(FILES) == {"client-config"}
    identities = {
        f"{kind}-{who}" for kind in ("key", "der") for who in ("ca", "dan", "ann", "admin")
    }
    derived = {"frames-digest", "msg-signed-message", "end-signed-message", "epoch-key"}
    derived |= {"key-ephemeral", "frame-key"}
    assert set(BYTES) == {"header-section-audio-frame"} | identities | derived


def test_reference_example_is_in_the_doc_verbatim() -> None:
    assert one("msg-original").value == ORIGINAL


def test_topic_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    for n in (1, 2, 2147483647):
        assert f"| {n} | `{audio_topic(n)}` | `{metadata_topic(n)}` |" in text
    section = text.split("Not channel topics:")[1].split("\n\n")[0]
    bad = re.findall(r"`([^`]+)`", section)
    assert len(bad) == 7
    for name in bad:
        assert parse_topic(name) is None, name


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("audio-frame", ("dan", TX, 0, bytes(range(1, 31)), 60)),
        ("audio-silence", ("dan", TX, 1, bytes.fromhex("f8fffe"), 60)),
        ("audio-gap", ("dan", TX, 5, bytes(range(31, 61)), 60)),
        ("audio-frame-20ms", ("ann-2", "00000001", 70000, bytes([0x55] * 25), 20)),
    ],
)
def test_audio_frame_vectors(name: str, args: tuple[str, str, int, bytes, int]) -> None:
    rec = one(name)
    built = build_audio_frame(*args)
    headers = rec.headers or []
    if name == "audio-frame-20ms":  # the doc adds a foreign header, which is ignored
        assert headers[1:] == [("trace", b"abc")]
        headers = headers[:1]
    assert (built.key, built.value, built.headers) == (rec.key, rec.value, headers)
    assert len(built.headers) == 1 and len(built.headers[0][1]) == 8
    talker, tx_id, seq, _packet, frame_ms = args
    parsed = parse_audio_record(rec.key, rec.value, rec.headers)
    assert parsed == AudioFrame(talker, tx_id, seq, frame_ms, built.value)
    assert parsed.is_silence_marker == (name == "audio-silence")


def test_audio_gap_vector() -> None:
    """The story of section 8.2: frames 0, 1, (2, 3, 4 left out), 5, end of 6 frames."""
    previous: bytes | None = None
    packets = [bytes(range(1, 31)), bytes.fromhex("f8fffe"), b"", b"\x01", b"\x00" * 24]
    packets.append(bytes(range(31, 61)))
    sent = []
    for seq, packet in enumerate(packets):
        if not may_omit(packet, previous):
            sent.append(seq)
        previous = packet
    assert sent == [0, 1, 5]
    received = [
        parse_audio_record(r.key, r.value, r.headers)
        for r in (one("audio-frame"), one("audio-silence"), one("audio-gap"))
    ]
    played: list[AudioFrame] = []
    expected = 0
    for frame in received:
        assert isinstance(frame, AudioFrame) and frame.seq is not None
        played.extend(fill_gaps(expected, frame))
        played.append(frame)
        expected = frame.seq + 1
    assert [frame.seq for frame in played] == [0, 1, 2, 3, 4, 5]
    assert [frame.is_silence_marker for frame in played] == [False, True, True, True, True, False]
    assert all((f.talker, f.tx_id, f.frame_ms) == ("dan", TX, 60) for f in played)
    end = parse_audio_record(one("audio-end").key, one("audio-end").value, one("audio-end").headers)
    assert isinstance(end, EndOfTransmission) and end.frames == len(played) == expected


def test_audio_end_vectors() -> None:
    rec = one("audio-end")
    built = build_end_of_transmission("dan", TX, 6, 360, frame_ms=60)
    assert (built.key, built.value, built.headers) == (rec.key, rec.value, rec.headers)
    assert len(built.headers) == 1 and len(built.headers[0][1]) == 15
    expected = EndOfTransmission("dan", TX, 6, 360)
    assert parse_audio_record(rec.key, rec.value, rec.headers) == expected
    reserved = one("audio-end-reserved")
    assert reserved.headers is not None
    assert reserved.headers[0][1] is not None and reserved.headers[0][1][12:] != bytes(3)
    assert parse_audio_record(reserved.key, reserved.value, reserved.headers) == expected


def _varint(number: int) -> bytes:
    """A Kafka (protobuf-style zigzag) varint."""
    zigzag = (number << 1) ^ (number >> 63)
    out = bytearray()
    while True:
        byte = zigzag & 0x7F
        zigzag >>= 7
        if zigzag:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _header_section(headers: list[tuple[str, bytes]]) -> bytes:
    """How Kafka's record format v2 writes a record's headers."""
    out = _varint(len(headers))
    for name, value in headers:
        out += _varint(len(name.encode())) + name.encode() + _varint(len(value)) + value
    return out


def test_bytes_on_the_wire() -> None:
    """Section 4.6: the header section costs 15 bytes (v1 text headers cost about 60)."""
    built = build_audio_frame("dan", TX, 0, bytes(range(1, 31)), 60)
    section = _header_section(built.headers)
    assert section == BYTES["header-section-audio-frame"] and len(section) == 15
    assert _header_section([]) == b"\x00"  # the original app's records: 1 byte
    v1 = [
        ("chok-v", b"1"),
        ("chok-tx", b"8f3a5c0e1b2d4f67"),
        ("chok-seq", b"100"),
        ("chok-fms", b"60"),
    ]
    assert len(_header_section(v1)) == 60
    text = DOC.read_text(encoding="utf-8")
    assert "4.16 KB/s" in text and "5.29 KB/s" in text and "4.25 KB/s" in text


def test_audio_original_vectors() -> None:
    frame, silence = VECTORS["audio-original"]
    assert frame.headers is None and frame.key == b"user1"
    parsed = parse_audio_record(frame.key, frame.value, frame.headers)
    assert parsed == AudioFrame(None, None, None, 60, frame.value or b"")
    assert not parsed.is_silence_marker and parsed.is_original_app
    assert fill_gaps(0, parsed) == ()
    parsed = parse_audio_record(silence.key, silence.value, silence.headers)
    assert isinstance(parsed, AudioFrame)
    assert parsed.is_silence_marker and parsed.talker is None and parsed.frame_ms == 60


def test_audio_malformed_header_vectors() -> None:
    records = VECTORS["audio-malformed-headers"]
    assert len(records) == 10
    for rec in records:
        parsed = parse_audio_record(rec.key, rec.value, rec.headers)
        assert parsed == AudioFrame(None, None, None, 60, rec.value or b""), rec


@pytest.mark.parametrize("name", ["skip-audio", "skip-msg", "skip-reaction"])
def test_skip_vectors(name: str) -> None:
    records = VECTORS[name]
    assert len(records) >= 5
    for rec in records:
        if name == "skip-audio":
            assert parse_audio_record(rec.key, rec.value, rec.headers) is None, rec
        else:
            assert parse_metadata_record(rec.key, rec.value) is None, rec


def test_msg_original_vector() -> None:
    rec = one("msg-original")
    parsed = parse_metadata_record(rec.key, rec.value, channel=1)
    assert parsed == Transmission("dan", 1, 25571, 25604, 1704825600000, 34, {})
    assert isinstance(parsed, Transmission)
    assert not parsed.has_talk_details
    assert (parsed.frames, parsed.frame_ms, parsed.duration_ms) == (34, 60, 2040)
    assert parsed.key() == rec.key


def test_msg_chok_vector() -> None:
    rec = one("msg-chok")
    built = build_transmission(
        user="dan",
        channel=1,
        start_offset=25571,
        end_offset=25604,
        timestamp_ms=1704825600000,
        tx_id=TX,
        frames=40,
        duration_ms=2400,
        frame_ms=60,
    )
    assert (built.key(), built.to_value()) == (rec.key, rec.value)
    parsed = parse_metadata_record(rec.key, rec.value)
    assert parsed == built
    assert isinstance(parsed, Transmission)
    assert (parsed.frames, parsed.duration_ms, parsed.message_count) == (40, 2400, 34)
    assert parsed.frames > parsed.span  # silence frames left out count (section 5.1)


def test_msg_v1_details_vector() -> None:
    rec = one("msg-v1-details")
    parsed = parse_metadata_record(rec.key, rec.value)
    assert parsed == parse_metadata_record(one("msg-original").key, ORIGINAL)
    assert isinstance(parsed, Transmission) and not parsed.has_talk_details


def test_msg_map_refresh_vector() -> None:
    original = parse_metadata_record(one("msg-original").key, ORIGINAL)
    assert isinstance(original, Transmission)
    refreshed = original.with_reactions({"❤️": ["dan"], "👍": ["bob", "ann"]})
    rec = one("msg-map-refresh")
    assert (refreshed.key(), refreshed.to_value()) == (rec.key, rec.value)
    assert rec.value is not None
    assert b'"reactions":{"\xf0\x9f\x91\x8d"' in rec.value
    assert b'"\xe2\x9d\xa4\xef\xb8\x8f":["dan"]' in rec.value
    parsed = parse_metadata_record(rec.key, rec.value)
    assert parsed == refreshed
    assert isinstance(parsed, Transmission) and parsed.map_from_reactions


@pytest.mark.parametrize(
    ("name", "record"),
    [
        ("reaction-on", ReactionRecord(1, 25571, "ann", "👍", True, 1704825660000)),
        ("reaction-off", ReactionRecord(1, 25571, "dan", "❤️", False, 1704825720000)),
    ],
)
def test_reaction_vectors(name: str, record: ReactionRecord) -> None:
    rec = one(name)
    assert (record.key(), record.to_value()) == (rec.key, rec.value)
    assert parse_metadata_record(rec.key, rec.value, channel=1) == record


def test_effective_reactions_worked_example() -> None:
    refresh = one("msg-map-refresh")
    msg = parse_metadata_record(refresh.key, refresh.value)
    assert isinstance(msg, Transmission)
    reactions = []
    for name in ("reaction-on", "reaction-off"):
        parsed = parse_metadata_record(one(name).key, one(name).value)
        assert isinstance(parsed, ReactionRecord)
        reactions.append(parsed)
    assert effective_reactions(msg.reactions, reactions) == {"👍": ["ann", "bob"]}


def test_client_config_file_vector() -> None:
    expected = FILES["client-config"]
    built = ClientConfig(
        broker_url="kafka.example.org:9093",
        channels=[ChannelConfig.standard(1, "Main"), ChannelConfig.standard(2, "Secondary")],
        extras={"chokUser": "dan", "chokVersion": 1, "chokSecurityProtocol": "SSL"},
    )
    assert built.to_json() == expected
    parsed = parse_client_config(expected)
    assert parsed == built
    assert parsed.to_json() == expected
