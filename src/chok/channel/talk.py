"""Talking: PCM frames in, one audio record per Opus packet out, then the
transmission record on release (protocol.md sections 4 and 5)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from chok.channel.session import ChannelSession, now_ms
from chok.codec.opus import DEFAULT_BITRATE, OpusEncoder
from chok.kafka.stream import Delivered, RecordProducer
from chok.protocol.audio import SILENCE_MARKER, build_audio_frame, build_end_of_transmission
from chok.protocol.names import tx_id_from_bytes
from chok.protocol.transmission import Transmission, build_transmission

Pcm = npt.NDArray[np.int16]


@dataclass(frozen=True)
class TalkResult:
    transmission: Transmission | None  # None when nothing was said (zero frames)
    frames: int
    bytes_sent: int
    tx_id: str


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
    ) -> None:
        self.session = session
        self.frame_ms = frame_ms
        self._producer = producer or session.producer()
        self._encoder = OpusEncoder(frame_ms, bitrate)
        self.tx_id = tx_id_from_bytes(os.urandom(4))
        self._seq = 0
        self._bytes = 0
        self._last_silent = False
        self.suppress_silence = True
        self._offsets: list[int] = []
        self._lock = threading.Lock()

    @property
    def frames_sent(self) -> int:
        return self._seq

    def send_pcm(self, pcm: Pcm | bytes) -> None:
        self.send_packet(self._encoder.encode(pcm))

    def send_packet(self, packet: bytes) -> None:
        record = build_audio_frame(self.session.user, self.tx_id, self._seq, packet, self.frame_ms)
        self._seq += 1
        silent = record.value == SILENCE_MARKER
        if silent and self._last_silent and self.suppress_silence:
            # A pause goes out as its first silence marker only; the gap in seq
            # tells receivers how long it lasted (protocol.md, silence runs).
            return
        self._last_silent = silent
        self._bytes += len(record.value)
        self._producer.produce(
            self.session.audio_topic,
            record.key,
            record.value,
            record.headers,
            on_delivery=self._delivered,
            partition=self.session.config.audio_partition,
        )

    def _delivered(self, delivered: Delivered | None, _error: object) -> None:
        if delivered is not None:
            with self._lock:
                self._offsets.append(delivered.offset)

    def end(self, timeout: float = 15.0) -> TalkResult:
        """Release: end-of-transmission marker, flush, then the transmission record."""
        frames = self._seq
        duration_ms = frames * self.frame_ms
        if frames == 0:
            return TalkResult(None, 0, 0, self.tx_id)
        eot = build_end_of_transmission(
            self.session.user, self.tx_id, frames, duration_ms, frame_ms=self.frame_ms
        )
        self._producer.produce(
            self.session.audio_topic, eot.key, eot.value, eot.headers,
            partition=self.session.config.audio_partition,
        )  # fmt: skip
        self._producer.flush(timeout)
        with self._lock:
            start, end = min(self._offsets), max(self._offsets)
        tx = build_transmission(
            user=self.session.user,
            channel=self.session.number,
            start_offset=start,
            end_offset=end,
            timestamp_ms=now_ms(),
            tx_id=self.tx_id,
            frames=frames,
            duration_ms=duration_ms,
            frame_ms=self.frame_ms,
            display_name=self.session.display_name,
        )
        self._producer.produce(
            self.session.metadata_topic, tx.key(), tx.to_value(),
            partition=self.session.config.metadata_partition,
        )  # fmt: skip
        self._producer.flush(timeout)
        return TalkResult(tx, frames, self._bytes, self.tx_id)


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
