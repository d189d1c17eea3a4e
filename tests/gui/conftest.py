"""Fixtures for driving the desktop app against the real broker.

Qt runs offscreen; the microphone is speech from memory, live like a real
one (tests/audio_fakes.py: paced, timed, looping; it can wake slowly) and the
speaker a buffer, so no sound card is needed. The broker, users and channels
are the real ones of tests/conftest.py.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QWidget

from chok.audio import ArrayInput, AudioInput, AudioOutput, BufferOutput
from chok.channel.capture import Capture
from chok.channel.press import PressTiming
from chok.channel.push_to_talk import PressCallbacks, talk_once
from chok.channel.session import ChannelSession
from chok.channel.talk import Talker, TalkResult
from chok.codec import Pcm, sample_speech
from chok.errors import AudioDeviceError
from chok.gui.audio_io import AudioDevices, AudioSettings
from chok.profiles import Profile
from tests.audio_fakes import FakeMicrophone

SPEECH_S = 2.0


@cache
def speech() -> Pcm:
    """About two seconds of the shipped speech sample."""
    return sample_speech()[: int(48_000 * SPEECH_S)]


@dataclass
class FakeSound:
    """Devices for the app: a live speech "microphone", buffer "speakers"."""

    inputs_opened: int = 0
    outputs: list[BufferOutput] = field(default_factory=list)
    input_error: Exception | None = None
    wake_s: float = 0.0  # the microphone delivers nothing for this long after it starts
    microphones: list[FakeMicrophone] = field(default_factory=list)

    def open_input(self, spec: str | None) -> AudioInput:
        if spec == "none":
            raise AudioDeviceError("no microphone chosen (Settings, Input)")
        if self.input_error is not None:
            raise self.input_error
        self.inputs_opened += 1
        self.microphones.append(FakeMicrophone(speech(), wake_s=self.wake_s))
        return self.microphones[-1]

    def open_output(self, _spec: str | None) -> AudioOutput:
        out = BufferOutput()
        self.outputs.append(out)
        return out

    @property
    def devices(self) -> AudioDevices:
        return AudioDevices(self.open_input, self.open_output)

    def samples_heard(self) -> int:
        return sum(out.pcm().size for out in self.outputs)


@pytest.fixture
def sound() -> FakeSound:
    return FakeSound()


@pytest.fixture
def open_window(qtbot, sound: FakeSound) -> Iterator[Callable[..., object]]:  # type: ignore[no-untyped-def]
    """Factory: the real main window for a profile, shown and connected."""
    from chok.gui.main_window import MainWindow

    windows: list[MainWindow] = []

    def make(
        profile: Profile,
        channel: int | None = None,
        connected: bool = True,
        audio: AudioSettings | None = None,
    ) -> MainWindow:
        settings = audio or AudioSettings()
        window = MainWindow(profile, sound.devices, settings, channel=channel, probe_ms=500)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        if connected:
            qtbot.waitUntil(lambda: window.vm.ptt_state == "idle", timeout=30_000)
        return window

    yield make
    for window in windows:
        window.close()


def talk_in_thread(session: ChannelSession, seconds: float = SPEECH_S) -> Speaker:
    """Another client talking, paced in real time, on a thread of its own."""
    return Speaker(session, seconds).start()


@dataclass
class Speaker:
    session: ChannelSession
    seconds: float
    result: TalkResult | None = None
    error: BaseException | None = None
    started: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Speaker:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.result = talk_once(
                Capture(lambda: FakeMicrophone(speech())),
                lambda: Talker(self.session),
                PressCallbacks(audio=lambda _dbfs, _ms: self.started.set()),
                timing=PressTiming(audio_limit_s=self.seconds),
            )
        except BaseException as exc:  # surfaced by join()
            self.error = exc
            self.started.set()

    def join(self, timeout: float = 30) -> TalkResult:
        self._thread.join(timeout)
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def quick_talk(session: ChannelSession, frames: int = 10) -> TalkResult:
    """A short transmission sent at once (not paced)."""
    pcm = speech()[: frames * 2880]
    return talk_once(Capture(lambda: ArrayInput(pcm)), lambda: Talker(session))


@dataclass
class TickCounter:
    """A 10 ms QTimer: the gaps between its ticks show whether the UI thread waited."""

    interval_ms: int = 10
    stamps: list[float] = field(default_factory=list)

    def start(self) -> TickCounter:
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(self.interval_ms)
        self.timer.timeout.connect(lambda: self.stamps.append(time.monotonic()))
        self.timer.start()
        return self

    def stop(self) -> None:
        self.timer.stop()

    @property
    def max_gap_ms(self) -> float:
        gaps = [b - a for a, b in zip(self.stamps, self.stamps[1:], strict=False)]
        return max(gaps, default=0.0) * 1000


_private_numbers = iter(range(9000, 10_000))


@pytest.fixture
def private_channel(cluster) -> Callable[..., tuple[int, list[Profile]]]:  # type: ignore[no-untyped-def]
    """Factory: a channel of its own for some people, so that counts and deleted
    audio disturb no other test. Its topics and ACLs are real, but it is not in
    the admin's registry: bundles made by other tests never include it."""
    from dataclasses import replace

    from chok import pki
    from chok.protocol.client_config import ChannelConfig
    from chok.provision import access, local
    from chok.provision.family import FamilyAdmin, access_record
    from chok.provision.topics import channel_topics

    def make(*people: Profile) -> tuple[int, list[Profile]]:
        number = next(_private_numbers)
        admin, _ = local.admin_client()
        admin.create_topics(channel_topics(number))
        joined = []
        channels = [ChannelConfig.standard(number, f"private {number}")]
        for person in people:
            cert = (person.path / person.config.client_cert_asset).read_bytes()
            principal = access.principal_for(pki.common_name(cert))
            admin.grant(access.channel_grants(principal, number))
            # As an admin's grant would: their chok learns it from the access record.
            FamilyAdmin(admin).write([access_record(person.user, channels)])
            joined.append(
                Profile(person.name, person.path, replace(person.config, channels=channels))
            )
        return number, joined

    return make


