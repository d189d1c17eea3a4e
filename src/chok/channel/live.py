"""Listening live: frames grouped into transmissions, as they arrive.

Tuning in assigns the audio partition at its high watermark (an explicit
offset, no group join) as soon as the partition's leader told where that is.
Original-app frames (no chok headers) form one transmission per burst: they
end after ORIGINAL_GAP_S of silence.

A chok transmission ends with its end-of-transmission record. Frames that stop
(a paused broker, a talker's outbox waiting for it) make the floor look free
after FLOOR_QUIET_S, but the transmission stays one and whole: it ends without
its marker only after TALK_TIMEOUT_S of quiet counted while connected (the
caller says whether it is), or when listening stops. A frame already heard
(same talker, transmission and seq: a resend after a crash) is dropped.

A transmission heard from its first frame is checked against the signature in
its end record (protocol.md 9.5): ``TalkEnded.authenticity``. On a private
channel frames are opened with the epoch keys held (10.3).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from confluent_kafka import Message

from chok.channel.incoming import AudioReader
from chok.channel.security import ChannelSecurity
from chok.channel.session import ChannelSession
from chok.errors import ChokError, ConfigError
from chok.kafka.client import Cancelled
from chok.kafka.stream import PartitionReader, headers_of
from chok.pki.trust import Authenticity
from chok.protocol.audio import (
    AudioFrame,
    EndOfTransmission,
    RawHeaders,
    SilenceRun,
    fill_gaps,
)
from chok.protocol.signing import FrameDigest, parse_end_signature

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
    #: Checked against the talker's signature (protocol.md, 9.5); None when it
    #: could not be (heard from the middle, or ended without an end record).
    authenticity: Authenticity | None = None


Event = TalkStarted | FrameArrived | TalkEnded


@dataclass
class _Active:
    talker: str
    ident: tuple[str, str] | None  # (talker, transmission id) of a chok transmission
    frames: int = 0
    duration_ms: int = 0
    next_seq: int = 0
    quiet_s: float = 0.0  # connected time since its last frame
    last_frame_at: float = 0.0  # clock time of its last frame
    original: bool = False
    # What the talker's signature covers: every frame, if heard from the first.
    digest: FrameDigest = field(default_factory=FrameDigest)
    complete: bool = False


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
        fill_silence: bool = True,
    ) -> None:
        """``fill_silence``: give the frames a talker left out as silence (synthesized
        FrameArrived events), which only a listener that saves needs."""
        self.session = session
        self.fill_silence = fill_silence
        self._reader = reader or session.audio_reader("live")
        self._clock = clock
        self._active: dict[str, _Active] = {}  # event key -> transmission going on
        self._keys: dict[tuple[str, str], str] = {}  # (talker, id) -> its event key
        # (talker, id) of transmissions that ended, to drop frames sent again.
        self._ended: OrderedDict[tuple[str, str], _Ended] = OrderedDict()
        self._orig_key: str | None = None
        self._last_tick = clock()
        self.position: int | None = None
        self.received = 0  # records read (an answer from the broker)
        # The person's keys, looked up at the first record (None: none at hand,
        # as for a reader in a test: no sealed frame opens, no verdicts).
        self._audio = AudioReader(None, self._look_for_keys)
        self._keys_looked_up = False

    def _security(self) -> ChannelSecurity | None:
        if not self._keys_looked_up:
            self._keys_looked_up = True
            try:
                self._audio.security = getattr(self.session, "security", None)
            except ConfigError:
                self._audio.security = None
        return self._audio.security

    def _look_for_keys(self) -> bool:
        """A frame no key opens, or an unknown signer: the channel may have news."""
        security, session = self._security(), self.session
        if security is None:
            return False
        return security.retry_keys(lambda: session.metadata_reader("trust"))

    def tune_in(
        self, offset: int | None = None, timeout: float = 10.0, cancelled: Cancelled | None = None
    ) -> int:
        """Start at ``offset`` (default: the live end); return the offset.

        The partition's leader answering the end-offset query proves the
        connection and the access; then up to ON_AIR_LOOK_S for a frame already
        on the air, so whoever is talking is known on return (talk's floor
        control asks at once). The first fetch is not awaited: at the live end
        the broker holds it for fetch.wait.max.ms.
        """
        _, end = self._reader.watermarks(timeout, cancelled=cancelled)
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
    def on_air(self) -> bool:
        """A frame arrived while tuning in (not taken in yet)."""
        return self._pending is not None

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
        try:
            msg = self._pending or self._reader.poll(poll_s)
        except ChokError:
            # The broker is away: that time is not connected time, even if a
            # probe says it is back before this reader reads again.
            yield from self._expire(connected=False)
            raise
        self._pending = None
        if msg is not None:
            self.received += 1
            yield from self._handle(msg)
        yield from self._expire(connected)

    def _handle(self, msg: Message) -> Iterator[Event]:
        offset = msg.offset() or 0
        self.position = offset + 1
        headers = headers_of(msg)
        self._security()
        received = self._audio.read(msg.key(), msg.value(), headers)
        if received is None:
            return
        parsed = received.record
        if parsed is None:  # a sealed frame no key held opens: counted, not played
            if received.sealed is not None:
                sealed = received.sealed
                self._hash(sealed.talker, sealed.tx_id, sealed.seq, sealed.value)
            return
        if isinstance(parsed, EndOfTransmission):
            yield from self._end(parsed, offset, headers)
            return
        if parsed.talker is not None and parsed.tx_id is not None and parsed.seq is not None:
            self._hash(parsed.talker, parsed.tx_id, parsed.seq, received.wire)
        if self._heard_before(parsed):
            return
        key, talker = self._transmission_of(parsed, offset)
        active = self._active.get(key)
        if active is None:
            active = self._active[key] = self._begin(talker, parsed)
            if parsed.seq is not None:
                active.digest.add(parsed.seq, received.wire)
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
        active.quiet_s, active.last_frame_at = 0.0, self._clock()
        yield FrameArrived(key, talker, parsed, offset, int(sent_ms))

    def _begin(self, talker: str, frame: AudioFrame) -> _Active:
        """A new transmission, or one that timed out and continues (its seq carries on)."""
        if frame.tx_id is None:
            return _Active(talker, None, original=True)
        ident = (talker, frame.tx_id)
        ended = self._ended.pop(ident, None)
        next_seq = ended.next_seq if ended is not None else 0
        # Heard from its first frame: what it says can be checked at its end.
        complete = ended is None and frame.seq == 0
        return _Active(talker, ident, next_seq=next_seq, complete=complete)

    def _hash(self, talker: str, tx_id: str, seq: int, wire: bytes) -> None:
        """Into its transmission's digest (the first copy of each seq counts)."""
        key = self._keys.get((talker, tx_id))
        active = self._active.get(key) if key is not None else None
        if active is not None and active.ident == (talker, tx_id):
            active.digest.add(seq, wire)

    def _heard_before(self, frame: AudioFrame) -> bool:
        """A frame sent again after a crash (same talker, transmission and seq)."""
        if frame.tx_id is None or frame.talker is None or frame.seq is None:
            return False
        ident = (frame.talker, frame.tx_id)
        key = self._keys.get(ident)
        active = self._active.get(key) if key is not None else None
        if active is not None and active.ident == ident:
            return frame.seq < active.next_seq
        ended = self._ended.get(ident)
        return ended is not None and (ended.clean or frame.seq < ended.next_seq)

    def _end(self, end: EndOfTransmission, offset: int, headers: RawHeaders) -> Iterator[Event]:
        ident = (end.talker, end.tx_id)
        key = self._keys.pop(ident, None)
        active = self._active.get(key) if key is not None else None
        if key is None or active is None or active.ident != ident:
            return  # never heard it, or already ended (a marker sent again)
        del self._active[key]
        self._remember(ident, _Ended(max(active.next_seq, end.frames), True))
        # Frames the talker left out as silence after its last record.
        last = min(end.frames, active.next_seq + MAX_FILLED_GAP) if self.fill_silence else 0
        trailing = SilenceRun(
            active.talker, end.tx_id, end.frame_ms, active.next_seq, max(active.next_seq, last)
        )
        for silent in trailing:
            yield FrameArrived(key, active.talker, silent, offset, 0, True)
        verdict = self._verdict(active, end, headers, offset)
        yield TalkEnded(key, active.talker, end.frames, end.duration_ms, True, verdict)

    def _verdict(
        self, active: _Active, end: EndOfTransmission, headers: RawHeaders, offset: int
    ) -> Authenticity | None:
        """Check the transmission against its end record's signature (9.5)."""
        if active.original or not active.complete:
            return None
        security = self._security()
        if security is None:
            return None
        end_sig = parse_end_signature(headers)
        store = security.store
        if end_sig is not None and not store.knows(end_sig.signer):
            self._look_for_keys()  # its certificate may be new to this listener
        verdict = store.end(
            channel=self.session.number,
            talker=active.talker,
            tx_id=end.tx_id,
            frames=end.frames,
            duration_ms=end.duration_ms,
            frame_ms=end.frame_ms,
            frames_hash=active.digest.digest(),
            end_sig=end_sig,
            end_offset=offset,
        )
        security.verified.flush()
        return verdict

    def _remember(self, ident: tuple[str, str], ended: _Ended) -> None:
        self._ended[ident] = ended
        while len(self._ended) > REMEMBERED_ENDS:
            self._ended.popitem(last=False)

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

    def _expire(self, connected: bool) -> Iterator[Event]:
        now = self._clock()
        passed, self._last_tick = now - self._last_tick, now
        for key, active in list(self._active.items()):
            if connected or active.original:
                active.quiet_s += passed
            limit = ORIGINAL_GAP_S if active.original else TALK_TIMEOUT_S
            if active.quiet_s > limit:
                del self._active[key]
                if active.ident is not None:
                    if self._keys.get(active.ident) == key:
                        del self._keys[active.ident]
                    self._remember(active.ident, _Ended(active.next_seq, False))
                yield TalkEnded(
                    key, active.talker, active.frames, active.duration_ms, active.original
                )

    def probe(self, timeout: float = 2.0) -> None:
        """Ask the broker for the partition's end; raises when it cannot answer."""
        self._reader.watermarks(timeout)

    def close(self) -> None:
        self._reader.close()
