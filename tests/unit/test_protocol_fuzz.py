"""Random and mutated input: the parsers never raise and only return what they promise."""

from __future__ import annotations

import json
import random
from typing import Any

from chok.errors import BadBundleError
from chok.protocol import (
    MAX_SEQ,
    SILENCE_MARKER,
    AudioFrame,
    ClientConfig,
    EndOfTransmission,
    ReactionRecord,
    Transmission,
    build_audio_frame,
    build_end_of_transmission,
    build_transmission,
    fill_gaps,
    is_tx_id,
    may_omit,
    parse_audio_record,
    parse_client_config,
    parse_metadata_record,
)

TX = "8f3a5c0e"
OLD_TX = "8f3a5c0e1b2d4f67"
CASES = 3000

VALID_METADATA = [
    (
        b"msg-1-25571",
        b'{"userId":"dan","channelId":1,"startOffset":25571,"endOffset":25604,'
        b'"timestamp":1704825600000,"messageCount":34,"reactions":{}}',
    ),
    (
        b"msg-2-10",
        build_transmission(
            user="ann",
            channel=2,
            start_offset=10,
            end_offset=20,
            timestamp_ms=99,
            tx_id=TX,
            frames=40,  # more than the 11 offsets: silence frames left out
            duration_ms=2400,
            frame_ms=60,
            reactions={"👍": ["bob"], "❤️": ["ann"]},
        ).to_value(),
    ),
    (
        ReactionRecord(1, 25571, "ann", "🔥", True, 1).key(),
        ReactionRecord(1, 25571, "ann", "🔥", True, 1).to_value(),
    ),
]

ATOMS: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    60,
    2**63,
    -(2**63) - 1,
    1.5,
    "",
    "dan",
    TX,
    OLD_TX,
    "👍",
    [],
    {},
    ["a"],
    {"👍": ["a"]},
    {"👍": "a"},
]
FIELDS = [
    "userId",
    "channelId",
    "startOffset",
    "endOffset",
    "timestamp",
    "messageCount",
    "reactions",
    "chokV",
    "chokTx",
    "chokFrames",
    "chokDurationMs",
    "chokFrameMs",
    "chokMapFromReactions",
    "chokReaction",
    "target",
    "user",
    "emoji",
    "on",
    "ts",
]


def _random_bytes(rng: random.Random, most: int = 64) -> bytes:
    return rng.randbytes(rng.randint(0, most))


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(4)
        at = rng.randint(0, len(buf))
        if choice == 0 and buf:
            buf[min(at, len(buf) - 1)] = rng.randrange(256)
        elif choice == 1:
            del buf[at : at + rng.randint(1, 8)]
        elif choice == 2:
            buf[at:at] = rng.choice([b"0", b"-", b'"', b"{", b"}", b",", b"\xff", b"9" * 30])
        else:
            del buf[at:]
    return bytes(buf)


def _check_audio(key: object, value: object, headers: object) -> None:
    result = parse_audio_record(key, value, headers)  # type: ignore[arg-type]
    assert result is None or isinstance(result, AudioFrame | EndOfTransmission)
    if isinstance(result, AudioFrame):
        assert result.packet == value and result.frame_ms in (20, 40, 60)
        assert (result.tx_id is None) == (result.seq is None) == (result.talker is None)
        if result.seq is not None:
            assert is_tx_id(result.tx_id) and 0 <= result.seq <= MAX_SEQ
            assert result.talker is not None and result.talker.encode() == key
            rebuilt = build_audio_frame(
                result.talker, result.tx_id, result.seq, result.packet, result.frame_ms
            )
            if len(result.packet) >= 25 or result.packet == SILENCE_MARKER:
                assert parse_audio_record(*rebuilt) == result
    elif isinstance(result, EndOfTransmission):
        assert value == b""
        rebuilt = build_end_of_transmission(
            result.talker, result.tx_id, result.frames, result.duration_ms, frame_ms=result.frame_ms
        )
        assert parse_audio_record(*rebuilt) == result


def test_random_audio_records() -> None:
    rng = random.Random(20240109)
    names = ["chok", "chok-end", "chok-v", "chok-tx", "chok-seq", "Chok", "x"]
    values: list[bytes | None] = [
        None,
        b"",
        b"1",
        TX.encode(),
        b"\xff",
        build_audio_frame("dan", TX, 3, b"").headers[0][1],
        build_end_of_transmission("dan", TX, 4, 240).headers[0][1],
    ]
    for _ in range(CASES):
        headers: list[tuple[str, bytes | None]] | None = None
        if rng.random() < 0.8:
            headers = [
                (
                    rng.choice(names),
                    rng.choice(
                        [*values, _random_bytes(rng, 20), rng.randbytes(rng.choice([8, 15]))]
                    ),
                )
                for _ in range(rng.randint(0, 4))
            ]
        key = rng.choice([None, b"user1", b"dan", _random_bytes(rng, 10)])
        value = rng.choice([None, b"", b"\x00\x00", _random_bytes(rng, 300)])
        _check_audio(key, value, headers)


