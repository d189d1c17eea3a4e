"""Sending one outbox entry: its frames in order, the end marker, then the
transmission record with the offsets the broker gave (protocol.md 4 and 5.1).

A ``Delivery`` runs on a thread of its own for as long as it takes. librdkafka
retries while the broker is away; the outbox (on disk) covers the death of this
process. When a producer fails for good (a gap it cannot close, a partition that
vanished during a broker restart), the delivery replaces it and re-sends, in
order, every frame not yet acknowledged: receivers drop any frame they already
have (same talker, transmission and seq).

It is also the handle a talker observes after release: ``state``,
``progress()`` and ``result()`` give the values of ``delivery_state``
(sending, queued, sent, failed or left), re-exported here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from chok.channel.connection import Clock, ConnectionMachine, ConnState
from chok.channel.delivery_producer import DeliveryProducer, ProducerFactory
from chok.channel.delivery_state import DeliveryProgress, DeliveryState, TalkResult
from chok.channel.outbox import SYNC_INTERVAL_S, OutboxEnd, OutboxEntry, OutboxMeta
from chok.channel.outgoing import TransmissionRecords
from chok.channel.producers import outbox_producer, shared_producer
from chok.channel.security import ChannelSecurity, security_for
from chok.errors import (
    AccessDeniedError,
    AuthenticationError,
    ChokError,
    ConfigError,
    KafkaTimeoutError,
    TopicMissingError,
)
from chok.kafka.admin import refusal
from chok.kafka.client import Credentials
from chok.kafka.producer import RecordProducer
from chok.protocol.audio import AudioRecord
from chok.protocol.transmission import Transmission, build_transmission

__all__ = ["Delivery", "DeliveryProgress", "DeliveryState", "TalkResult"]

#: A delivery report for the end marker / the record uses these instead of a seq.
_END, _RECORD, _CERT = -1, -2, -3


def _security(creds: Credentials, channel: int, private: bool) -> ChannelSecurity | None:
    """The person's keys; None if their files cannot be read (unsigned records, then)."""
    try:
        return security_for(creds, channel, private)
    except ConfigError:
        return None


def _unsigned_record(meta: OutboxMeta, offsets: tuple[int, int], end: OutboxEnd) -> Transmission:
    """An entry's transmission record (protocol.md 5.1), before it is signed:
    the offsets the broker gave its first and last frame, the end's figures."""
    return build_transmission(
        user=meta.talker, channel=meta.channel, start_offset=offsets[0], end_offset=offsets[1],
        timestamp_ms=end.released_ms, tx_id=meta.tx_id, frames=end.frames,
        duration_ms=end.duration_ms, frame_ms=meta.frame_ms, display_name=meta.display_name,
    )  # fmt: skip


