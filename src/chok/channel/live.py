"""Listening live: frames grouped into transmissions, as they arrive.

Tuning in assigns the audio partition at its high watermark (an explicit
offset, no group join) and is ready once the broker answered the first fetch
(librdkafka's end-of-partition event). Original-app frames (no chok headers)
form one transmission per burst: they end after ORIGINAL_GAP_S of silence.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

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
# A chok talker that vanished without an end marker (crash, network loss).
STALE_TALK_S = 3.0
ORIGINAL_TALKER = "someone (Android app)"
# Longest pause (in frames) filled with silence; a larger seq jump is hostile or
# broken input and is not filled, so it cannot flood the listener with events.
MAX_FILLED_GAP = 1000


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
    ident: tuple[str, str] | None  # (talker, transmission id) of a chok transmission
    frames: int = 0
    duration_ms: int = 0
    next_seq: int = 0
    last_seen: float = field(default_factory=time.monotonic)
    original: bool = False


class LiveListener:
    """Yields what happens on a channel's audio partition, live."""

    def __init__(
        self,
        session: ChannelSession,
        reader: PartitionReader | None = None,
        fill_silence: bool = True,
    ) -> None:
        """``fill_silence``: give the frames a talker left out as silence (synthesized
        FrameArrived events), which only a listener that saves needs."""
        self.session = session
        self.fill_silence = fill_silence
        self._reader = reader or session.audio_reader("live")
        self._active: dict[str, _Active] = {}
        self._keys: dict[tuple[str, str], str] = {}  # (talker, id) -> its event key
        self._orig_key: str | None = None
        self.position: int | None = None

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
            yield from self._end(parsed, offset)
            return
        key, talker = self._transmission_of(parsed, offset)
        active = self._active.get(key)
        if active is None:
            ident = (talker, parsed.tx_id) if parsed.tx_id is not None else None
            active = self._active[key] = _Active(talker, ident, original=ident is None)
            yield TalkStarted(key, talker, offset)
        _, sent_ms = msg.timestamp()
        gap = fill_gaps(active.next_seq, parsed) if self.fill_silence else ()
        if len(gap) <= MAX_FILLED_GAP:
            for silent in gap:
                yield FrameArrived(key, talker, silent, offset, int(sent_ms), True)
        if parsed.seq is not None:
            # Never backwards: a hostile seq going down and up again must not
            # make the same pause be filled again and again.
            active.next_seq = max(active.next_seq, parsed.seq + 1)
        active.frames += 1
        active.duration_ms += parsed.frame_ms
        active.last_seen = time.monotonic()
        yield FrameArrived(key, talker, parsed, offset, int(sent_ms))

    def _end(self, end: EndOfTransmission, offset: int) -> Iterator[Event]:
        key = self._keys.pop((end.talker, end.tx_id), None)
        active = self._active.pop(key, None) if key is not None else None
        if key is None or active is None:
            return
        # Frames the talker left out as silence after its last record.
        last = min(end.frames, active.next_seq + MAX_FILLED_GAP) if self.fill_silence else 0
        trailing = SilenceRun(
            active.talker, end.tx_id, end.frame_ms, active.next_seq, max(active.next_seq, last)
        )
        for silent in trailing:
            yield FrameArrived(key, active.talker, silent, offset, 0, True)
        yield TalkEnded(key, active.talker, end.frames, end.duration_ms, True)

    def _chok_key(self, talker: str, tx_id: str) -> str:
        """The event key of a chok transmission: its id, unless another talker's
        transmission has that id (4 random bytes that everyone sees live: a
        transmission is its talker and its id together, protocol.md 4.4)."""
        ident = (talker, tx_id)
        key = self._keys.get(ident)
        if key is None or key not in self._active:
            key = tx_id if tx_id not in self._active else f"{tx_id}-{talker}"
            self._keys[ident] = key
        return key

    def _transmission_of(self, frame: AudioFrame, offset: int) -> tuple[str, str]:
        if frame.tx_id is not None and frame.talker is not None:
            return self._chok_key(frame.talker, frame.tx_id), frame.talker
        if self._orig_key is None or self._orig_key not in self._active:
            self._orig_key = f"orig-{offset}"
        return self._orig_key, ORIGINAL_TALKER

    def _expire(self) -> Iterator[Event]:
        now = time.monotonic()
        for key, active in list(self._active.items()):
            limit = ORIGINAL_GAP_S if active.original else STALE_TALK_S
            if now - active.last_seen > limit:
                del self._active[key]
                if active.ident is not None and self._keys.get(active.ident) == key:
                    del self._keys[active.ident]
                yield TalkEnded(
                    key, active.talker, active.frames, active.duration_ms, active.original
                )

    def probe(self, timeout: float = 2.0) -> None:
        """Ask the broker for the partition's end; raises when it cannot answer."""
        self._reader.watermarks(timeout)

    def close(self) -> None:
        self._reader.close()
