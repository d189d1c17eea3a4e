"""`chok bench --press`: what a press keeps, how soon one may talk, mouth to ear.

Everything goes through the virtual sound devices (scripts/virtual-sound) and
a throwaway local broker. A clock signal (``clock_signal``: 100 ms tone slots)
plays into the microphone; each hold is read back from Kafka and aligned to
it, which gives the audio lost at the press and at the release to about a
millisecond. Cases: ``chok talk`` (Enter, Enter, through a terminal), and the
desktop app (``chok.gui.press_bench``: mouse, Space with X11 auto-repeat, and a
microphone that wakes slowly, kept open or opened at the press). Mouth to ear:
the same signal heard on a listener's speaker in another room
(PULSE_SINK=chok_ear), recorded there, chok's part separated from the
latencies the devices report.
"""

from __future__ import annotations

import os
import pty
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from chok.audio.base import AudioInput, TimedBlock
from chok.bench.clock_signal import ClockPlayer, Kept, kept
from chok.channel.replay import replay_frames
from chok.channel.session import ChannelSession, open_session
from chok.channel.timeline import Entry, load_timeline
from chok.codec import OpusDecoder, Pcm
from chok.profiles import Profile

if TYPE_CHECKING:
    from chok.bench.mouth_to_ear import MouthToEar

Say = Callable[[str], None]
HOLD_S = 4.0
# A PulseAudio capture stream that woke slowly hands out stale audio under wrong
# capture times for up to ~2 s; a person takes that long to press anyway.
SETTLE_S = 2.4
EAR_ROOM = {"PULSE_SINK": "chok_ear"}  # a talker's own cues are not in its microphone


@dataclass
class Trial:
    pressed: float  # monotonic
    released: float
    wall: float  # time.time() at the press: finds the hold's transmissions
    permit_at: float | None = None
    kept: Kept | None = None
    transmissions: int = 0

    @property
    def access_ms(self) -> float | None:
        return None if self.permit_at is None else (self.permit_at - self.pressed) * 1000


@dataclass
class Case:
    name: str
    trials: list[Trial] = field(default_factory=list)
    input_latency_ms: float = 0.0  # what the microphone reports


@dataclass(frozen=True)
class Row:
    metric: str
    value: float
    unit: str
    target: str = ""


class SlowWakeInput(AudioInput):
    """A microphone that gives nothing for ``wake_s`` after it starts (a Bluetooth
    headset switching profile, a USB microphone leaving suspend): what it
    captured meanwhile is lost, as with such a device."""

    def __init__(self, inner: AudioInput, wake_s: float) -> None:
        self.inner = inner
        self.frame_samples = inner.frame_samples
        self._wake_s = wake_s
        self._awake_at = 0.0

    def start(self) -> None:
        self._awake_at = time.monotonic() + self._wake_s
        self.inner.start()

    def read_block(self, timeout: float | None = None) -> TimedBlock | None:
        deadline = time.monotonic() + (timeout if timeout is not None else 3600.0)
        while (block := self.inner.read_block(max(0.0, deadline - time.monotonic()))) is not None:
            if block.start >= self._awake_at:
                return block
        return None

    def read_frame(self, timeout: float | None = None) -> Pcm | None:
        block = self.read_block(timeout)
        return None if block is None else block.pcm

    def stop(self) -> None:
        self.inner.stop()

    @property
    def latency(self) -> float:
        return float(getattr(self.inner, "latency", 0.0))


# -- reading holds back --------------------------------------------------------------


def recording(session: ChannelSession, entry: Entry) -> Pcm:
    """One transmission's audio, decoded, as a listener replaying it hears it."""
    decoder = OpusDecoder(entry.transmission.frame_ms)
    parts = [decoder.decode(frame.packet) for frame in replay_frames(session, entry.transmission)]
    return np.concatenate(parts)


def entries_of(session: ChannelSession, user: str) -> list[Entry]:
    """``user``'s transmissions on the channel, oldest first."""
    found = [e for e in load_timeline(session).entries if e.transmission.user_id == user]
    return sorted(found, key=lambda e: e.id)


def judge(profile: Profile, player: ClockPlayer, case: Case) -> Case:
    """Find each trial's transmissions (by when they were written) and measure the first."""
    session = open_session(profile)
    entries = entries_of(session, profile.user)
    for index, trial in enumerate(case.trials):
        until = case.trials[index + 1].wall if index + 1 < len(case.trials) else float("inf")
        mine = [e for e in entries if trial.wall <= e.transmission.timestamp_ms / 1000 < until]
        trial.transmissions = len(mine)
        if mine:
            trial.kept = kept(recording(session, mine[0]), player, trial.pressed, trial.released)
    return case


# -- chok talk, through a terminal ---------------------------------------------------------


