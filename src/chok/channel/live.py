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

from chok.channel.incoming import AudioReader
from chok.channel.session import ChannelSession
from chok.errors import KafkaTimeoutError
from chok.kafka.stream import PartitionReader, headers_of
from chok.pki.trust import Authenticity
from chok.protocol.audio import (
    AudioFrame,
    EndOfTransmission,
    SilenceRun,
    fill_gaps,
)
from chok.protocol.sealed import SealedFrame
from chok.protocol.signing import FrameDigest, parse_end_signature

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
    #: Checked against the talker's signature (protocol.md, 9.5); None when it
    #: could not be (tuned in after it began, or it ended without an end record).
    authenticity: Authenticity | None = None


Event = TalkStarted | FrameArrived | TalkEnded


@dataclass
class _Active:
    talker: str
    frames: int = 0
    duration_ms: int = 0
    next_seq: int = 0
    last_seen: float = field(default_factory=time.monotonic)
    original: bool = False
    # What the talker's signature covers: the frames' digest and offsets, in full
    # only if this listener read the transmission from its first frame.
    digest: FrameDigest = field(default_factory=FrameDigest)
    first_offset: int = -1
    last_offset: int = -1
    complete: bool = False


class LiveListener:
    """Yields what happens on a channel's audio partition, live."""

    def __init__(self, session: ChannelSession, reader: PartitionReader | None = None) -> None:
        self.session = session
        self._reader = reader or session.audio_reader("live")
        self._active: dict[str, _Active] = {}
        self._orig_key: str | None = None
        self.position: int | None = None
        security = session.security
        self._audio = AudioReader(security, self._look_for_keys)

    def _look_for_keys(self) -> bool:
        """A frame no key opens, or an unknown signer: the channel may have news."""
        session = self.session
        return session.security.retry_keys(lambda: session.metadata_reader("trust"))

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
        headers = headers_of(msg)
        received = self._audio.read(msg.key(), msg.value(), headers)
        if received is None:
            return
        parsed = received.record
        if parsed is None:  # a sealed frame no key opens: counted, not played
            self._hash_unopened(received.sealed, offset)
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
                verdict = self._verdict(active, parsed, headers)
                yield TalkEnded(
                    parsed.tx_id, active.talker, parsed.frames, parsed.duration_ms, True, verdict
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
            if active.first_offset < 0:
                active.first_offset, active.complete = offset, parsed.seq == 0
            active.digest.add(parsed.seq, received.wire)
            active.last_offset = offset
            active.next_seq = parsed.seq + 1
        active.frames += 1
        active.duration_ms += parsed.frame_ms
        active.last_seen = time.monotonic()
        yield FrameArrived(key, talker, parsed, offset, int(sent_ms))

    def _hash_unopened(self, sealed: SealedFrame | None, offset: int) -> None:
        if sealed is not None:
            active = self._active.get(sealed.tx_id)
            if active is not None and active.talker == sealed.talker:
                active.digest.add(sealed.seq, sealed.value)
                active.last_offset = offset

    def _verdict(
        self, active: _Active, end: EndOfTransmission, headers: object
    ) -> Authenticity | None:
        """Check the transmission against its end record's signature (9.5)."""
        if active.original or not active.complete:
            return None
        end_sig = parse_end_signature(headers)
        store = self.session.security.store
        if end_sig is not None and not store.knows(end_sig.signer):
            self._look_for_keys()  # its certificate may be new to this listener
        verdict = store.end(
            channel=self.session.number,
            talker=active.talker,
            tx_id=end.tx_id,
            frames=end.frames,
            duration_ms=end.duration_ms,
            frame_ms=end.frame_ms,
            start_offset=active.first_offset,
            end_offset=active.last_offset,
            frames_hash=active.digest.digest(),
            end_sig=end_sig,
        )
        self.session.security.verified.flush()
        return verdict

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
