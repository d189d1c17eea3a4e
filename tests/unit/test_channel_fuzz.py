"""The timeline fold, effective reactions, the live listener and replay, given
hostile record sequences (a fake reader in place of the broker): they never
raise, and keep their promises whatever the records say."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from chok.channel.live import (
    MAX_FILLED_GAP,
    ORIGINAL_TALKER,
    FrameArrived,
    LiveListener,
    TalkEnded,
    TalkStarted,
)
from chok.channel.replay import replay_frames
from chok.channel.timeline import Entry, Fold
from chok.errors import NotFoundError
from chok.protocol import (
    ReactionRecord,
    Transmission,
    build_audio_frame,
    build_end_of_transmission,
    build_transmission,
    effective_reactions,
    is_user_name,
    parse_metadata_record,
)
from chok.protocol.display import iso_time, safe_emoji, safe_text, seconds_text
from tests.unit.fake_kafka import FakeReader
from tests.unit.fuzz_strategies import CASES, audio_records, fuzz_settings, metadata_records

CHANNEL = 1

# -- the timeline fold --------------------------------------------------------------------


@st.composite
def metadata_logs(draw: st.DrawFn) -> list[tuple[bytes | None, bytes | None]]:
    """A metadata partition: hostile records, some keys written again (a newer
    record, a tombstone) as compaction would later keep only the last."""
    log: list[tuple[bytes | None, bytes | None]] = []
    for _ in range(draw(st.integers(1, 40))):
        key, value = draw(metadata_records())
        if log and draw(st.integers(0, 2)) == 0:
            key = draw(st.sampled_from(log))[0]
            if draw(st.integers(0, 3)) == 0:
                value = None  # a tombstone
        log.append((key, value))
    return log


def _fold(log: list[tuple[bytes | None, bytes | None]]) -> Fold:
    fold = Fold(CHANNEL)
    for offset, (key, value) in enumerate(log):
        if key is not None:  # as load_timeline: a record without a key is no record
            CASES["timeline fold"] += 1
            fold.add(key, value, offset)
    return fold


def _compacted(log: list[tuple[bytes | None, bytes | None]]) -> list[tuple[bytes, bytes | None]]:
    last: dict[bytes, bytes | None] = {}
    for key, value in log:
        if key is not None:
            last.pop(key, None)
            last[key] = value
    return list(last.items())


@fuzz_settings(400)
@given(metadata_logs())
def test_the_fold_keeps_what_compaction_keeps_and_never_raises(log: list[Any]) -> None:
    fold = _fold(log)
    # What the broker keeps after compaction reads the same...
    again = _fold(_compacted(log))  # type: ignore[arg-type]
    assert again.latest == fold.latest and again.reactions == fold.reactions
    # ...and is exactly the newest record of each key, where it parses (a
    # deletion marker, protocol.md 5.6, removes its transmission like a tombstone).
    newest = {k: parse_metadata_record(k, v, channel=CHANNEL) for k, v in _compacted(log)}
    assert fold.latest == {
        r.start_offset: r for r in newest.values() if isinstance(r, Transmission) and not r.deleted
    }
    assert fold.reactions == {k: r for k, r in newest.items() if isinstance(r, ReactionRecord)}
    # The entries load_timeline makes of it, and how they are shown.
    grouped = fold.reactions_by_transmission()
    for start, tx in fold.latest.items():
        CASES["effective reactions"] += 1
        entry = Entry(tx, effective_reactions(tx.reactions, grouped.get(start, [])), True)
        assert all(names for names in entry.reactions.values())
        safe_text(tx.user_id), iso_time(tx.timestamp_ms), seconds_text(tx.duration_ms)
        [safe_emoji(emoji) for emoji in entry.reactions]


# -- the live listener ---------------------------------------------------------------------

talkers = st.sampled_from(["ann", "bob", "a-b"])
tx_ids = st.sampled_from(["8f3a5c0e", "00000001", "ffffffff"])
seqs = st.sampled_from([0, 1, 2, 5, 999, 1000, 1001, 5000, 2**24 - 1]) | st.integers(0, 2**24 - 1)


@st.composite
def chok_audio(draw: st.DrawFn) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """A well-formed frame or end record with hostile numbers (seq jumps, counts)."""
    talker, tx_id, frame_ms = draw(talkers), draw(tx_ids), draw(st.sampled_from([20, 40, 60]))
    if draw(st.integers(0, 4)) == 0:
        frames = draw(st.integers(1, 2**24 - 1))
        duration = draw(st.integers(0, 2**32 - 1))
        return build_end_of_transmission(talker, tx_id, frames, duration, frame_ms=frame_ms)
    packet = draw(st.sampled_from([b"\x00\x00", bytes(range(30)), b"\xff" * 40]))
    return build_audio_frame(talker, tx_id, draw(seqs), packet, frame_ms)


def _as_librdkafka_gives(record: tuple[Any, Any, Any]) -> bool:
    """Headers as confluent-kafka gives them: None or (str, bytes | None) pairs."""
    headers = record[2]
    return headers is None or all(
        isinstance(h, tuple) and len(h) == 2 and isinstance(h[0], str) for h in headers
    )


hostile_audio = chok_audio() | audio_records().filter(_as_librdkafka_gives)
audio_logs = st.lists(hostile_audio, min_size=1, max_size=30)


@fuzz_settings(400)
@given(audio_logs, st.booleans())
def test_the_live_listener_keeps_its_promises(log: list[Any], fill: bool) -> None:
    reader = FakeReader.of(log)
    listener = LiveListener(None, reader, fill_silence=fill)  # type: ignore[arg-type]
    talking: dict[str, str] = {}
    for _ in range(len(log) + 1):
        CASES["live listener"] += 1
        events = list(listener.events(0))
        synthesized = sum(1 for e in events if isinstance(e, FrameArrived) and e.synthesized)
        assert synthesized <= 2 * MAX_FILLED_GAP and (fill or synthesized == 0)
        for event in events:
            assert is_user_name(event.talker) or event.talker == ORIGINAL_TALKER
            if isinstance(event, TalkStarted):
                assert event.key not in talking
                talking[event.key] = event.talker
            else:
                assert talking.get(event.key) == event.talker, event
                if isinstance(event, TalkEnded):
                    del talking[event.key]
        assert listener.talkers == sorted(set(talking.values()))


# -- replay ---------------------------------------------------------------------------------


@st.composite
def replayed(draw: st.DrawFn) -> tuple[Transmission, list[Any]]:
    log = draw(audio_logs)
    start = draw(st.integers(0, len(log) + 2))
    end = draw(st.integers(start, len(log) + 3))
    talker, tx_id = draw(talkers), draw(tx_ids)
    if draw(st.booleans()):
        tx = build_transmission(
            user=talker, channel=1, start_offset=start, end_offset=end, timestamp_ms=0,
            tx_id=tx_id, frames=draw(st.integers(1, 10**9)), duration_ms=0, frame_ms=60,
        )  # fmt: skip
    else:  # the original app's way: every frame in the range
        tx = Transmission(talker, 1, start, end, 0, end - start + 1)
    return tx, log


@fuzz_settings(300)
@given(replayed())
def test_replay_gives_only_the_transmission_s_frames_in_order(case: Any) -> None:
    tx, log = case
    CASES["replay"] += 1
    try:
        frames = list(replay_frames(None, tx, FakeReader.of(log)))  # type: ignore[arg-type]
    except NotFoundError:
        assert tx.end_offset >= len(log)
        return
    in_range = len(log[tx.start_offset : tx.end_offset + 1])
    if tx.tx_id is None:
        assert len(frames) <= in_range
        return
    assert all(f.talker == tx.user_id and f.tx_id == tx.tx_id for f in frames)
    assert all(a.seq < b.seq for a, b in itertools.pairwise(frames))  # type: ignore[operator]
    assert len(frames) <= in_range * (MAX_FILLED_GAP + 1) + MAX_FILLED_GAP
