"""Mouth to ear through the devices: the clock signal said into a talker's
microphone, played by a listener's speaker in another room, recorded there.

Talker and listener are chok's own runtimes in this process (the press
runtime with a kept-open microphone; ``ListenService`` and ``LivePlayer`` on
a speaker in PULSE_SINK=chok_ear); the signal's player and the recorder in
the other room are processes of their own. Every quarter second of what the
recorder heard is aligned to the signal: heard at (its capture time) minus
said at (the player's time for it) is one mouth-to-ear figure. chok's part is
that minus what the two devices report as their own latency.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from chok.audio.base import TimedBlock
from chok.audio.sound import SoundDeviceInput, SoundDeviceOutput
from chok.bench.clock_signal import ClockPlayer, EarRecorder, align
from chok.channel.capture import Capture
from chok.channel.live import Event, FrameArrived
from chok.channel.player import LivePlayer
from chok.channel.push_to_talk import PushToTalk
from chok.channel.service import ListenService
from chok.channel.session import open_session
from chok.channel.talk import Talker
from chok.codec import SAMPLE_RATE
from chok.profiles import Profile

CHUNK = SAMPLE_RATE // 4
EAR = "chok_ear"


@dataclass(frozen=True)
class MouthToEar:
    total_ms: list[float]  # one per aligned quarter second
    input_latency_ms: float  # the talker's microphone, as PortAudio reports it
    output_latency_ms: float  # the listener's speaker, as PortAudio reports it
    captured_ms: list[float]  # per frame: its first sample said -> handed to the producer
    carried_ms: list[float]  # per frame: handed to the producer -> arrived at the listener

    @property
    def chok_ms(self) -> list[float]:
        devices = self.input_latency_ms + self.output_latency_ms
        return [t - devices for t in self.total_ms]


def _speaker_in_the_other_room() -> SoundDeviceOutput:
    """libpulse reads PULSE_SINK when a stream connects: set it for this one only."""
    before = os.environ.get("PULSE_SINK")
    os.environ["PULSE_SINK"] = EAR
    try:
        speaker = SoundDeviceOutput("pulse")
        speaker.start()
    finally:
        if before is None:
            os.environ.pop("PULSE_SINK", None)
        else:
            os.environ["PULSE_SINK"] = before
    return speaker


class _Stopwatch(PushToTalk):
    """The press runtime, noting for each frame when it was said and when sent."""

    handed: ClassVar[list[tuple[float, float]]]

    def send(self, block: TimedBlock) -> None:
        self.handed.append((block.start, time.monotonic()))
        super().send(block)


def measure(
    talker: Profile, listener: Profile, hold_s: float, talks_before_press: bool
) -> MouthToEar:
    """``talks_before_press``: the signal plays from before the press, so the
    300 ms pre-roll is sound the listener plays first (the worst case); else the
    talker starts after the press, as people do, and the pre-roll is silence."""
    player = ClockPlayer(slots=int(hold_s * 10) + 200)
    if talks_before_press:
        player.start()
    speaker = _speaker_in_the_other_room()
    live = LivePlayer(speaker)
    arrived: dict[int, float] = {}

    def heard(event: Event) -> None:
        if (
            isinstance(event, FrameArrived)
            and not event.synthesized
            and event.frame.seq is not None
        ):
            arrived.setdefault(event.frame.seq, time.monotonic())
        live.feed(event)

    service = ListenService(open_session(listener), on_event=heard).start()
    ear = EarRecorder({"PULSE_SOURCE": f"{EAR}.monitor"}).start()
    talk = open_session(talker)
    capture = Capture(lambda: SoundDeviceInput("pulse"), keep_open=True)
    capture.open()
    producer = talk.producer()
    _Stopwatch.handed = []
    ptt = _Stopwatch(capture, lambda: Talker(talk, producer)).start()
    try:
        deadline = time.monotonic() + 10
        while capture.buffered_s < 1.9 and time.monotonic() < deadline:
            time.sleep(0.05)  # the microphone settles (see SETTLE_S)
        input_latency, output_latency = capture.latency, speaker.latency
        ptt.press()
        if not talks_before_press:
            player.start()  # starts talking a moment after the press
        time.sleep(hold_s)  # the talker holds the floor
        ptt.release()
        ptt.wait_idle(20)
        time.sleep(1.0)  # the listener plays the end of it
    finally:
        starts, blocks = ear.stop()
        player.stop()
        ptt.close()
        service.stop()
        live.close()
    handed = _Stopwatch.handed
    return MouthToEar(
        _delays(starts, blocks, player),
        input_latency * 1000,
        output_latency * 1000,
        [(sent - said) * 1000 for said, sent in handed],
        [(arrived[seq] - sent) * 1000 for seq, (_, sent) in enumerate(handed) if seq in arrived],
    )


def _delays(starts: np.ndarray, blocks: np.ndarray, player: ClockPlayer) -> list[float]:
    """Heard minus said, for every quarter second of the recording that holds the signal."""
    if not len(blocks):
        return []
    pcm = blocks.reshape(-1)
    per_block = blocks.shape[1]
    found = []
    for begin in range(0, pcm.size - CHUNK + 1, CHUNK):
        block, offset = divmod(begin, per_block)
        heard = float(starts[block]) + offset / SAMPLE_RATE
        # Said at most 3 s before it was heard: search only there.
        first = max(0, player.sample_at(heard) - 3 * SAMPLE_RATE)
        where = align(pcm[begin : begin + CHUNK], player.signal[first : first + 4 * SAMPLE_RATE])
        if where.score < 0.9:
            continue  # silence, or a cut: not a clean piece of the signal
        found.append((heard - player.time_of(first + where.start)) * 1000)
    return found


def summary(result: MouthToEar) -> dict[str, float]:
    def pct(values: list[float], p: float) -> float:
        return float(np.percentile(np.array(values), p)) if values else float("nan")

    return {
        "p50": pct(result.total_ms, 50),
        "p95": pct(result.total_ms, 95),
        "chok_p50": pct(result.chok_ms, 50),
        "chok_p95": pct(result.chok_ms, 95),
        "captured_p50": pct(result.captured_ms, 50),
        "carried_p50": pct(result.carried_ms, 50),
    }
