"""A live listener running in its own thread, for talk's floor control, the
desktop app and `chok listen`: it hands every event to a callback, always
knows who is talking, and keeps listening through broker outages.

Whether the broker is there is the ``ConnectionMachine``'s business
(channel/connection.py): this service feeds it (records read, probe answers,
errors, time) and does what it says: probe the channel's watermarks while
connected, try again with back-off while not, and after an outage continue
reading exactly where it stopped, so that a transmission that was going on
continues whole.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from chok.channel.connection import PROBE_INTERVAL_S, ConnectionMachine, ConnState, ConnStatus
from chok.channel.live import Event, LiveListener
from chok.channel.session import ChannelSession
from chok.errors import (
    AccessDeniedError,
    AuthenticationError,
    ChokError,
    KafkaError,
    TopicMissingError,
)
from chok.kafka.admin import refusal
from chok.kafka.stream import PartitionReader

EventHandler = Callable[[Event], None]
StateHandler = Callable[[ConnStatus], None]
Watermarks = tuple[int, int, int]  # audio low, audio high, metadata high
#: Seconds a probe may take before it counts as no answer.
PROBE_TIMEOUT_S = 2.0
#: Probes stuck in librdkafka (confluent-kafka-python#413) left behind at one time.
MAX_ABANDONED_PROBES = 3
CONNECTED, RECONNECTING = ConnState.CONNECTED.value, ConnState.RECONNECTING.value
_FATAL = (AccessDeniedError, AuthenticationError)


class _Probe:
    """Two readers used only for watermarks: the audio partition's and the metadata's."""

    def __init__(self, session: ChannelSession) -> None:
        self.audio: PartitionReader | None = None
        self.meta: PartitionReader | None = None
        self._session = session

    def read(self, timeout: float) -> Watermarks:
        if self.audio is None or self.meta is None:
            self.audio = self._session.audio_reader("probe")
            self.meta = self._session.metadata_reader("probe")
        low, high = self.audio.watermarks(timeout)
        _, meta_high = self.meta.watermarks(timeout)
        return low, high, meta_high

    def close(self) -> None:
        for reader in (self.audio, self.meta):
            if reader is not None:
                reader.close()


class ListenService:
    def __init__(
        self,
        session: ChannelSession,
        on_event: EventHandler | None = None,
        on_error: Callable[[ChokError], None] | None = None,
        start_offset: int | None = None,
        on_state: StateHandler | None = None,
        *,
        on_floor: Callable[[list[str]], None] | None = None,
        on_watermarks: Callable[[Watermarks], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        probe_interval_s: float | None = None,
        fill_silence: bool = True,
    ) -> None:
        self.session = session
        self._fill_silence = fill_silence
        self._on_event = on_event
        self._on_error = on_error
        self._start_offset = start_offset
        self._on_state = on_state
        self._on_floor = on_floor
        self._on_watermarks = on_watermarks
        self._clock = clock
        self._lock = threading.RLock()  # the machine is fed from the listen and probe threads
        self.machine = ConnectionMachine(
            session.creds.bootstrap, clock, self._state_changed,
            probe_interval_s=probe_interval_s or PROBE_INTERVAL_S,
        )  # fmt: skip
        self._stop = threading.Event()
        self.tuned_in = threading.Event()
        self._floor: list[str] = []
        self._reopen = False
        self._probing: threading.Thread | None = None
        self._probe_client: _Probe | None = None  # kept while it answers
        self._abandoned: set[_Probe] = set()  # stuck in librdkafka, closed when they return
        self.error: ChokError | None = None
        self.tune_in_s: float | None = None
        self.position: int | None = None
        self._thread = threading.Thread(target=self._run, name="chok-listen", daemon=True)

    # -- the caller's side ----------------------------------------------------

    def start(self, timeout: float = 15.0, require: bool = True) -> ListenService:
        """Start listening and wait up to ``timeout`` to be tuned in.

        ``require``: raise if not tuned in by then (else it keeps trying in the
        background and says so through ``on_state``). A refusal (revoked access,
        TLS) always raises.
        """
        began = time.monotonic()
        self._thread.start()
        while not self.tuned_in.wait(0.05) and time.monotonic() - began < timeout:
            if self.error is not None:
                break
        if self.error is not None:
            raise self.error
        if require and not self.tuned_in.is_set():
            status = self.status
            self.stop()
            raise KafkaError(
                f"could not tune in to channel {self.session.number}: {status.text}"
                + (f" ({status.detail})" if status.detail else "")
            )
        return self

    @property
    def state(self) -> str:
        return self.machine.state.value

    @property
    def status(self) -> ConnStatus:
        with self._lock:
            return self.machine.describe()

    def talkers(self, exclude: str | None = None) -> list[str]:
        """Who is talking now (a frame in the last few seconds), for floor control."""
        with self._lock:
            return [t for t in self._floor if t != exclude]

    def wait_until_free(self, exclude: str | None, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.talkers(exclude) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the floor state kept by the listener thread
        return not self.talkers(exclude)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        with self._lock:
            self.machine.close()

    # -- the listen thread ---------------------------------------------------------

    def _run(self) -> None:
        listener = LiveListener(self.session, clock=self._clock, fill_silence=self._fill_silence)
        try:
            while not self._stop.is_set():
                if self.tuned_in.is_set():
                    self._listen_once(listener)
                elif self._due():
                    self._tune_in(listener)
                else:
                    self._stop.wait(0.05)  # until the next try the machine allows
                self._probe_if_due()
                with self._lock:
                    self.machine.tick()
        except ChokError as exc:
            self.error = exc
            if self._on_error is not None:
                self._on_error(exc)
        finally:
            self.position = listener.position
            listener.close()
            client = self._probe_client
            if client is not None and not (self._probing and self._probing.is_alive()):
                client.close()

    def _due(self) -> bool:
        with self._lock:
            return self.machine.attempt_due()

    def _tune_in(self, listener: LiveListener) -> None:
        with self._lock:
            self.machine.attempt_started()
        began = time.monotonic()
        try:
            listener.tune_in(self._start_offset, timeout=PROBE_TIMEOUT_S * 2)
        except _FATAL:
            raise
        except ChokError as exc:
            self._raise_if_refused(exc)
            with self._lock:
                self.machine.failed(str(exc))
            listener.reopen()  # a client that failed may hold stale metadata
            return
        self.tune_in_s = time.monotonic() - began
        self.position = listener.position
        with self._lock:
            self.machine.succeeded()
            self._reopen = False
        self.tuned_in.set()

    def _listen_once(self, listener: LiveListener) -> None:
        if self._reopen:
            self._reopen = False
            listener.reopen()  # continue exactly where reading stopped
        received = listener.received
        try:
            for event in listener.events(connected=self.machine.up):
                if self._on_event is not None:
                    self._on_event(event)
        except _FATAL:
            raise
        except ChokError as exc:
            self._raise_if_refused(exc)
            with self._lock:
                self.machine.failed(str(exc))
            self._stop.wait(0.2)  # the reader keeps failing until the broker is back
            return
        if listener.received != received:
            with self._lock:
                self.machine.succeeded()
        self.position = listener.position
        floor = listener.talkers
        with self._lock:
            changed, self._floor = floor != self._floor, floor
        if changed and self._on_floor is not None:
            self._on_floor(floor)

    def _raise_if_refused(self, exc: ChokError) -> None:
        """A revoked person sees "no such topic", like a restarting broker: ask."""
        if isinstance(exc, TopicMissingError):
            topics = [self.session.audio_topic, self.session.metadata_topic]
            denied = refusal(self.session.creds, topics)
            if denied is not None:
                raise denied

    def _state_changed(self, status: ConnStatus) -> None:
        """(under the lock) The machine says the connection changed."""
        if status.state is ConnState.CONNECTED and self.tuned_in.is_set():
            self._reopen = True
        if self._on_state is not None:
            self._on_state(status)

    # -- probes -----------------------------------------------------------------------

    def _probe_if_due(self) -> None:
        """Ask for the watermarks on a thread of its own when the machine says so.

        librdkafka's watermark query can block far past its timeout after a
        broker restart (confluent-kafka-python#413, librdkafka#2588): a probe
        the machine gave up on is left behind with its client (which closes
        when it returns), and the next one starts on a fresh client.
        """
        if not self.tuned_in.is_set() or not self._due():
            return
        with self._lock:
            if self._probing is not None and self._probing.is_alive():
                if len(self._abandoned) >= MAX_ABANDONED_PROBES or self._probe_client is None:
                    return
                self._abandoned.add(self._probe_client)
                self._probe_client = None
            client = self._probe_client = self._probe_client or _Probe(self.session)
            self.machine.attempt_started()
        self._probing = threading.Thread(
            target=self._probe, args=(client,), name="chok-probe", daemon=True
        )
        self._probing.start()

    def _probe(self, client: _Probe) -> None:
        try:
            marks = client.read(PROBE_TIMEOUT_S)
        except ChokError as exc:
            try:
                if isinstance(exc, _FATAL):
                    raise
                self._raise_if_refused(exc)
            except _FATAL as refused:
                self.error = refused
                self._stop.set()
                if self._on_error is not None:
                    self._on_error(refused)
                return
            with self._lock:
                self.machine.failed(str(exc))
                # A client that failed may hold stale metadata ("no such topic"
                # after a broker restart) for minutes: the next probe starts afresh.
                if self._probe_client is client:
                    self._probe_client = None
                    self._abandoned.add(client)
            return
        finally:
            with self._lock:
                given_up = client in self._abandoned
                self._abandoned.discard(client)
            if given_up:
                client.close()
        with self._lock:
            self.machine.succeeded()
            stopped = self._stop.is_set() and self._probe_client is client
        if stopped:  # the service ended while this probe was out: nobody closes it else
            client.close()
            return
        if self._on_watermarks is not None:
            self._on_watermarks(marks)
