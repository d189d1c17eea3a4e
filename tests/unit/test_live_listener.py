"""The live listener's rules alone: records handed in by a recording fake reader,
time from a fake clock. (tests/integration covers it against the real broker.)"""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest
from confluent_kafka import Message

from chok.channel.live import (
    FLOOR_QUIET_S,
    TALK_TIMEOUT_S,
    Event,
    FrameArrived,
    LiveListener,
    TalkEnded,
    TalkStarted,
)
from chok.errors import ChokError, KafkaError
from chok.protocol.audio import AudioRecord, build_audio_frame, build_end_of_transmission
from tests.unit.test_connection_machine import FakeClock

TX = "8f3a5c0e"
PACKET = bytes(range(1, 40))


class FakeReader:
    """Hands out queued records one per poll, like a partition being read."""

    def __init__(self) -> None:
        self.queue: deque[Message] = deque()
        self.offset = 0
        self.at_end = False
        self.closed = False
        self.assigned: list[int] = []

    def add(self, record: AudioRecord) -> None:
        message = Message(
            topic="chok-audio-1", partition=0, offset=self.offset, key=record.key,
            value=record.value, headers=record.headers, timestamp=(1, 1000 + self.offset),
        )  # fmt: skip
        self.queue.append(message)
        self.offset += 1

    failing: ChokError | None = None  # what every poll raises (the broker is away)

    def poll(self, _timeout: float) -> Message | None:
        if self.failing is not None:
            raise self.failing
        return self.queue.popleft() if self.queue else None

    def assign(self, offset: int) -> None:
        self.assigned.append(offset)

    def close(self) -> None:
        self.closed = True


class FakeSession:
    number = 1


def _listener(clock: FakeClock, reader: FakeReader) -> LiveListener:
    session: Any = FakeSession()
    return LiveListener(session, reader=reader, clock=clock)  # type: ignore[arg-type]


def _frame(seq: int, talker: str = "dan", tx: str = TX) -> AudioRecord:
    return build_audio_frame(talker, tx, seq, PACKET)


def _drain(listener: LiveListener, connected: bool = True) -> list[Event]:
    events: list[Event] = []
    for _ in range(100):
        events.extend(listener.events(connected=connected))
    return events


def _seqs(events: list[Event]) -> list[int | None]:
    return [e.frame.seq for e in events if isinstance(e, FrameArrived) and not e.synthesized]


def test_frames_sent_again_after_a_crash_are_heard_once() -> None:
    clock, reader = FakeClock(), FakeReader()
    listener = _listener(clock, reader)
    for seq in [0, 1, 2, 3, 1, 2, 3, 4, 5]:  # 1-3 sent again by the next chok
        reader.add(_frame(seq))
    reader.add(build_end_of_transmission("dan", TX, 6, 360))
    reader.add(build_end_of_transmission("dan", TX, 6, 360))  # the marker again too
    reader.add(_frame(5))  # and a frame after the end
    events = _drain(listener)
    assert _seqs(events) == [0, 1, 2, 3, 4, 5]
    assert [type(e) for e in events if not isinstance(e, FrameArrived)] == [
        TalkStarted,
        TalkEnded,
    ]


def test_a_stall_leaves_the_floor_free_but_keeps_one_transmission() -> None:
    clock, reader = FakeClock(), FakeReader()
    listener = _listener(clock, reader)
    for seq in range(3):
        reader.add(_frame(seq))
    events = _drain(listener)
    assert listener.talkers == ["dan"]
    clock.advance(FLOOR_QUIET_S + 0.1)  # the broker stalls: no frames
    events += _drain(listener)
    assert listener.talkers == []  # the busy cue stops
    clock.advance(30)
    events += _drain(listener)
    for seq in range(3, 6):  # the frames come again
        reader.add(_frame(seq))
    reader.add(build_end_of_transmission("dan", TX, 6, 360))
    events += _drain(listener)
    started = [e for e in events if isinstance(e, TalkStarted)]
    ended = [e for e in events if isinstance(e, TalkEnded)]
    assert len(started) == 1 and len(ended) == 1 and ended[0].clean
    assert _seqs(events) == list(range(6))
    assert not [e for e in events if isinstance(e, FrameArrived) and e.synthesized]


