"""Listening to several channels at once over one connection (scan).

One consumer is assigned every monitored channel's audio partition (see
``chok.kafka.multi``); each record is routed to that channel's
``LiveListener``, which groups frames into transmissions exactly as for one
channel. A ``ScanGate`` (``chok.channel.scan``) says which transmissions get
the speaker. Events reach the callback on the service's thread, tagged with
their channel and whether they are played.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from confluent_kafka import Message

from chok.channel.live import Event, FrameArrived, LiveListener, TalkEnded, TalkStarted
from chok.channel.scan import ScanGate
from chok.channel.session import ChannelSession
from chok.errors import AccessDeniedError, ChokError, KafkaTimeoutError, UsageError
from chok.kafka.multi import MultiPartitionReader
from chok.kafka.stream import PartitionReader

PROBE_INTERVAL_S = 3.0
CONNECTED, RECONNECTING = "connected", "reconnecting"


@dataclass(frozen=True)
class ChannelEvent:
    channel: int
    event: Event
    # TalkStarted / FrameArrived: it is played. TalkEnded: it was heard whole.
    audible: bool


ChannelEventHandler = Callable[[ChannelEvent], None]


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


class MonitorService:
    """Hears several channels of one profile on a thread of its own."""

    def __init__(
        self,
        sessions: Sequence[ChannelSession],
        gate: ScanGate | None = None,
        on_event: ChannelEventHandler | None = None,
        on_error: Callable[[ChokError], None] | None = None,
        start_offsets: dict[int, int] | None = None,
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        if not sessions:
            raise UsageError("choose at least one channel to listen to")
        self.sessions = {s.number: s for s in sessions}
        self._by_topic = {(s.audio_topic, s.config.audio_partition): s.number for s in sessions}
        self.me = sessions[0].user
        self.gate = gate
        self._on_event, self._on_error, self._on_state = on_event, on_error, on_state
        self._start_offsets = dict(start_offsets or {})
        self.state = CONNECTED
        self.error: ChokError | None = None
        self.tune_in_s: float | None = None
        self.positions: dict[int, int] = {}
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chok-monitor", daemon=True)

    def start(self, timeout: float = 15.0) -> MonitorService:
        """Start listening; return once every channel is tuned in (or raise why not)."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise KafkaTimeoutError("could not tune in to the channels in time")
        if self.error is not None:
            raise self.error
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    # -- the thread -----------------------------------------------------------------

    def _run(self) -> None:
        first = next(iter(self.sessions.values()))
        reader = MultiPartitionReader(first.creds, first.user)
        routes = {n: _Routed() for n in self.sessions}
        listeners = {
            n: LiveListener(s, cast(PartitionReader, routes[n])) for n, s in self.sessions.items()
        }
        try:
            began = time.monotonic()
            early = self._tune_in(reader, listeners)
            self.tune_in_s = time.monotonic() - began
            self._ready.set()
            for found in early:
                self._route(found, routes, listeners)
            next_probe = time.monotonic() + PROBE_INTERVAL_S
            while not self._stop.is_set():
                msg = reader.poll(0.05)
                if msg is not None:
                    self._route(msg, routes, listeners)
                for number, listener in listeners.items():
                    self._deliver(number, listener)  # ends of talkers that went silent
                if time.monotonic() >= next_probe:
                    self._probe(reader)
                    next_probe = time.monotonic() + PROBE_INTERVAL_S
        except ChokError as exc:
            self.error = exc
            if self._on_error is not None:
                self._on_error(exc)
        finally:
            self._ready.set()
            reader.close()

    def _tune_in(
        self, reader: MultiPartitionReader, listeners: dict[int, LiveListener]
    ) -> list[Message]:
        """Assign every channel at its live end (or the given offset); wait for one fetch each."""
        places = []
        for number, session in self.sessions.items():
            offset = self._start_offsets.get(number)
            if offset is None:
                _, offset = reader.watermarks(session.audio_topic, session.config.audio_partition)
            listeners[number].position = offset
            self.positions[number] = offset
            places.append((session.audio_topic, session.config.audio_partition, offset))
        reader.assign(places)
        waiting = {(t, p) for t, p, _ in places}
        early: list[Message] = []
        deadline = time.monotonic() + 10.0
        while waiting and time.monotonic() < deadline:
            msg = reader.poll(0.05)
            if msg is not None:
                early.append(msg)
                waiting.discard((msg.topic() or "", msg.partition() or 0))
            waiting -= reader.at_end
        if waiting:
            names = ", ".join(t for t, _ in sorted(waiting))
            raise KafkaTimeoutError(f"tuning in to {names}: no answer in time")
        return early

    def _route(
        self, msg: Message, routes: dict[int, _Routed], listeners: dict[int, LiveListener]
    ) -> None:
        number = self._by_topic.get((msg.topic() or "", msg.partition() or 0))
        if number is None:
            return
        routes[number].put(msg)
        self._deliver(number, listeners[number])
        self.positions[number] = (msg.offset() or 0) + 1

    def _deliver(self, number: int, listener: LiveListener) -> None:
        for event in listener.events(0):
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

    def _probe(self, reader: MultiPartitionReader) -> None:
        session = next(iter(self.sessions.values()))
        try:
            reader.watermarks(session.audio_topic, session.config.audio_partition, 2.0)
            state = CONNECTED
        except AccessDeniedError:
            raise
        except ChokError:
            state = RECONNECTING
        if state != self.state:
            self.state = state
            if self._on_state is not None:
                self._on_state(state)
