"""Listening live: frames grouped into transmissions, as they arrive.

Tuning in assigns the audio partition at its high watermark (an explicit
offset, no group join) as soon as the partition's leader told where that is.
Original-app frames (no chok headers) form one transmission per burst: they
end after ORIGINAL_GAP_S of silence.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from confluent_kafka import Message

from chok.channel.session import ChannelSession
from chok.kafka.stream import PartitionReader, headers_of
from chok.protocol.audio import (
    AudioFrame,
    EndOfTransmission,
    SilenceRun,
    fill_gaps,
    parse_audio_record,
)

ORIGINAL_GAP_S = 1.0
# A chok talker that vanished without an end marker (crash, network loss).
STALE_TALK_S = 3.0
ORIGINAL_TALKER = "someone (Android app)"
# Longest pause (in frames) filled with silence; a larger seq jump is hostile or
# broken input and is not filled, so it cannot flood the listener with events.
MAX_FILLED_GAP = 1000
# How long tuning in listens for a transmission already on the air: a frame
# (60 ms) and a fetch round trip.
ON_AIR_LOOK_S = 0.1


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
    last_seen: float = field(default_factory=time.monotonic)
    original: bool = False


class LiveListener:
    """Yields what happens on a channel's audio partition, live."""

    def __init__(self, session: ChannelSession, reader: PartitionReader | None = None) -> None:
        self.session = session
        self._reader = reader or session.audio_reader("live")
        self._active: dict[str, _Active] = {}
        self._orig_key: str | None = None
        self.position: int | None = None

    def tune_in(self, offset: int | None = None, timeout: float = 10.0) -> int:
        """Start at ``offset`` (default: the live end); return the offset.

        The partition's leader answering the end-offset query proves the
        connection and the access; then up to ON_AIR_LOOK_S for a frame already
        on the air, so whoever is talking is known on return (talk's floor
        control asks at once). The first fetch is not awaited: at the live end
        the broker holds it for fetch.wait.max.ms.
        """
        _, end = self._reader.watermarks(timeout)
        start = end if offset is None else offset
        self._reader.assign(start)
        self.position = start
        deadline = time.monotonic() + ON_AIR_LOOK_S
        while time.monotonic() < deadline and not self._reader.at_end:
            msg = self._reader.poll(0.02)
            if msg is not None:
                self._pending = msg  # a frame arrived while tuning in: keep it
                break
        return start

    _pending: Message | None = None

    @property
    def talkers(self) -> list[str]:
        """Who is talking right now (for "bob is talking" and the busy cue)."""
        return sorted({a.talker for a in self._active.values()})

    def events(self, poll_s: float = 0.05) -> Iterator[Event]:
        """One poll's worth of events (possibly none); call it in a loop."""
        msg = self._pending or self._reader.poll(poll_s)
        self._pending = None
        if msg is not None:
            yield from self._handle(msg)
        yield from self._expire()

    def _handle(self, msg: Message) -> Iterator[Event]:
        offset = msg.offset() or 0
        self.position = offset + 1
        parsed = parse_audio_record(msg.key(), msg.value(), headers_of(msg))
        if parsed is None:
            return
        if isinstance(parsed, EndOfTransmission):
            active = self._active.pop(parsed.tx_id, None)
            if active is not None:
                # Frames the talker left out as silence after its last record.
                last = min(parsed.frames, active.next_seq + MAX_FILLED_GAP)
                trailing = SilenceRun(
                    active.talker, parsed.tx_id, parsed.frame_ms, active.next_seq,
                    max(active.next_seq, last),
                )  # fmt: skip
                for silent in trailing:
                    yield FrameArrived(parsed.tx_id, active.talker, silent, offset, 0, True)
                yield TalkEnded(
                    parsed.tx_id, active.talker, parsed.frames, parsed.duration_ms, True
                )
            return
        key, talker = self._transmission_of(parsed, offset)
        active = self._active.get(key)
        if active is None:
            active = self._active[key] = _Active(talker, original=parsed.tx_id is None)
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
        active.last_seen = time.monotonic()
        yield FrameArrived(key, talker, parsed, offset, int(sent_ms))

    def _transmission_of(self, frame: AudioFrame, offset: int) -> tuple[str, str]:
        if frame.tx_id is not None and frame.talker is not None:
            return frame.tx_id, frame.talker
        if self._orig_key is None or self._orig_key not in self._active:
            self._orig_key = f"orig-{offset}"
        return self._orig_key, ORIGINAL_TALKER

    def _expire(self) -> Iterator[Event]:
        now = time.monotonic()
        for key, active in list(self._active.items()):
            limit = ORIGINAL_GAP_S if active.original else STALE_TALK_S
            if now - active.last_seen > limit:
                del self._active[key]
                yield TalkEnded(
                    key, active.talker, active.frames, active.duration_ms, active.original
                )

    def probe(self, timeout: float = 2.0) -> None:
        """Ask the broker for the partition's end; raises when it cannot answer."""
        self._reader.watermarks(timeout)

    def close(self) -> None:
        self._reader.close()
