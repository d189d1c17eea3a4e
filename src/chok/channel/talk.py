"""Talking: PCM frames in, one audio record per Opus packet out, then the
transmission record on release (protocol.md sections 4 and 5).

Every frame goes to the outbox on disk first (channel/outbox.py) and to the
broker at once; a ``Delivery`` (channel/delivery.py) sees it through, for as
long as the broker is away. Making a Talker and giving it frames never waits
for the network and never fails because of it (except on a private channel,
where it first looks for a newer epoch key: one round trip).

Every frame is kept as it goes on the wire (sealed on a private channel); the
records built from the outbox are signed with the talker's certificate key
(protocol.md, sections 9 and 10).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable

import numpy as np
import numpy.typing as npt

from chok.channel.delivery import (
    Delivery,
    DeliveryProgress,
    DeliveryState,
    TalkResult,
)
from chok.channel.outbox import Outbox, OutboxEnd, OutboxMeta
from chok.channel.outgoing import OutgoingTransmission
from chok.channel.producers import shared_producer
from chok.channel.session import ChannelSession, now_ms
from chok.codec.opus import DEFAULT_BITRATE, OpusEncoder
from chok.errors import ChokError, KafkaTimeoutError
from chok.kafka.producer import RecordProducer
from chok.protocol.audio import is_silence
from chok.protocol.names import tx_id_from_bytes

Pcm = npt.NDArray[np.int16]

__all__ = [
    "TalkResult",
    "Talker",
    "finish_and_wait",
    "get_ready",
    "talk_frames",
    "wait_delivery",
]


class Talker:
    """One press of the button: begin, send frames, end.

    Frames go out as they are captured (live); their offsets come back in
    delivery reports and give the transmission record its start/end offsets.
    """

    def __init__(
        self,
        session: ChannelSession,
        producer: RecordProducer | None = None,
        frame_ms: int = 60,
        bitrate: int = DEFAULT_BITRATE,
        *,
        outbox: Outbox | None = None,
    ) -> None:
        self.session = session
        self.frame_ms = frame_ms
        self._encoder = OpusEncoder(frame_ms, bitrate)
        self.tx_id = tx_id_from_bytes(os.urandom(4))
        self._seq = 0
        self._last_silent = False
        self.suppress_silence = True
        if session.private:
            session.refresh_keys()  # never seal with an epoch that has ended
        self._out = OutgoingTransmission(session.security, session.user, self.tx_id, frame_ms)
        config = session.config
        meta = OutboxMeta(
            profile=session.profile_name,
            talker=session.user,
            tx_id=self.tx_id,
            channel=session.number,
            audio_topic=session.audio_topic,
            audio_partition=config.audio_partition,
            metadata_topic=session.metadata_topic,
            metadata_partition=config.metadata_partition,
            frame_ms=frame_ms,
            created_ms=now_ms(),
            salt=self._out.salt.hex(),
            epoch=self._out.epoch or 0,
            display_name=session.display_name,
        )
        entry = (outbox or Outbox.for_profile(session.profile_name)).create(meta)
        self.delivery = Delivery(entry, session.creds, producer)

    @property
    def frames_sent(self) -> int:
        return self._seq

    def send_pcm(self, pcm: Pcm | bytes) -> None:
        self.send_packet(self._encoder.encode(pcm))

    def send_packet(self, packet: bytes) -> None:
        seq = self._seq
        self._seq += 1
        silent = is_silence(packet)
        if silent and self._last_silent and self.suppress_silence:
            # A pause goes out as its first silence marker only; the gap in seq
            # tells receivers how long it lasted (protocol.md, silence runs).
            return
        self._last_silent = silent
        self.delivery.add_frame(seq, self._out.value(seq, packet))

    def finish(self) -> Delivery:
        """Release without waiting: the handle says "sending", "queued" or "sent"."""
        frames = self._seq
        return self.delivery.release(OutboxEnd(frames, frames * self.frame_ms, now_ms()))

    def end(self, timeout: float = 15.0) -> TalkResult:
        """Release and wait until sent; raise if it is not sent in ``timeout`` s
        (it stays in the outbox and goes out as soon as the broker answers)."""
        delivery = self.finish()
        if not delivery.wait(timeout):
            raise KafkaTimeoutError(
                f"not sent in {timeout:.0f} s: kept in the outbox, "
                "and sent as soon as the broker answers"
            )
        return delivery.result()


def get_ready(session: ChannelSession) -> None:
    """Warm up the producer the next Talker of this process will use (never blocks)."""
    shared_producer(session.creds, session.audio_topic)


def finish_and_wait(talker: Talker, say: Callable[[str], None], every_s: float = 5.0) -> TalkResult:
    """Release, then wait until it is sent, saying what happens in plain words."""
    return wait_delivery(talker.finish(), say, talker.session.profile_name, every_s)


def wait_delivery(
    delivery: Delivery, say: Callable[[str], None], profile: str, every_s: float = 5.0
) -> TalkResult:
    """Wait until a released transmission is sent, saying what happens in plain words.

    Used after `chok talk` releases: "queued 2.4 s: waiting for the broker at
    HOST:PORT…" while the broker is away, then "sent". On Ctrl-C what is not
    sent stays in the outbox, for the next chok started on this profile.
    """
    shown: DeliveryState | None = None
    waited = False  # said "queued" at least once
    next_note = 0.0
    try:
        while not delivery.wait(0.2):
            progress = delivery.progress()
            if progress.state is not shown or time.monotonic() >= next_note:
                if progress.state is DeliveryState.QUEUED or shown is DeliveryState.QUEUED:
                    say(_describe(progress, delivery))
                    waited = True
                shown, next_note = progress.state, time.monotonic() + every_s
    except KeyboardInterrupt:
        delivery.leave()
        raise LeftInOutbox(profile) from None
    if waited and delivery.state is DeliveryState.SENT:
        say(f"sent, {delivery.progress().waiting_s:.1f} s after you let go")
    return delivery.result()


def _describe(progress: DeliveryProgress, delivery: Delivery) -> str:
    where = delivery.machine.address
    if progress.state is DeliveryState.QUEUED:
        return (
            f"queued {progress.waiting_s:.1f} s: waiting for the broker at {where}… "
            f"({progress.acknowledged} of {progress.frames} frames acknowledged)"
        )
    return f"sending: the broker at {where} answers again"


class LeftInOutbox(ChokError):
    """Interrupted while waiting for the broker: nothing is lost, it is sent later."""

    exit_code = 130

    def __init__(self, profile: str) -> None:
        super().__init__(
            "interrupted: not sent yet, kept in the outbox; "
            f"the next chok started on profile {profile} sends it"
        )


def talk_frames(
    session: ChannelSession,
    frames: Iterable[Pcm],
    *,
    paced: bool = True,
    frame_ms: int = 60,
    bitrate: int = DEFAULT_BITRATE,
    on_frame: Callable[[int, Pcm], None] | None = None,
    stop: threading.Event | None = None,
) -> TalkResult:
    """Send PCM frames as one transmission; ``paced`` sends them in real time
    (one frame every frame_ms), as a person talking would, so listeners hear it live."""
    talker = Talker(session, frame_ms=frame_ms, bitrate=bitrate)
    start = time.monotonic()
    for index, pcm in enumerate(frames):
        if stop is not None and stop.is_set():
            break
        if paced:
            due = start + index * frame_ms / 1000
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # real-time pacing of a recorded file
        talker.send_pcm(pcm)
        if on_frame is not None:
            on_frame(index, pcm)
    return talker.end()
