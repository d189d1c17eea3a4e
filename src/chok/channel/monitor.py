"""Listening to several channels at once over one connection (scan).

One consumer is assigned every monitored channel's audio partition (see
``chok.kafka.multi``); each record is routed to that channel's
``LiveListener``, which groups frames into transmissions exactly as for one
channel. A ``ScanGate`` (``chok.channel.scan``) says which transmissions get
the speaker. Events reach the callback on the service's thread, tagged with
their channel and whether they are played.

The connection is ``LiveRuntime``'s (channel/runtime.py), as for one channel:
it starts while the broker is away and tunes in when it comes back, says each
change through ``on_state``, keeps every transmission open while the broker
does not answer, and after an outage reopens the consumer exactly at each
channel's next offset, so what was under way continues whole.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from confluent_kafka import Message

from chok.channel.live import Event, FrameArrived, LiveListener, TalkEnded, TalkStarted
from chok.channel.runtime import Clock, ErrorHandler, LiveRuntime, Probe, StateHandler
from chok.channel.scan import ScanGate
from chok.channel.session import ChannelSession
from chok.errors import ChokError, KafkaTimeoutError, UsageError
from chok.kafka.client import Cancelled
from chok.kafka.multi import MultiPartitionReader, Place
from chok.kafka.stream import PartitionReader


@dataclass(frozen=True)
class ChannelEvent:
    channel: int
    event: Event
    # TalkStarted / FrameArrived: it is played. TalkEnded: it was heard whole.
    audible: bool


ChannelEventHandler = Callable[[ChannelEvent], None]


class MultiReader(Protocol):
    """What the monitor needs of ``MultiPartitionReader`` (a fake in unit tests)."""

    at_end: set[Place]

    def watermarks(
        self,
        topic: str,
        partition: int = 0,
        timeout: float = 10.0,
        cancelled: Cancelled | None = None,
    ) -> tuple[int, int]: ...

    def assign(self, places: Sequence[tuple[str, int, int]]) -> None: ...

    def poll(self, timeout: float) -> Message | None: ...

    def close(self) -> None: ...


class _Routed:
    """What a LiveListener needs of a reader, fed one record at a time by the monitor."""

    def __init__(self) -> None:
        self._next: Message | None = None

    def put(self, msg: Message) -> None:
        self._next = msg

    def poll(self, _timeout: float) -> Message | None:
        msg, self._next = self._next, None
        return msg

    def close(self) -> None:
        pass


class _Probe:
    """A reader used only to ask for the first channel's watermarks."""

    def __init__(self, session: ChannelSession) -> None:
        self._session = session
        self._reader: PartitionReader | None = None

    def read(self, timeout: float) -> tuple[int, int]:
        if self._reader is None:
            self._reader = self._session.audio_reader("probe")
        return self._reader.watermarks(timeout)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


