"""Every record parser, given hostile input: it never raises (beyond the documented
BadBundleError of a bundle or configuration file), returns only what it promises,
and what it accepts chok writes back in a form that reads the same.

Structured mutations of docs/protocol.md's vectors (hypothesis) plus random
bytes; each drawn record also feeds FAST byte-level mutations. The counts per
run are printed at the end of the test session.
"""

from __future__ import annotations

import io
import random
import zipfile
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from chok.errors import BadBundleError
from chok.protocol import (
    MAX_COUNT,
    MAX_SEQ,
    SILENCE_MARKER,
    AudioFrame,
    ClientConfig,
    EndOfTransmission,
    ReactionRecord,
    Transmission,
    build_audio_frame,
    build_end_of_transmission,
    effective_reactions,
    fill_gaps,
    is_emoji,
    is_tx_id,
    is_user_name,
    may_omit,
    normalize_reactions,
    parse_audio_record,
    parse_client_config,
    parse_metadata_record,
    parse_reaction_key,
    reaction_key,
)
from chok.protocol.bundle import MEMBERS, Bundle, read_bundle
from chok.protocol.display import iso_time, safe_emoji, safe_text, seconds_text
from tests.unit.fuzz_strategies import (
    CASES,
    CONFIG_SEED,
    audio_records,
    byte_mutations,
    fuzz_settings,
    metadata_records,
    mutate_bytes,
)

# -- properties -------------------------------------------------------------------------


def check_audio(key: Any, value: Any, headers: Any) -> AudioFrame | EndOfTransmission | None:
    CASES["audio"] += 1
    result = parse_audio_record(key, value, headers)
    if isinstance(value, bytes) and value:
        assert isinstance(result, AudioFrame), "a frame is never dropped"
    if isinstance(result, AudioFrame):
        assert result.packet == value and result.frame_ms in (20, 40, 60)
        assert (result.tx_id is None) == (result.seq is None) == (result.talker is None)
        assert len(fill_gaps(MAX_COUNT if key == b"dan" else 0, result)) <= MAX_SEQ
        if result.seq is not None:
            assert is_tx_id(result.tx_id) and 0 <= result.seq <= MAX_SEQ
            assert is_user_name(result.talker) and result.talker.encode() == key
            rebuilt = build_audio_frame(
                result.talker, result.tx_id, result.seq, result.packet, result.frame_ms
            )
            if len(result.packet) >= 25 or result.packet == SILENCE_MARKER:
                assert parse_audio_record(*rebuilt) == result
    elif isinstance(result, EndOfTransmission):
        assert value == b"" and result.frames >= 1 and is_user_name(result.talker)
        rebuilt = build_end_of_transmission(
            result.talker, result.tx_id, result.frames, result.duration_ms, frame_ms=result.frame_ms
        )
        assert parse_audio_record(*rebuilt) == result
    else:
        assert result is None
    return result


def _shown(tx: Transmission) -> None:
    """What the CLI and the app make of it for people never raises either."""
    safe_text(tx.user_id)
    iso_time(tx.timestamp_ms)
    seconds_text(tx.duration_ms)
    for emoji in tx.reactions:
        safe_emoji(emoji)


def check_metadata(key: Any, value: Any) -> Transmission | ReactionRecord | None:
    CASES["metadata"] += 1
    result = parse_metadata_record(key, value)
    if result is None:
        return None
    assert isinstance(result, Transmission | ReactionRecord)
    assert key == result.key()
    # whatever was read, chok writes it back in a form that reads the same
    assert parse_metadata_record(result.key(), result.to_value()) == result
    assert parse_metadata_record(key, value, channel=result.channel) == result
    assert (
        parse_metadata_record(key, value, channel=result.channel % 7 + 1 + result.channel) is None
    )
    if isinstance(result, Transmission):
        assert 0 <= result.start_offset <= result.end_offset <= 2**63 - 1
        assert normalize_reactions(result.reactions) == result.reactions
        details = (result.tx_id, result.chok_frames, result.chok_duration_ms, result.chok_frame_ms)
        assert all(d is None for d in details) or all(d is not None for d in details)
        _shown(result)
    else:
        assert is_user_name(result.user) and is_emoji(result.emoji)
        assert parse_reaction_key(key) == (
            result.channel, result.start_offset, result.user, result.emoji
        )  # fmt: skip
    return result


def check_config(data: bytes) -> ClientConfig | None:
    CASES["client config"] += 1
    try:
        config = parse_client_config(data)
    except BadBundleError:
        return None
    assert parse_client_config(config.to_json()) == config
    return config


# -- audio ----------------------------------------------------------------------------------


@fuzz_settings(1500)
@given(audio_records(), st.randoms(use_true_random=False))
def test_hostile_audio_records(record: tuple[Any, Any, Any], rng: random.Random) -> None:
    key, value, headers = record
    check_audio(key, value, headers)
    for mutated in byte_mutations(rng, value):
        check_audio(key, mutated, headers)
    if isinstance(headers, list) and headers and isinstance(headers[0], tuple):
        name, raw = headers[0] if len(headers[0]) == 2 else ("chok", b"")
        for mutated in byte_mutations(rng, raw if isinstance(raw, bytes) else b""):
            check_audio(key, value, [(name, mutated), *headers[1:]])


# -- metadata -------------------------------------------------------------------------------


@fuzz_settings(1500)
@given(metadata_records(), st.randoms(use_true_random=False))
def test_hostile_metadata_records(record: tuple[Any, Any], rng: random.Random) -> None:
    key, value = record
    check_metadata(key, value)
    for mutated in byte_mutations(rng, value):
        check_metadata(key, mutated)
    if key is not None:
        for mutated in byte_mutations(rng, key, 5):
            check_metadata(mutated, value)