def test_time_while_disconnected_never_ends_a_transmission() -> None:
    clock, reader = FakeClock(), FakeReader()
    listener = _listener(clock, reader)
    reader.add(_frame(0))
    _drain(listener)
    clock.advance(TALK_TIMEOUT_S * 3)
    assert not [e for e in _drain(listener, connected=False) if isinstance(e, TalkEnded)]
    clock.advance(TALK_TIMEOUT_S - 1)
    assert not [e for e in _drain(listener) if isinstance(e, TalkEnded)]
    clock.advance(2)
    ended = [e for e in _drain(listener) if isinstance(e, TalkEnded)]
    assert len(ended) == 1 and not ended[0].clean


def test_time_while_the_reader_fails_is_not_connected_time() -> None:
    """The broker away and the reader raising on every poll: that time must not
    count towards ending a transmission once a probe says the broker is back."""
    clock, reader = FakeClock(), FakeReader()
    listener = _listener(clock, reader)
    reader.add(_frame(0))
    _drain(listener)
    reader.failing = KafkaError("cannot reach the broker")
    with pytest.raises(KafkaError):
        _drain(listener, connected=False)
    clock.advance(TALK_TIMEOUT_S * 2)
    with pytest.raises(KafkaError):
        _drain(listener, connected=False)  # still failing, the outage went on
    reader.failing = None  # back (a probe said so first: "connected")
    assert not [e for e in _drain(listener) if isinstance(e, TalkEnded)]


def test_a_transmission_that_timed_out_continues_where_it_stopped() -> None:
    """A talker that crashed and whose outbox is sent much later: the rest is a
    continuation (no silence in place of what was already heard), doubles dropped."""
    clock, reader = FakeClock(), FakeReader()
    listener = _listener(clock, reader)
    for seq in range(4):
        reader.add(_frame(seq))
    events = _drain(listener)
    clock.advance(TALK_TIMEOUT_S + 1)
    events += _drain(listener)
    for seq in range(2, 8):  # 2 and 3 again, then what was never heard
        reader.add(_frame(seq))
    reader.add(build_end_of_transmission("dan", TX, 8, 480))
    later = _drain(listener)
    assert _seqs(later) == [4, 5, 6, 7]
    assert not [e for e in later if isinstance(e, FrameArrived) and e.synthesized]
    assert [e.clean for e in events + later if isinstance(e, TalkEnded)] == [False, True]


def test_reopening_continues_at_the_position_and_keeps_what_is_open() -> None:
    clock, reader = FakeClock(), FakeReader()
    listener = _listener(clock, reader)
    reader.add(_frame(0))
    reader.add(_frame(1))
    _drain(listener)
    fresh = FakeReader()
    fresh.offset = 2
    listener.reopen(fresh)  # type: ignore[arg-type]
    assert reader.closed and fresh.assigned == [2]
    fresh.add(_frame(2))
    fresh.add(build_end_of_transmission("dan", TX, 3, 180))
    events = _drain(listener)
    assert _seqs(events) == [2]
    assert [e.frames for e in events if isinstance(e, TalkEnded)] == [3]


def test_another_talker_with_the_same_id_is_not_taken_for_a_double() -> None:
    clock, reader = FakeClock(), FakeReader()
    listener = _listener(clock, reader)
    reader.add(_frame(0, "dan"))
    reader.add(build_end_of_transmission("dan", TX, 1, 60))
    reader.add(_frame(0, "ann"))  # 4 random bytes may repeat
    events = _drain(listener)
    assert [e.talker for e in events if isinstance(e, TalkStarted)] == ["dan", "ann"]
