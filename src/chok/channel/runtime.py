"""A live reader that keeps going whatever the broker does: the adapter around
the ``ConnectionMachine`` shared by ``ListenService`` (one channel) and
``MonitorService`` (several channels over one consumer).

Whether the broker is there is the machine's business (channel/connection.py):
this runtime feeds it (records read, probe answers, errors, time) and does what
it says, on a thread of its own:

- tune in when the machine allows it (so a listener starts while the broker is
  away, says so, and tunes in when it comes back);
- read, telling the reader whether the broker answers (quiet time ends a
  transmission only while connected);
- probe the broker while connected, on a thread of its own: a probe stuck in
  librdkafka is abandoned with its client;
- after an outage, reopen the reader exactly where reading stopped, so a
  transmission that was going on continues whole;
- a refusal (revoked access, a refused certificate) ends it with that error.

What is read, and how, is the subclass's: ``_tune_in``, ``_read``, ``_reopen``,
``_new_probe``, ``_finish``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, Self, TypeVar

from chok.channel.connection import PROBE_INTERVAL_S, ConnectionMachine, ConnState, ConnStatus
from chok.errors import (
    AccessDeniedError,
    AuthenticationError,
    ChokError,
    KafkaError,
    TopicMissingError,
)
from chok.kafka.admin import refusal
from chok.kafka.client import Credentials

StateHandler = Callable[[ConnStatus], None]
ErrorHandler = Callable[[ChokError], None]
Clock = Callable[[], float]
#: Seconds a probe may take before it counts as no answer.
PROBE_TIMEOUT_S = 2.0
#: Probes stuck in librdkafka (confluent-kafka-python#413) left behind at one time.
MAX_ABANDONED_PROBES = 3
#: A reader that keeps failing is asked again after this long (the broker is away).
FAILED_READ_PAUSE_S = 0.2
FATAL = (AccessDeniedError, AuthenticationError)
Answer = TypeVar("Answer")
Answer_co = TypeVar("Answer_co", covariant=True)


class Probe(Protocol[Answer_co]):
    """A client used only to ask the broker something small (watermarks)."""

    def read(self, timeout: float) -> Answer_co: ...

    def close(self) -> None: ...


class LiveRuntime(Generic[Answer]):
    """The thread, the machine and the probes of a live reader (see the module)."""

    def __init__(
        self,
        creds: Credentials,
        topics: Sequence[str],
        what: str,
        *,
        on_state: StateHandler | None = None,
        on_error: ErrorHandler | None = None,
        clock: Clock = time.monotonic,
        probe_interval_s: float | None = None,
        thread_name: str = "chok-live",
    ) -> None:
        """``topics``: asked about when the broker says one is missing (a revoked
        person sees that too); ``what``: "channel 1", for messages."""
        self._creds, self._topics, self.what = creds, list(topics), what
        self._on_state, self._on_error = on_state, on_error
        self._clock = clock
        self._lock = threading.RLock()  # the machine is fed from the reading and probe threads
        self.machine = ConnectionMachine(
            creds.bootstrap, clock, self._state_changed,
            probe_interval_s=probe_interval_s or PROBE_INTERVAL_S,
        )  # fmt: skip
        self._stop = threading.Event()
        self.tuned_in = threading.Event()
        self._reopen_due = False
        self._probing: threading.Thread | None = None
        self._probe_client: Probe[Answer] | None = None  # kept while it answers
        self._abandoned: set[Probe[Answer]] = set()  # stuck in librdkafka, closed when they return
        self.error: ChokError | None = None
        self.tune_in_s: float | None = None
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)

    # -- what a subclass does ---------------------------------------------------

    def _tune_in(self, timeout: float) -> None:
        """Assign the reader at its start and wait for the broker's first answer."""
        raise NotImplementedError

    def _read(self, connected: bool) -> bool:
        """One poll's worth; True when the broker answered (records were read)."""
        raise NotImplementedError

    def _reopen(self) -> None:
        """A fresh reader where reading stopped (what is under way stays open)."""
        raise NotImplementedError

    def _new_probe(self) -> Probe[Answer]:
        raise NotImplementedError

    def _probed(self, answer: Answer) -> None:
        """(Probe thread) what a probe answered."""

    def _finish(self) -> None:
        """(Reading thread) reading ends: close the reader."""

    # -- the caller's side -------------------------------------------------------

    def start(self, timeout: float = 15.0, require: bool = True) -> Self:
        """Start reading and wait up to ``timeout`` to be tuned in.

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
                f"could not tune in to {self.what}: {status.text}"
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

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._lock:
            self.machine.close()

    # -- the reading thread ---------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self.tuned_in.is_set():
                    self._read_once()
                elif self._due():
                    self._try_tune_in()
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
            self._finish()
            client = self._probe_client
            if client is not None and not (self._probing and self._probing.is_alive()):
                client.close()

    def _due(self) -> bool:
        with self._lock:
            return self.machine.attempt_due()

    def _try_tune_in(self) -> None:
        with self._lock:
            self.machine.attempt_started()
        began = time.monotonic()
        try:
            self._tune_in(PROBE_TIMEOUT_S * 2)
        except FATAL:
            raise
        except ChokError as exc:
            self._raise_if_refused(exc)
            with self._lock:
                self.machine.failed(str(exc))
            self._reopen()  # a client that failed may hold stale metadata
            return
        self.tune_in_s = time.monotonic() - began
        with self._lock:
            self.machine.succeeded()
            self._reopen_due = False
        self.tuned_in.set()

    def _read_once(self) -> None:
        if self._reopen_due:
            self._reopen_due = False
            self._reopen()  # continue exactly where reading stopped
        try:
            answered = self._read(self.machine.up)
        except FATAL:
            raise
        except ChokError as exc:
            self._raise_if_refused(exc)
            with self._lock:
                self.machine.failed(str(exc))
            self._stop.wait(FAILED_READ_PAUSE_S)  # the reader fails until the broker is back
            return
        if answered:
            with self._lock:
                self.machine.succeeded()

    def _raise_if_refused(self, exc: ChokError) -> None:
        """A revoked person sees "no such topic", like a restarting broker: ask."""
        if isinstance(exc, TopicMissingError):
            denied = refusal(self._creds, self._topics)
            if denied is not None:
                raise denied

    def _state_changed(self, status: ConnStatus) -> None:
        """(under the lock) The machine says the connection changed."""
        if status.state is ConnState.CONNECTED and self.tuned_in.is_set():
            self._reopen_due = True
        if self._on_state is not None:
            self._on_state(status)

    # -- probes -----------------------------------------------------------------------

    def _probe_if_due(self) -> None:
        """Ask the broker on a thread of its own when the machine says so.

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
            client = self._probe_client = self._probe_client or self._new_probe()
            self.machine.attempt_started()
        self._probing = threading.Thread(
            target=self._probe, args=(client,), name="chok-probe", daemon=True
        )
        self._probing.start()

    def _probe(self, client: Probe[Answer]) -> None:
        try:
            answer = client.read(PROBE_TIMEOUT_S)
        except ChokError as exc:
            self._probe_failed(client, exc)
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
        if stopped:  # the reading ended while this probe was out: nobody closes it else
            client.close()
            return
        self._probed(answer)

    def _probe_failed(self, client: Probe[Answer], exc: ChokError) -> None:
        try:
            if isinstance(exc, FATAL):
                raise exc
            self._raise_if_refused(exc)
        except FATAL as refused:
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