def talk_trial(profile: Profile, hold_s: float = HOLD_S) -> tuple[Trial, str]:
    """One `chok talk` (Enter, Enter) in a pty, as a person uses it."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "chok", "--profile", profile.name, "talk", "--json"],
        stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **EAR_ROOM},
    )  # fmt: skip
    os.close(slave)
    seen: dict[str, float] = {}
    lines: list[str] = []
    arrived = threading.Condition()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            with arrived:
                lines.append(line)
                for key in ("press Enter", "talking..."):
                    if key in line:
                        seen.setdefault(key, time.monotonic())
                arrived.notify_all()

    threading.Thread(target=pump, daemon=True).start()
    with arrived:
        if not arrived.wait_for(lambda: "press Enter" in seen, 60):
            proc.kill()
            raise RuntimeError("chok talk did not ask for Enter: " + "".join(lines))
    time.sleep(SETTLE_S)  # the person reads the prompt
    pressed, wall = time.monotonic(), time.time()
    os.write(master, b"\n")
    time.sleep(hold_s)  # the person holds the floor
    released = time.monotonic()
    os.write(master, b"\n")
    out, _ = proc.communicate(timeout=60)
    os.close(master)
    if proc.returncode != 0:
        raise RuntimeError("chok talk failed: " + "".join(lines))
    return Trial(pressed, released, wall, seen.get("talking...")), out


def talk_case(profile: Profile, player: ClockPlayer, trials: int, say: Say) -> Case:
    case = Case("chok talk (Enter, Enter)")
    for number in range(trials):
        say(f"  chok talk, hold {number + 1} of {trials}")
        trial, _ = talk_trial(profile)
        case.trials.append(trial)
    from chok.audio.sound import SoundDeviceInput

    with SoundDeviceInput("pulse") as probe:  # the same device as chok talk's
        probe.read_block(5.0)
        case.input_latency_ms = probe.latency * 1000
    return judge(profile, player, case)


# -- the figures ------------------------------------------------------------------------------


def _p95(values: list[float]) -> float:
    return float(np.percentile(np.array(values), 95)) if values else float("nan")


def case_rows(case: Case) -> list[Row]:
    kept_ = [t.kept for t in case.trials if t.kept is not None]
    at_press = [k.lost_at_press_ms for k in kept_]
    at_release = [k.lost_at_release_ms for k in kept_]
    access = [a for t in case.trials if (a := t.access_ms) is not None]
    name = case.name
    rows = [
        Row(f"{name}: lost at press, median", _median(at_press), "ms", "0"),
        Row(f"{name}: lost at press, max", max(at_press, default=float("nan")), "ms", "0"),
        Row(f"{name}: lost at release, max", max(at_release, default=float("nan")), "ms", "0"),
        Row(f"{name}: pre-roll kept, median", _median([k.preroll_ms for k in kept_]), "ms"),
        Row(
            f"{name}: recordings per hold, max",
            max((t.transmissions for t in case.trials), default=0),
            "",
            "1",
        ),
    ]
    if access:
        rows.append(Row(f"{name}: press -> permit cue, p95", _p95(access), "ms", "<= 300"))
    rows.append(Row(f"{name}: microphone's reported latency", case.input_latency_ms, "ms"))
    return rows


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(rows: list[Row]) -> str:
    width = max(len(r.metric) for r in rows)
    lines = [f"| {'metric':<{width}} | {'value':>8} | unit | target |"]
    lines.append(f"|{'-' * (width + 2)}|{'-' * 10}|------|--------|")
    lines += [
        f"| {r.metric:<{width}} | {r.value:>8.1f} | {r.unit:<4} | {r.target:<6} |" for r in rows
    ]
    return "\n".join(lines)


AppDriver = Callable[[list[Profile], int, Say], list[Case]]


def run_press(say: Say, trials: int, isolated: bool, app: AppDriver | None) -> list[Row]:
    """Every case, on a throwaway broker (unless not ``isolated``)."""
    from chok.bench.run import on_local_broker

    return on_local_broker(isolated, lambda: _run(say, trials, isolated, app))


def _run(say: Say, trials: int, isolated: bool, app: AppDriver | None) -> list[Row]:
    from chok.bench import mouth_to_ear
    from chok.bench.run import family

    _require_virtual_sound()
    people = family(say, isolated, ("ann", "ben", "cat", "dan", "eve", "fay", "gus"), 1)
    rows: list[Row] = []
    say(f"chok talk: {trials} holds of {HOLD_S:g} s")
    with ClockPlayer(slots=trials * 160 + 200) as player:
        rows += case_rows(talk_case(people[0], player, trials, say))
    if app is not None:
        for case in app(people[1:5], trials, say):
            rows += case_rows(case)
    for before, how in ((False, "talking after the press"), (True, "talking from before it")):
        say(f"mouth to ear, {how}: 8 s, heard in the other room")
        result = mouth_to_ear.measure(people[5], people[6], 8.0, talks_before_press=before)
        rows += _mouth_to_ear_rows(how, result)
    return rows


def _mouth_to_ear_rows(how: str, result: MouthToEar) -> list[Row]:
    from chok.bench.mouth_to_ear import summary

    figures = summary(result)
    return [
        Row(f"mouth to ear ({how}), p50", figures["p50"], "ms"),
        Row(f"mouth to ear ({how}), p95", figures["p95"], "ms"),
        Row("  talker's microphone, reported", result.input_latency_ms, "ms"),
        Row("  listener's speaker, reported", result.output_latency_ms, "ms"),
        Row("  chok's part, p50", figures["chok_p50"], "ms", "<= 150"),
        Row("  chok's part, p95", figures["chok_p95"], "ms", "<= 150"),
        Row("    said -> handed to Kafka, p50", figures["captured_p50"], "ms"),
        Row("    handed to Kafka -> at the listener, p50", figures["carried_p50"], "ms"),
    ]


def _require_virtual_sound() -> None:
    from chok.errors import AudioDeviceError

    probe = subprocess.run(["pactl", "list", "short", "sinks"], capture_output=True, text=True)
    if probe.returncode != 0 or "chok_ear" not in probe.stdout:
        raise AudioDeviceError(
            "chok bench --press needs the virtual sound device: "
            'scripts/virtual-sound start && eval "$(scripts/virtual-sound env)"'
        )