@fuzz_settings(500)
@given(st.lists(metadata_records(), max_size=12), st.randoms(use_true_random=False))
def test_effective_reactions_of_hostile_records(
    records: list[tuple[Any, Any]], rng: random.Random
) -> None:
    """Any map with any reaction records of one transmission: the canonical result."""
    parsed = [check_metadata(key, value) for key, value in records]
    maps = [p.reactions for p in parsed if isinstance(p, Transmission)] or [{}]
    reactions = [p for p in parsed if isinstance(p, ReactionRecord)]
    for target in {r.target for r in reactions} | {None}:
        CASES["effective reactions"] += 1
        mine = [r for r in reactions if r.target == target]
        result = effective_reactions(rng.choice(maps), mine)
        assert all(names == sorted(set(names)) and names for names in result.values())
        assert normalize_reactions(result) == {e: tuple(n) for e, n in result.items()}
        for record in mine:
            key = reaction_key(record.channel, record.start_offset, record.user, record.emoji)
            assert parse_reaction_key(key) is not None


# -- random bytes everywhere ----------------------------------------------------------------

_prefixes = st.sampled_from([b"", b"msg-", b"msg-1-", b"chok-react-", b"chok-react-1-2-ann-"])


@fuzz_settings(1000)
@given(
    _prefixes, st.binary(max_size=40), st.binary(max_size=300), st.randoms(use_true_random=False)
)
def test_random_bytes(prefix: bytes, key: bytes, value: bytes, rng: random.Random) -> None:
    check_metadata(prefix + key, value)
    check_audio(key, value, [("chok", value[:8]), ("chok-end", value[:15])])
    check_config(value)
    for mutated in byte_mutations(rng, value, 6):
        check_metadata(prefix + key, mutated)
        check_audio(prefix + key, mutated, None)
        check_config(mutated)


# -- the configuration file and the bundle --------------------------------------------------


@fuzz_settings(500)
@given(st.randoms(use_true_random=False))
def test_hostile_client_configs(rng: random.Random) -> None:
    assert check_config(CONFIG_SEED) is not None
    for mutated in byte_mutations(rng, CONFIG_SEED):
        check_config(mutated)


_BUNDLE = Bundle(
    parse_client_config(CONFIG_SEED),
    b"-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n",
    b"-----BEGIN CERTIFICATE-----\ncert\n-----END CERTIFICATE-----\n",
    b"-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n",
).to_zip()


def _rezip(rng: random.Random) -> bytes:
    """A zip whose members are mutated, dropped, doubled or of other names."""
    with zipfile.ZipFile(io.BytesIO(_BUNDLE)) as source:
        members = {name: source.read(name) for name in MEMBERS}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])) as zf:
        for name, data in members.items():
            if rng.random() < 0.1:
                continue
            if rng.random() < 0.3:
                data = mutate_bytes(rng, data)
            zf.writestr(rng.choice([name, name, name, "../" + name, name.upper()]), data)
    return buf.getvalue()


@fuzz_settings(300)
@given(st.randoms(use_true_random=False))
def test_hostile_bundles(rng: random.Random) -> None:
    for data in [_rezip(rng), *byte_mutations(rng, _BUNDLE, 10)]:
        CASES["bundle"] += 1
        try:
            bundle = read_bundle(data)
        except BadBundleError:
            continue
        assert read_bundle(bundle.to_zip()) == bundle


# -- the layouts, exhaustively enough --------------------------------------------------------


@fuzz_settings(300)
@given(st.binary(min_size=8, max_size=8), st.binary(min_size=15, max_size=15))
def test_every_header_value(frame_header: bytes, end_header: bytes) -> None:
    """Every 8-byte ``chok`` value: a chok frame iff byte 0 is 21, 22 or 23."""
    for first in (frame_header[0], 0x21, 0x22, 0x23):
        raw = bytes([first]) + frame_header[1:]
        parsed = check_audio(b"ann", b"\x00\x00", [("chok", raw)])
        assert isinstance(parsed, AudioFrame)
        if raw[0] in (0x21, 0x22, 0x23):
            assert parsed.frame_ms == 20 * (raw[0] - 0x20)
            assert parsed.tx_id == raw[1:5].hex()
            assert parsed.seq == int.from_bytes(raw[5:], "big")
        else:
            assert parsed.is_original_app
        check_audio(b"ann", b"", [("chok-end", bytes([first]) + end_header[1:])])


@fuzz_settings(300)
@given(st.lists(st.sampled_from([b"", b"\x01" * 10, bytes(range(30))]), min_size=1, max_size=40))
def test_silence_suppression_loses_nothing(packets: list[bytes]) -> None:
    """Whatever a talker leaves out, fill_gaps gives the receiver every frame back."""
    previous: bytes | None = None
    sent = []
    for seq, packet in enumerate(packets):
        if not may_omit(packet, previous):
            sent.append(check_audio(*build_audio_frame("ann", "8f3a5c0e", seq, packet)))
        previous = packet
    played: list[AudioFrame] = []
    for frame in sent:
        assert isinstance(frame, AudioFrame) and frame.seq is not None
        gap = fill_gaps(len(played), frame)
        assert len(gap) == frame.seq - len(played)
        played.extend(gap)
        played.append(frame)
    assert [f.seq for f in played] == list(range(len(played)))
    expected = [build_audio_frame("ann", "8f3a5c0e", 0, p).value for p in packets]
    assert [f.packet for f in played] == expected[: len(played)]
    assert all(p == SILENCE_MARKER for p in expected[len(played) :])
