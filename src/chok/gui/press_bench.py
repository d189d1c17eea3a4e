"""The desktop app's part of `chok bench --press` (see chok.bench.press).

The real main window, on the real (virtual) microphone, is held with the
mouse or with Space as X11 sends it (auto-repeat pairs every 33-40 ms, about
half of them misflagged by Qt as real key events), and with a microphone
that wakes slowly, kept open or opened at the press. Cues go nowhere (they
would be heard by the microphone).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from chok.audio import AudioInput
from chok.bench.clock_signal import ClockPlayer
from chok.bench.press import HOLD_S, SETTLE_S, Case, Say, SlowWakeInput, Trial, judge
from chok.gui.audio_io import AudioDevices, AudioSettings, system_input
from chok.profiles import Profile

WAKE_S = 1.0


@dataclass(frozen=True)
class AppCase:
    name: str
    space: bool = False
    keep_open: bool = True
    wake_s: float = 0.0


CASES = (
    AppCase("app, mouse"),
    AppCase("app, Space with auto-repeat", space=True),
    AppCase(f"app, microphone waking in {WAKE_S:g} s, kept open", wake_s=WAKE_S),
    AppCase(
        f"app, microphone waking in {WAKE_S:g} s, opened at the press",
        keep_open=False,
        wake_s=WAKE_S,
    ),
)


def app_cases(people: list[Profile], trials: int, say: Say) -> list[Case]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    _app = QApplication.instance() or QApplication([])
    results = []
    for profile, case in zip(people, CASES, strict=False):
        say(f"{case.name}: {trials} holds of {HOLD_S:g} s")
        with ClockPlayer(slots=trials * 120 + 200) as player:
            results.append(judge(profile, player, _run_case(profile, case, trials, say)))
    return results


def _pump(ms: int) -> None:
    """Run the event loop for ``ms`` (QTest.qWait would keep Python's GIL the
    whole time and starve the microphone's callback: measured, it lost most of
    a hold)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _wait(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        _pump(10)


def _devices(wake_s: float) -> AudioDevices:
    if not wake_s:
        return AudioDevices()

    def slow(spec: str | None) -> AudioInput:
        return SlowWakeInput(system_input(spec), wake_s)

    return AudioDevices(open_input=slow)


def _run_case(profile: Profile, case: AppCase, trials: int, say: Say) -> Case:
    from chok.gui.main_window import MainWindow

    settings = AudioSettings(None, "null", 1.0, case.keep_open)
    window = MainWindow(profile, _devices(case.wake_s), settings, probe_ms=500)
    permits: list[float] = []
    latencies: list[float] = []  # read while a hold is on: an input opened per press closes

    def permitted() -> None:
        permits.append(time.monotonic())
        latencies.append(window.vm.talking.capture.latency)

    window.vm.talking.permitted.connect(permitted)
    window.show()
    result = Case(case.name)
    try:
        _wait(lambda: window.vm.ptt_state == "idle", 30)
        for number in range(trials):
            say(f"  hold {number + 1} of {trials}")
            _pump(int(SETTLE_S * 1000))  # the person gets ready
            sent = _sent(window.messages)
            before = len(permits)
            if case.space and window.timeline is not None:
                pressed, wall, released = _space_hold(window.timeline.list, number)
            else:
                pressed, wall, released = _mouse_hold(window.ptt)
            _wait(lambda: window.vm.ptt_state == "idle", 30)
            _wait(lambda: _sent(window.messages) > sent, 30)  # noqa: B023 - waited for here
            permit = permits[before] if len(permits) > before else None
            result.trials.append(Trial(pressed, released, wall, permit))
        result.input_latency_ms = max(latencies, default=0.0) * 1000
    finally:
        window.close()
    return result


def _sent(messages: list[tuple[str, bool]]) -> int:
    return sum(text.startswith("sent") for text, _ in messages)


def _mouse_hold(button: object) -> tuple[float, float, float]:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    pressed, wall = time.monotonic(), time.time()
    QTest.mousePress(button, Qt.MouseButton.LeftButton)  # type: ignore[call-overload]
    _pump(int(HOLD_S * 1000))
    released = time.monotonic()
    QTest.mouseRelease(button, Qt.MouseButton.LeftButton)  # type: ignore[call-overload]
    return pressed, wall, released


def _space_hold(widget: object, seed: int) -> tuple[float, float, float]:
    """Space held for HOLD_S: after a 500 ms delay, a release+press pair 0-5 ms
    apart every 33-40 ms, 45 % of them misflagged (21 of 47 were, measured)."""
    from PySide6.QtCore import QEvent, Qt
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtWidgets import QApplication

    def key(kind: QEvent.Type, auto_repeat: bool) -> None:
        event = QKeyEvent(kind, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier, " ", auto_repeat)
        QApplication.sendEvent(widget, event)  # type: ignore[arg-type]

    rng = random.Random(seed)
    pressed, wall = time.monotonic(), time.time()
    key(QEvent.Type.KeyPress, False)
    _pump(500)
    while time.monotonic() < pressed + HOLD_S - 0.04:
        real_looking = rng.random() < 0.45
        key(QEvent.Type.KeyRelease, not real_looking)
        _pump(rng.randint(0, 5))
        key(QEvent.Type.KeyPress, not real_looking)
        _pump(rng.randint(33, 40))
    released = time.monotonic()
    key(QEvent.Type.KeyRelease, False)
    return pressed, wall, released