def expire_audio(session: ChannelSession) -> int:
    """Remove a channel's audio so far, as its retention would; return the new low mark."""
    from confluent_kafka import TopicPartition

    from chok.provision import local

    admin, _ = local.admin_client()
    reader = session.audio_reader("expire")
    try:
        _, high = reader.watermarks()
    finally:
        reader.close()
    futures = admin._client.delete_records([TopicPartition(session.audio_topic, 0, high)])
    for future in futures.values():
        future.result(30)
    return high


def space_key(widget: QWidget, kind: QEvent.Type, auto_repeat: bool) -> float:
    at = time.monotonic()
    event = QKeyEvent(kind, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier, " ", auto_repeat)
    QApplication.sendEvent(widget, event)
    return at


def hold_space_with_auto_repeat(  # type: ignore[no-untyped-def]
    qtbot, widget: QWidget, seconds: float, misflag: float = 0.45, seed: int = 8
) -> tuple[float, float]:
    """Space held as X11 delivers it: after a 500 ms delay, a release+press pair
    (0-5 ms apart) every 33-40 ms. Qt flags a repeat as such except, as measured
    (21 of 47), with probability ``misflag``: then both look like real key events.
    Returns the times of the first press and the last release."""
    rng = random.Random(seed)
    pressed = space_key(widget, QEvent.Type.KeyPress, False)
    qtbot.wait(500)
    while time.monotonic() < pressed + seconds - 0.04:
        misflagged = rng.random() < misflag
        space_key(widget, QEvent.Type.KeyRelease, not misflagged)
        qtbot.wait(rng.randint(0, 5))
        space_key(widget, QEvent.Type.KeyPress, not misflagged)
        qtbot.wait(rng.randint(33, 40))
    return pressed, space_key(widget, QEvent.Type.KeyRelease, False)