class MonitorService(LiveRuntime[tuple[int, int]]):
    """Hears several channels of one profile on a thread of its own."""

    def __init__(
        self,
        sessions: Sequence[ChannelSession],
        gate: ScanGate | None = None,
        on_event: ChannelEventHandler | None = None,
        on_error: ErrorHandler | None = None,
        start_offsets: dict[int, int] | None = None,
        on_state: StateHandler | None = None,
        *,
        clock: Clock = time.monotonic,
        probe_interval_s: float | None = None,
        fill_silence: bool = True,
        open_reader: Callable[[], MultiReader] | None = None,
        new_probe: Callable[[], Probe[tuple[int, int]]] | None = None,
    ) -> None:
        """``open_reader`` and ``new_probe`` replace the Kafka clients (unit tests)."""
        if not sessions:
            raise UsageError("choose at least one channel to listen to")
        first = sessions[0]
        numbers = ", ".join(str(s.number) for s in sessions)
        topics = [t for s in sessions for t in (s.audio_topic, s.metadata_topic)]
        super().__init__(
            first.creds, topics, f"channel{'s' if len(sessions) > 1 else ''} {numbers}",
            on_state=on_state, on_error=on_error, clock=clock,
            probe_interval_s=probe_interval_s, thread_name="chok-monitor",
        )  # fmt: skip
        self.sessions = {s.number: s for s in sessions}
        self._by_topic = {(s.audio_topic, s.config.audio_partition): s.number for s in sessions}
        self.me = first.user
        self.gate = gate
        self._on_event = on_event
        self._start_offsets = dict(start_offsets or {})
        self._open_reader = open_reader or (lambda: MultiPartitionReader(first.creds, first.user))
        self._make_probe: Callable[[], Probe[tuple[int, int]]] = new_probe or (
            lambda: _Probe(first)
        )
        self._reader: MultiReader | None = None  # made on the monitor's thread
        self._routes = {n: _Routed() for n in self.sessions}
        self._listeners = {
            n: LiveListener(
                s, cast(PartitionReader, self._routes[n]), clock, fill_silence=fill_silence
            )
            for n, s in self.sessions.items()
        }
        self._early: list[Message] = []  # read while tuning in, routed first
        #: Each channel's next offset to read (where reading goes on after an outage).
        self.positions: dict[int, int] = {}

    # -- the monitor's thread (LiveRuntime's hooks) ----------------------------------

    def _opened(self) -> MultiReader:
        if self._reader is None:
            self._reader = self._open_reader()
        return self._reader

    def _tune_in(self, timeout: float) -> None:
        """Assign every channel at its live end (or the given offset); wait for one
        fetch each (librdkafka's end-of-partition event, or a record)."""
        reader = self._opened()
        for session in self.sessions.values():
            if getattr(session, "private", False):
                session.refresh_keys()  # sealed frames need the epoch keys
        places = []
        for number, session in self.sessions.items():
            offset = self._start_offsets.get(number)
            if offset is None:
                _, offset = reader.watermarks(
                    session.audio_topic,
                    session.config.audio_partition,
                    timeout,
                    cancelled=self._stop.is_set,
                )
            places.append((session.audio_topic, session.config.audio_partition, offset))
        reader.assign(places)
        waiting = {(t, p) for t, p, _ in places}
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline and not self._stop.is_set():
            msg = reader.poll(0.05)
            if msg is not None:
                self._early.append(msg)
                waiting.discard((msg.topic() or "", msg.partition() or 0))
            waiting -= reader.at_end
        if waiting:
            names = ", ".join(t for t, _ in sorted(waiting))
            raise KafkaTimeoutError(f"tuning in to {names}: no answer in time")
        for topic, partition, offset in places:
            number = self._by_topic[(topic, partition)]
            self._listeners[number].position = self.positions[number] = offset

    def _read(self, connected: bool) -> bool:
        early, self._early = self._early, []
        for found in early:
            self._route(found, connected)
        try:
            msg = self._opened().poll(0.05)
        except ChokError:
            self._deliver_all(connected=False)  # the broker is away: not connected time
            raise
        if msg is not None:
            self._route(msg, connected)
        self._deliver_all(connected)  # ends of talkers that went silent
        return bool(early) or msg is not None

    def _deliver_all(self, connected: bool) -> None:
        for number, listener in self._listeners.items():
            self._deliver(number, listener, connected)

    def _reopen(self) -> None:
        """A fresh consumer (a failed one may hold stale metadata), each channel
        assigned at its next offset: what was under way continues whole."""
        old, self._reader = self._reader, None
        self._early = []
        if old is not None:
            old.close()
        if not self.tuned_in.is_set():
            return  # tuning in again assigns
        reader = self._opened()
        reader.assign(
            [
                (s.audio_topic, s.config.audio_partition, self.positions[n])
                for n, s in self.sessions.items()
            ]
        )

    def _new_probe(self) -> Probe[tuple[int, int]]:
        return self._make_probe()

    def _finish(self) -> None:
        if self._reader is not None:
            self._reader.close()

    # -- routing ----------------------------------------------------------------------

    def _route(self, msg: Message, connected: bool) -> None:
        number = self._by_topic.get((msg.topic() or "", msg.partition() or 0))
        if number is None:
            return
        self._routes[number].put(msg)
        self._deliver(number, self._listeners[number], connected)
        self.positions[number] = (msg.offset() or 0) + 1

    def _deliver(self, number: int, listener: LiveListener, connected: bool) -> None:
        for event in listener.events(0, connected=connected):
            audible = self._decide(number, event)
            if self._on_event is not None:
                self._on_event(ChannelEvent(number, event, audible))

    def _decide(self, number: int, event: Event) -> bool:
        if event.talker == self.me:
            return False  # your own voice is not played back, and takes no speaker
        if self.gate is None:
            return True
        if isinstance(event, TalkStarted):
            return self.gate.started(number, event.key, event.talker)
        if isinstance(event, FrameArrived):
            return self.gate.frame(number, event.key)
        if isinstance(event, TalkEnded):
            return self.gate.ended(number, event.key)
        return False
