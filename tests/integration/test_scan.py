"""Several channels at once (scan) against the real broker: one connection,
who gets the speaker, and `chok listen --channel ... --json`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import pytest

from chok.channel.live import TalkEnded, TalkStarted
from chok.channel.monitor import ChannelEvent, MonitorService
from chok.channel.scan import ScanGate, ScanSettings
from chok.channel.session import ChannelSession, open_session
from chok.channel.talk import Talker, TalkResult
from tests.conftest import assert_clean_error, run_chok
from tests.integration.talk_helpers import speech_packets

pytestmark = pytest.mark.broker


@dataclass
class PacedTalker:
    """Another person talking in real time (one 60 ms frame every 60 ms) on a thread."""

    session: ChannelSession
    frames: int
    result: TalkResult | None = None
    started: threading.Event = field(default_factory=threading.Event)

    def start(self) -> PacedTalker:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self.started.wait(15)
        return self

    def _run(self) -> None:
        talker = Talker(self.session)
        packets = speech_packets()
        began = time.monotonic()
        for index in range(self.frames):
            time.sleep(max(0.0, began + index * 0.06 - time.monotonic()))
            talker.send_packet(packets[index % len(packets)])
            self.started.set()
        self.result = talker.end()

    def join(self) -> TalkResult:
        self._thread.join(30)
        assert self.result is not None
        return self.result


class Collected:
    def __init__(self) -> None:
        self.items: list[ChannelEvent] = []
        self._lock = threading.Lock()

    def __call__(self, item: ChannelEvent) -> None:
        with self._lock:
            self.items.append(item)

    def ended(self) -> dict[int, list[ChannelEvent]]:
        with self._lock:
            found: dict[int, list[ChannelEvent]] = {}
            for item in self.items:
                if isinstance(item.event, TalkEnded):
                    found.setdefault(item.channel, []).append(item)
            return found

    def wait_started(self, channel: int, timeout: float = 30) -> None:
        """Until the monitor has heard a transmission start on ``channel``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if any(
                    i.channel == channel and isinstance(i.event, TalkStarted) for i in self.items
                ):
                    return
            time.sleep(0.02)  # waiting for the listener thread's events
        raise AssertionError(f"nothing started on channel {channel}")

    def wait_ended(self, per_channel: dict[int, int], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ended = self.ended()
            if all(len(ended.get(c, [])) >= n for c, n in per_channel.items()):
                return
            time.sleep(0.05)  # waiting for the listener thread's events
        raise AssertionError(f"not every transmission ended: {self.ended()}")


def monitor(profile, settings: ScanSettings) -> tuple[MonitorService, Collected]:  # type: ignore[no-untyped-def]
    seen = Collected()
    sessions = [open_session(profile, n) for n in settings.channels]
    service = MonitorService(sessions, ScanGate(settings, time.monotonic), on_event=seen)
    return service.start(), seen


def test_first_channel_to_talk_holds_the_speaker_over_one_connection(new_user) -> None:  # type: ignore[no-untyped-def]
    mum, bob, carol = new_user("mum", [1, 2]), new_user("bob", [1]), new_user("carol", [2])
    service, seen = monitor(mum, ScanSettings((1, 2)))
    try:
        first = PacedTalker(open_session(bob, 1), 30).start()
        seen.wait_started(1)  # bob is heard first, whatever the machine's load
        second = PacedTalker(open_session(carol, 2), 10).start()  # while bob still talks
        first.join(), second.join()
        seen.wait_ended({1: 1, 2: 1})
    finally:
        service.stop()
    ended = seen.ended()
    assert [i.audible for i in ended[1]] == [True]  # bob's: played, heard whole
    assert [i.audible for i in ended[2]] == [False]  # carol's: shown, not played
    frames_played = {
        i.channel for i in seen.items if i.audible and not isinstance(i.event, TalkStarted)
    }
    assert frames_played == {1}
    starts = [i for i in seen.items if isinstance(i.event, TalkStarted)]
    assert {(i.channel, i.event.talker) for i in starts} == {(1, bob.user), (2, carol.user)}


def test_the_priority_channel_interrupts(new_user) -> None:  # type: ignore[no-untyped-def]
    mum, bob, carol = new_user("mum", [1, 2]), new_user("bob", [1]), new_user("carol", [2])
    service, seen = monitor(mum, ScanSettings((1, 2), priority=2))
    try:
        first = PacedTalker(open_session(bob, 1), 40).start()
        seen.wait_started(1)  # bob has the speaker before carol starts
        second = PacedTalker(open_session(carol, 2), 10).start()
        first.join(), second.join()
        seen.wait_ended({1: 1, 2: 1})
    finally:
        service.stop()
    ended = seen.ended()
    assert [i.audible for i in ended[2]] == [True]  # carol's: the priority channel, heard
    assert [i.audible for i in ended[1]] == [False]  # bob's: cut off, unheard
    bob_frames = [
        i.audible for i in seen.items if i.channel == 1 and not isinstance(i.event, TalkEnded)
    ]
    assert bob_frames[0] and not bob_frames[-1]  # played, then no more


def _listen(profile: str, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "chok", "--profile", profile, "listen", "--no-play", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )  # fmt: skip
    assert proc.stdout is not None
    proc.first_line = proc.stdout.readline()  # type: ignore[attr-defined]  # after tuning in
    return proc


def test_chok_listen_all_channels_json_names_the_channel(new_user) -> None:  # type: ignore[no-untyped-def]
    mum, bob, carol = new_user("mum", [1, 2]), new_user("bob", [1]), new_user("carol", [2])
    proc = _listen(mum.name, "--channel", "all", "--json", "--count", "2", "--timeout", "60")
    tuned = json.loads(proc.first_line)  # type: ignore[attr-defined]
    assert tuned == {**tuned, "event": "tuned_in", "channels": [1, 2], "priority": None}
    PacedTalker(open_session(bob, 1), 5).start().join()
    PacedTalker(open_session(carol, 2), 5).start().join()
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    ended = [(e["channel"], e["talker"]) for e in events if e["event"] == "talk_ended"]
    assert ended == [(1, bob.user), (2, carol.user)]
    assert all("channel" in e for e in events)


def test_chok_listen_two_channels_human_output_and_mute(new_user) -> None:  # type: ignore[no-untyped-def]
    mum, carol = new_user("mum", [1, 2]), new_user("carol", [2])
    proc = _listen(mum.name, "-c", "1", "-c", "2", "--mute", "2", "--count", "1", "--timeout", "60")
    assert proc.first_line.startswith("listening on channels 1 ")  # type: ignore[attr-defined]
    assert "(muted)" in proc.first_line  # type: ignore[attr-defined]
    PacedTalker(open_session(carol, 2), 5).start().join()
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert any("[2 · " in ln and f"{carol.user} is talking... (not played)" in ln for ln in lines)
    assert any(f"{carol.user}: 0.3 s (5 frames) (unheard)" in ln for ln in lines), out


def test_listen_channel_mistakes_are_one_clear_line(new_user) -> None:  # type: ignore[no-untyped-def]
    mum = new_user("mum", [1, 2])
    result = run_chok("--profile", mum.name, "listen", "--channel", "7", "--no-play")
    assert "you are not on channel 7 (your channels: 1, 2)" in assert_clean_error(result, 2)
    result = run_chok("--profile", mum.name, "listen", "-c", "1", "--priority", "2", "--no-play")
    assert "add --channel 2" in assert_clean_error(result, 2)
    result = run_chok("--profile", mum.name, "listen", "-c", "one", "--no-play")
    assert "a channel number or 'all'" in assert_clean_error(result, 2)


def test_listen_several_saves_per_channel_and_catches_up_each(new_user, tmp_path) -> None:  # type: ignore[no-untyped-def]
    mum, bob, carol = new_user("mum", [1, 2]), new_user("bob", [1]), new_user("carol", [2])
    first = _listen(mum.name, "-c", "all", "--json", "--timeout", "1")  # positions remembered
    assert first.communicate(timeout=60)[0] is not None and first.returncode == 0
    PacedTalker(open_session(bob, 1), 4).start().join()  # while mum is away
    PacedTalker(open_session(carol, 2), 4).start().join()
    result = run_chok(
        "--profile", mum.name, "listen", "-c", "all", "--no-play", "--json", "--catch-up",
        "--save", str(tmp_path / "heard"), "--timeout", "2",
    )  # fmt: skip
    assert result.code == 0, result.err
    events = [json.loads(line) for line in result.out.splitlines()]
    replayed = [(e["talker"], e["duration_ms"]) for e in events if e["event"] == "replayed"]
    assert replayed == [(bob.user, 240), (carol.user, 240)]  # each channel in turn
    saved = sorted(p.parent.name for p in (tmp_path / "heard").rglob("*.ogg"))
    assert saved == ["channel-1", "channel-2"]
