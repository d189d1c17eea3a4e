"""Sending what an earlier chok left in the outbox: it crashed, was killed, or was
closed before the broker came back.

Any chok that opens a session on a profile (a command, `chok listen`, `chok
talk`, the desktop app) starts one ``Resender`` for that profile, once per
process, when the profile's outbox holds entries. It claims each entry nobody
holds (the lock of a dead process is free), oldest first, and sends it like a
talker would have: frames not yet acknowledged, the end marker, the record with
the offsets the broker gave. A short-lived command waits for it at exit while
the broker answers (up to AT_EXIT_WAIT_S), and otherwise leaves the rest again.
"""

from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass, field

from chok.channel.delivery import Delivery, DeliveryState
from chok.channel.outbox import Outbox, OutboxEnd, OutboxEntry
from chok.channel.producers import outbox_producer
from chok.kafka.client import Credentials
from chok.protocol.transmission import Transmission

AT_EXIT_WAIT_S = 20.0

_resenders: dict[str, Resender] = {}
_registry_lock = threading.Lock()


@dataclass
class Resender:
    profile: str
    creds: Credentials
    outbox: Outbox
    sent: list[Transmission] = field(default_factory=list)
    current: Delivery | None = None

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chok-resend", daemon=True)

    def start(self) -> Resender:
        self._thread.start()
        return self

    def _run(self) -> None:
        producer = None
        try:
            for path in self.outbox.pending():
                if self._stop.is_set():
                    return
                entry = self.outbox.claim(path)
                if entry is None:
                    continue  # a live chok is sending it
                if producer is None:
                    producer = outbox_producer(self.creds, entry.meta.audio_topic)
                self._send(entry, Delivery(entry, self.creds, producer))
        finally:
            if producer is not None:
                producer.close()
            self._idle.set()

    def _send(self, entry: OutboxEntry, delivery: Delivery) -> None:
        self.current = delivery
        if entry.end is None:  # killed while talking: it ends where the words end
            frames = max(entry.frames, default=-1) + 1
            duration = frames * entry.meta.frame_ms
            delivery.release(OutboxEnd(frames, duration, entry.meta.created_ms + duration))
        else:
            delivery.release(entry.end)
        while not delivery.wait(0.5):
            if self._stop.is_set():
                delivery.leave()
                return
        if delivery.state is DeliveryState.SENT and delivery.transmission is not None:
            self.sent.append(delivery.transmission)

    def busy(self) -> bool:
        return not self._idle.is_set()

    def making_progress(self) -> bool:
        """Still sending and the broker answers (worth waiting for at exit)."""
        current = self.current
        return self.busy() and (current is None or current.state is DeliveryState.SENDING)

    def wait(self, timeout: float | None = None) -> bool:
        return self._idle.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)


def resume_outbox(profile: str, creds: Credentials) -> Resender | None:
    """Start sending what an earlier chok left on this profile; None if nothing was left."""
    outbox = Outbox.left_for(profile)
    if outbox is None or not outbox.pending():
        return None
    with _registry_lock:
        running = _resenders.get(profile)
        if running is not None and running.busy():
            return running
        if not _resenders:
            atexit.register(_finish_at_exit)
        resender = _resenders[profile] = Resender(profile, creds, outbox).start()
        return resender


def _finish_at_exit() -> None:
    """A command that ends soon after it started: finish sending while it goes well."""
    with _registry_lock:
        resenders = list(_resenders.values())
    for resender in resenders:
        waited = 0.0
        while resender.making_progress() and waited < AT_EXIT_WAIT_S:
            if resender.wait(0.5):
                break
            waited += 0.5
        resender.stop()