class Delivery:
    """Sends one outbox entry; the handle to watch and await it."""

    def __init__(
        self,
        entry: OutboxEntry,
        creds: Credentials,
        producer: RecordProducer | None = None,
        clock: Clock = time.monotonic,
        new_producer: ProducerFactory | None = None,
    ) -> None:
        self.entry = entry
        self._creds = creds
        meta = entry.meta
        self._producer = DeliveryProducer(
            producer or shared_producer(creds, meta.audio_topic),
            new_producer or (lambda: outbox_producer(creds, meta.audio_topic)),
        )
        # Signed with the person's key, sealed on a private channel (protocol.md 9, 10).
        self._records = TransmissionRecords(
            _security(creds, meta.channel, meta.epoch > 0),
            meta.talker,
            meta.tx_id,
            meta.frame_ms,
            bytes.fromhex(meta.salt),
            meta.epoch or None,
        )
        self._clock = clock
        self._lock = threading.RLock()
        self._acked = threading.Condition(self._lock)  # notified on every acknowledgement
        self._order: list[int] = list(entry.unacked())  # seqs to produce, in order
        self._cursor = 0
        self._end_queued = False
        self._record_queued = False
        self._replace = False
        self._ask_access = False
        self._released_at: float | None = None
        self._state = DeliveryState.SENDING
        self.error: ChokError | None = None
        self.transmission: Transmission | None = None
        self._listeners: list[Callable[[DeliveryProgress], None]] = []
        self._told: DeliveryState | None = None
        self._done = threading.Event()
        self._stop = threading.Event()
        self.machine = ConnectionMachine(creds.bootstrap, clock, lambda _s: self._update())
        self._thread = threading.Thread(target=self._run, name="chok-delivery", daemon=True)
        self._thread.start()

    # -- the talking thread ------------------------------------------------------

    def add_frame(self, seq: int, value: bytes) -> None:
        """A frame just captured: on disk first, then to the broker at once."""
        self.entry.add_frame(seq, value)
        with self._lock:
            self._order.append(seq)
            self._pump()

    def release(self, end: OutboxEnd) -> Delivery:
        """The button is up: the end marker follows, then the record."""
        if not self.entry.frames:  # nothing was said: nothing to send
            with self._lock:
                self.entry.finish()
                self._finish(DeliveryState.SENT)
            return self
        self.entry.close_transmission(end)
        with self._lock:
            self._released_at = self._clock()
            self._pump()
        return self

    # -- the handle ------------------------------------------------------------------

    @property
    def state(self) -> DeliveryState:
        return self._state

    def progress(self) -> DeliveryProgress:
        with self._lock:
            waited = 0.0 if self._released_at is None else self._clock() - self._released_at
            return DeliveryProgress(
                self._state,
                len(self.entry.frames),
                len(self.entry.acks),
                waited,
                self.machine.describe(),
            )

    def on_change(self, listener: Callable[[DeliveryProgress], None]) -> None:
        """Call ``listener`` (on the delivery's thread) whenever the state changes."""
        self._listeners.append(listener)

    def wait(self, timeout: float | None = None) -> bool:
        """True once sent (or failed, or left); False if still going after ``timeout``."""
        return self._done.wait(timeout)

    def wait_acknowledged(self, timeout: float | None = None) -> bool:
        """Wait until every frame given so far has been acknowledged by the broker."""
        with self._lock:
            return self._acked.wait_for(lambda: not self.entry.unacked(), timeout)

    def result(self) -> TalkResult:
        """What was sent; raises why not if it failed, or if it is not sent yet."""
        if self.error is not None:
            raise self.error
        if self._state is not DeliveryState.SENT:
            raise KafkaTimeoutError(
                f"not sent yet ({self._state.value}): kept in the outbox, "
                "and sent when the broker answers"
            )
        entry = self.entry
        return TalkResult(
            self.transmission, entry.end.frames if entry.end else 0, entry.bytes_said,
            entry.meta.tx_id,
        )  # fmt: skip

    def leave(self) -> None:
        """Stop here: what is not sent stays in the outbox for the next chok."""
        self._stop.set()
        self._thread.join(10)

    # -- the delivery's thread ---------------------------------------------------------

    def _run(self) -> None:
        last_sync = self._clock()
        try:
            while not self._stop.is_set() and not self._done.is_set():
                self._producer.poll(0.05)
                self._step()
                if self._ask_access:
                    self._check_access()
                if self._clock() - last_sync >= SYNC_INTERVAL_S:
                    self.entry.sync()
                    last_sync = self._clock()
        except Exception as exc:  # a bug or a full disk: keep the entry, say why
            self.error = exc if isinstance(exc, ChokError) else ChokError(f"sending failed: {exc}")
            self._finish(DeliveryState.FAILED)
        finally:
            self._close()

    def _step(self) -> None:
        with self._lock:
            error = self._producer.take_error()
            if error is not None:
                self._failed(error)
            self._apply_reports()
            self.machine.tick()
            if self._replace:
                self._replace_producer()
            self._pump()
            self._maybe_record()
        self._update()

    def _apply_reports(self) -> None:
        for what, delivered, error in self._producer.reports():
            if delivered is not None:
                self.machine.succeeded()
                if what == _RECORD:
                    self.entry.ack_record()
                elif what == _END:
                    self.entry.ack_end(delivered.offset)
                elif what == _CERT:
                    pass  # the certificate record: nothing to remember
                else:
                    self.entry.ack_frame(what, delivered.offset)
                self._acked.notify_all()
            elif error is not None:
                self._failed(error)
                self._replace = True

    def _failed(self, error: ChokError) -> None:
        if isinstance(error, AccessDeniedError | AuthenticationError):
            self.error = self.error or error
            self._finish(DeliveryState.FAILED)
            return
        # A revoked person is told "no such topic", like a restarting broker:
        # the delivery's thread asks precisely (outside the lock, it takes time).
        self._ask_access = self._ask_access or isinstance(error, TopicMissingError)
        self.machine.failed(str(error))

    def _check_access(self) -> None:
        self._ask_access = False
        meta = self.entry.meta
        denied = refusal(self._creds, [meta.audio_topic, meta.metadata_topic])
        if denied is not None:
            with self._lock:
                self._failed(denied)

    def _pump(self) -> None:
        """Produce, in order, what this producer has not been given yet."""
        if self._done.is_set() or self._replace:
            return
        entry = self.entry
        try:
            while self._cursor < len(self._order):
                seq = self._order[self._cursor]
                record = self._frame_record(seq, entry.frames[seq])
                if not self._produce_audio(record, seq):
                    return  # librdkafka's queue is full: the next step tries again
                self._cursor += 1
            end = entry.end
            if end is not None and entry.end_offset is None and not self._end_queued:
                eot = self._records.end(
                    dict(entry.frames), end.frames, end.duration_ms, end.released_ms
                )
                self._end_queued = self._produce_audio(eot, _END)
        except ChokError as exc:  # a producer that failed for good
            self.machine.failed(str(exc))
            self._replace = True

    def _frame_record(self, seq: int, value: bytes) -> AudioRecord:
        return self._records.frame(seq, value)

    def _produce_audio(self, record: AudioRecord, what: int) -> bool:
        meta = self.entry.meta
        if not self.machine.awaiting_answer:
            self.machine.attempt_started()
        return self._producer.enqueue(
            meta.audio_topic, record.key, record.value, record.headers, meta.audio_partition, what
        )

    def _maybe_record(self) -> None:
        entry, meta = self.entry, self.entry.meta
        if self._done.is_set() or entry.end is None or entry.end_offset is None:
            return
        if entry.record_sent:
            self._sent()
            return
        offsets = entry.offsets()
        if self._record_queued or entry.unacked() or offsets is None:
            return
        self.transmission = _unsigned_record(meta, offsets, entry.end)
        self.transmission, key, value = self._records.transmission(
            self.transmission, dict(entry.frames)
        )
        try:
            cert = self._records.cert()  # receivers need it to check the signature
            if cert is not None:
                self._producer.enqueue(
                    meta.metadata_topic, cert.key(), cert.der, None, meta.metadata_partition,
                    _CERT,
                )  # fmt: skip
            self._record_queued = self._producer.enqueue(
                meta.metadata_topic, key, value, None, meta.metadata_partition,
                _RECORD,
            )  # fmt: skip
        except ChokError as exc:
            self.machine.failed(str(exc))
            self._replace = True

    def _sent(self) -> None:
        if self.transmission is None:  # sent by a process before this one
            offsets = self.entry.offsets()
            end = self.entry.end
            if offsets is not None and end is not None:
                unsigned = _unsigned_record(self.entry.meta, offsets, end)
                self.transmission = self._records.transmission(unsigned, dict(self.entry.frames))[0]
        self.entry.finish()
        self._finish(DeliveryState.SENT)

    def _replace_producer(self) -> None:
        """Start afresh on a new producer: everything not acknowledged, in order."""
        self._replace = False
        self._producer.replace()
        self._order, self._cursor = self.entry.unacked(), 0
        self._end_queued = self._record_queued = False

    def _finish(self, state: DeliveryState) -> None:
        self._state = state
        self._done.set()

    def _close(self) -> None:
        if not self._done.is_set():
            self._state = DeliveryState.LEFT
            self.entry.leave()
            self._done.set()
        elif self._state is DeliveryState.FAILED:
            self.entry.leave()
        self._producer.close()
        self._update()

    def _update(self) -> None:
        """Work out sending/queued from the connection and tell the listeners."""
        with self._lock:
            if not self._done.is_set():
                down = self.machine.state in (ConnState.RECONNECTING, ConnState.OFFLINE)
                self._state = DeliveryState.QUEUED if down else DeliveryState.SENDING
            if self._state is self._told:
                return
            self._told = self._state
            progress = self.progress()
        for listener in self._listeners:
            listener(progress)
