"""Listening live: frames grouped into transmissions, as they arrive.

Tuning in assigns the audio partition at its high watermark (an explicit
offset, no group join) and is ready once the broker answered the first fetch
(librdkafka's end-of-partition event). Original-app frames (no chok headers)
form one transmission per burst: they end after ORIGINAL_GAP_S of silence.

A chok transmission ends with its end-of-transmission record. Frames that stop
(a paused broker, a talker's outbox waiting for it) make the floor look free
after FLOOR_QUIET_S, but the transmission stays one and whole: it ends without
its marker only after TALK_TIMEOUT_S of quiet counted while connected (the
caller says whether it is), or when listening stops. A frame already heard
(same talker, transmission and seq: a resend after a crash) is dropped.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from confluent_kafka import Message

from chok.channel.session import ChannelSession
from chok.errors import KafkaTimeoutError
from chok.kafka.stream import PartitionReader, headers_of
from chok.protocol.audio import (
    AudioFrame,
    EndOfTransmission,
    SilenceRun,
    fill_gaps,
    parse_audio_record,
)

ORIGINAL_GAP_S = 1.0
#: No frame for this long: the talker is not talking now (busy cue, "bob is talking").
FLOOR_QUIET_S = 3.0
#: A chok transmission without its end marker for this long (connected): over.
TALK_TIMEOUT_S = 120.0
ORIGINAL_TALKER = "someone (Android app)"
# Longest pause (in frames) filled with silence; a larger seq jump is hostile or
# broken input and is not filled, so it cannot flood the listener with events.
MAX_FILLED_GAP = 1000
#: Transmissions remembered after their end, to drop frames sent again.
REMEMBERED_ENDS = 512


@dataclass(frozen=True)
class TalkStarted:
    key: str  # the transmission id, or "orig-<offset>" for an original-app burst
    talker: str
    offset: int


@dataclass(frozen=True)
class FrameArrived:
    key: str
    talker: str
    frame: AudioFrame
    offset: int
    sent_ms: int  # the record's timestamp (producer clock, ms)
    # True for a silence frame the talker left out (a gap in seq): play it when
    # saving or replaying, but not live, where the pause already passed in real time.
    synthesized: bool = False


@dataclass(frozen=True)
class TalkEnded:
    key: str
    talker: str
    frames: int
    duration_ms: int
    clean: bool  # False when it ended by timeout, without an end marker


Event = TalkStarted | FrameArrived | TalkEnded


@dataclass
class _Active:
    talker: str
    frames: int = 0
    duration_ms: int = 0
    next_seq: int = 0
    quiet_s: float = 0.0  # connected time since its last frame
    last_frame_at: float = 0.0  # clock time of its last frame
    original: bool = False


@dataclass(frozen=True)
class _Ended:
    next_seq: int
    clean: bool  # by its end marker (else by timeout: it may still continue)


class LiveListener:
    """Yields what happens on a channel's audio partition, live."""

    def __init__(
        self,
        session: ChannelSession,
        reader: PartitionReader | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self._reader = reader or session.audio_reader("live")
        self._clock = clock
        self._active: dict[str, _Active] = {}
        self._ended: OrderedDict[tuple[str, str], _Ended] = OrderedDict()
        self._orig_key: str | None = None
        self._last_tick = clock()
        self.position: int | None = None
        self.received = 0  # records read (an answer from the broker)

    def tune_in(self, offset: int | None = None, timeout: float = 10.0) -> int:
        """Start at ``offset`` (default: the live end) and wait until fetching.

        Returns the offset the listener starts from.
        """
        if offset is None:
            _, offset = self._reader.watermarks(timeout)
        self._reader.assign(offset)
        self.position = offset
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self._reader.poll(0.05)
            if msg is not None:
                self._pending = msg  # a frame arrived while tuning in: keep it
                return offset
            if self._reader.at_end:
                return offset
        raise KafkaTimeoutError(f"tuning in to channel {self.session.number}: no answer in time")

    _pending: Message | None = None

    def reopen(self, reader: PartitionReader | None = None) -> None:
        """A new reader where this one stopped (after an outage), keeping every
        transmission heard so far open: what follows continues them."""
        old, self._reader = self._reader, reader or self.session.audio_reader("live")
        self._pending = None
        old.close()
        if self.position is not None:
            self._reader.assign(self.position)

    @property
    def talkers(self) -> list[str]:
        """Who is talking right now (for "bob is talking" and the busy cue)."""
        now = self._clock()
        return sorted(
            {a.talker for a in self._active.values() if now - a.last_frame_at < FLOOR_QUIET_S}
        )

    @property
    def open_transmissions(self) -> int:
        return len(self._active)

    def events(self, poll_s: float = 0.05, connected: bool = True) -> Iterator[Event]:
        """One poll's worth of events (possibly none); call it in a loop.

        ``connected``: whether the broker answers. Quiet time counts towards
        ending a transmission only while it does.
        """
        msg = self._pending or self._reader.poll(poll_s)
        self._pending = None
        if msg is not None:
            self.received += 1
            yield from self._handle(msg)
        yield from self._expire(connected)

    def _handle(self, msg: Message) -> Iterator[Event]:
        offset = msg.offset() or 0
        self.position = offset + 1
        parsed = parse_audio_record(msg.key(), msg.value(), headers_of(msg))
        if parsed is None:
            return
        if isinstance(parsed, EndOfTransmission):
            yield from self._end(parsed, offset)
            return
        if self._heard_before(parsed):
            return
        key, talker = self._transmission_of(parsed, offset)
        active = self._active.get(key)
        if active is None:
            active = self._active[key] = self._begin(key, talker, parsed)
            yield TalkStarted(key, talker, offset)
        _, sent_ms = msg.timestamp()
        gap = fill_gaps(active.next_seq, parsed)
        if len(gap) <= MAX_FILLED_GAP:
            for silent in gap:
                yield FrameArrived(key, talker, silent, offset, int(sent_ms), True)
        if parsed.seq is not None:
            active.next_seq = parsed.seq + 1
        active.frames += 1
        active.duration_ms += parsed.frame_ms
        active.quiet_s, active.last_frame_at = 0.0, self._clock()
        yield FrameArrived(key, talker, parsed, offset, int(sent_ms))

    def _begin(self, key: str, talker: str, frame: AudioFrame) -> _Active:
        """A new transmission, or one that timed out and continues (its seq carries on)."""
        ended = self._ended.pop((talker, key), None) if frame.tx_id is not None else None
        next_seq = ended.next_seq if ended is not None else 0
        return _Active(talker, next_seq=next_seq, original=frame.tx_id is None)

    def _heard_before(self, frame: AudioFrame) -> bool:
        """A frame sent again after a crash (same talker, transmission and seq)."""
        if frame.tx_id is None or frame.talker is None or frame.seq is None:
            return False
        active = self._active.get(frame.tx_id)
        if active is not None and active.talker == frame.talker:
            return frame.seq < active.next_seq
        ended = self._ended.get((frame.talker, frame.tx_id))
        return ended is not None and (ended.clean or frame.seq < ended.next_seq)

    def _end(self, end: EndOfTransmission, offset: int) -> Iterator[Event]:
        active = self._active.get(end.tx_id)
        if active is None or active.talker != end.talker:
            return  # never heard it, or already ended (a marker sent again)
        del self._active[end.tx_id]
        self._remember(end.talker, end.tx_id, _Ended(max(active.next_seq, end.frames), True))
        # Frames the talker left out as silence after its last record.
        last = min(end.frames, active.next_seq + MAX_FILLED_GAP)
        trailing = SilenceRun(
            active.talker, end.tx_id, end.frame_ms, active.next_seq, max(active.next_seq, last)
        )
        for silent in trailing:
            yield FrameArrived(end.tx_id, active.talker, silent, offset, 0, True)
        yield TalkEnded(end.tx_id, active.talker, end.frames, end.duration_ms, True)

    def _remember(self, talker: str, key: str, ended: _Ended) -> None:
        self._ended[(talker, key)] = ended
        while len(self._ended) > REMEMBERED_ENDS:
            self._ended.popitem(last=False)

    def _transmission_of(self, frame: AudioFrame, offset: int) -> tuple[str, str]:
        if frame.tx_id is not None and frame.talker is not None:
            return frame.tx_id, frame.talker
        if self._orig_key is None or self._orig_key not in self._active:
            self._orig_key = f"orig-{offset}"
        return self._orig_key, ORIGINAL_TALKER

    def _expire(self, connected: bool) -> Iterator[Event]:
        now = self._clock()
        passed, self._last_tick = now - self._last_tick, now
        for key, active in list(self._active.items()):
            if connected or active.original:
                active.quiet_s += passed
            limit = ORIGINAL_GAP_S if active.original else TALK_TIMEOUT_S
            if active.quiet_s > limit:
                del self._active[key]
                if not active.original:
                    self._remember(active.talker, key, _Ended(active.next_seq, False))
                yield TalkEnded(
                    key, active.talker, active.frames, active.duration_ms, active.original
                )

    def probe(self, timeout: float = 2.0) -> None:
        """Ask the broker for the partition's end; raises when it cannot answer."""
        self._reader.watermarks(timeout)

    def close(self) -> None:
        self._reader.close()