def test_random_binary_headers() -> None:
    """Every 8-byte ``chok`` value: a chok frame iff byte 0 is 21, 22 or 23."""
    rng = random.Random(8)
    for _ in range(CASES):
        raw = rng.randbytes(8)
        if rng.random() < 0.5:
            raw = bytes([rng.choice([0x21, 0x22, 0x23])]) + raw[1:]
        parsed = parse_audio_record(b"ann", b"\x00\x00", [("chok", raw)])
        assert isinstance(parsed, AudioFrame)
        if raw[0] in (0x21, 0x22, 0x23):
            assert parsed.frame_ms == 20 * (raw[0] - 0x20)
            assert parsed.tx_id == raw[1:5].hex()
            assert parsed.seq == int.from_bytes(raw[5:], "big")
        else:
            assert parsed.is_original_app
        end = rng.randbytes(15)
        _check_audio(b"ann", b"", [("chok-end", end)])


def test_mutated_audio_headers() -> None:
    rng = random.Random(7)
    frame = build_audio_frame("dan", TX, 12, bytes(range(40)))
    end = build_end_of_transmission("dan", TX, 13, 780)
    for _ in range(CASES):
        record = rng.choice([frame, end])
        headers = [
            (name, _mutate(rng, value) if rng.random() < 0.5 else value)
            for name, value in record.headers
        ]
        if rng.random() < 0.2:
            headers.append(rng.choice(headers))
        result = parse_audio_record(record.key, record.value, headers)
        if record is frame:
            assert isinstance(result, AudioFrame)  # a frame is never dropped
        else:
            assert result is None or isinstance(result, EndOfTransmission)
        _check_audio(record.key, record.value, headers)


def test_random_silence_suppression() -> None:
    """Whatever a talker omits, fill_gaps gives the receiver back every frame up to the last."""
    rng = random.Random(11)
    for _ in range(CASES // 10):
        packets = [rng.choice([b"", b"\x01" * 10, bytes(range(30))]) for _ in range(40)]
        previous: bytes | None = None
        sent = []
        for seq, packet in enumerate(packets):
            if rng.random() < 0.2 or not may_omit(packet, previous):
                sent.append(parse_audio_record(*build_audio_frame("ann", TX, seq, packet)))
            previous = packet
        assert sent and isinstance(sent[0], AudioFrame) and sent[0].seq == 0
        played: list[AudioFrame] = []
        for frame in sent:
            assert isinstance(frame, AudioFrame) and frame.seq is not None
            gap = fill_gaps(len(played), frame)
            assert len(gap) == frame.seq - len(played)
            played.extend(gap)
            played.append(frame)
        assert [f.seq for f in played] == list(range(len(played)))
        expected = [build_audio_frame("ann", TX, 0, p).value for p in packets]
        assert [f.packet for f in played] == expected[: len(played)]
        assert all(p == SILENCE_MARKER for p in expected[len(played) :])


def _check_metadata(key: bytes | None, value: bytes | None) -> None:
    result = parse_metadata_record(key, value)
    assert result is None or isinstance(result, Transmission | ReactionRecord)
    if result is not None:
        assert key == result.key()
        # whatever was read, chok writes it back in a form that reads the same
        assert parse_metadata_record(result.key(), result.to_value()) == result


def test_random_metadata_records() -> None:
    rng = random.Random(42)
    prefixes = [b"", b"msg-", b"msg-1-", b"chok-react-", b"chok-react-1-2-ann-"]
    for _ in range(CASES):
        key = rng.choice([None, rng.choice(prefixes) + _random_bytes(rng, 12)])
        value = rng.choice([None, b"", _random_bytes(rng, 200)])
        _check_metadata(key, value)


def test_mutated_metadata_records() -> None:
    rng = random.Random(1704825600)
    for _ in range(CASES):
        key, value = rng.choice(VALID_METADATA)
        if rng.random() < 0.2:
            key = _mutate(rng, key)
        _check_metadata(key, _mutate(rng, value))


def test_random_json_objects() -> None:
    rng = random.Random(3)
    for _ in range(CASES):
        key, value = rng.choice(VALID_METADATA)
        obj = json.loads(value)
        for _ in range(rng.randint(1, 3)):
            obj[rng.choice(FIELDS)] = rng.choice(ATOMS)
        if rng.random() < 0.2:
            obj.pop(rng.choice(FIELDS), None)
        _check_metadata(key, json.dumps(obj, ensure_ascii=rng.random() < 0.5).encode())


def test_random_client_configs() -> None:
    rng = random.Random(9)
    valid = (
        b'{"brokerUrl":"h:1","channels":[{"channelNumber":1,"channelName":"Main",'
        b'"audioTopic":"chok-audio-1","audioPartition":0,"metadataTopic":"chok-metadata-1",'
        b'"metadataPartition":0}],"certificates":{"caAssetName":"ca.pem",'
        b'"clientKeyAssetName":"client.key","clientCertAssetName":"client.pem"}}'
    )
    assert isinstance(parse_client_config(valid), ClientConfig)
    for _ in range(CASES // 3):
        data = _mutate(rng, valid) if rng.random() < 0.8 else _random_bytes(rng, 100)
        try:
            config = parse_client_config(data)
        except BadBundleError:
            continue
        assert parse_client_config(config.to_json()) == config
