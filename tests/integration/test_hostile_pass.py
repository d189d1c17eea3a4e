"""The hostile pass: over 10,000 hostile records written to a real channel's
metadata and audio partitions, then every reader of a member's client reads
them: `listen` (live and catch-up), `timeline`, `play`, `export`, `react` and the
desktop app's timeline model. Nothing may crash, and a real transmission talked
afterwards is still heard live, listed, and replays byte for byte."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem

from chok.channel.session import open_session
from chok.channel.timeline import load_timeline
from chok.codec import make_speech, read_ogg_opus_packets
from chok.gui.timeline_model import EntryDelegate, TimelineModel  # (first: see gui/compat.py)
from chok.kafka.producer import RecordProducer
from chok.profiles import Profile
from tests.conftest import LocalCluster, run_chok
from tests.integration.hostile_helpers import Channel, assert_survived, own_channel, shown_raw
from tests.integration.hostile_records import Hostile

pytestmark = [pytest.mark.broker, pytest.mark.gui]

METADATA_RECORDS = 6000
AUDIO_RECORDS = 6000
BATCHING = {"linger.ms": 20, "batch.size": 1_000_000, "queue.buffering.max.messages": 100_000}


@pytest.fixture(scope="module")
def channel(cluster: LocalCluster) -> Channel:
    return own_channel()


@pytest.fixture(scope="module")
def speech_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "real.wav"
    make_speech("This is a real transmission after the flood. Over.", path)
    return path


class LiveListen:
    """`chok listen --json --save` in a subprocess, its lines read as they come."""

    def __init__(self, profile: Profile, save: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chok", "--profile", profile.name, "listen", "--no-play",
             "--json", "--save", str(save), "--timeout", "600"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
        )  # fmt: skip
        self.lines: list[str] = []
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()  # blocks until tuned in
        assert json.loads(first)["event"] == "tuned_in", first
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in list(self.lines)]

    def wait_for(self, predicate: Any, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((e for e in self.events() if predicate(e)), None)
            if found is not None:
                return found
            assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else ""
            time.sleep(0.1)  # polling the subprocess's output for the event
        raise AssertionError(f"not heard in {timeout} s; last: {self.lines[-3:]}")

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGINT)  # Ctrl-C: how a person stops listening
        _, err = self.proc.communicate(timeout=60)
        self._reader.join(10)
        return self.proc.returncode, err


def _write(profile: Profile, topic: str, records: list[Any]) -> float:
    """Produce in batches through librdkafka; return the seconds it took."""
    began = time.monotonic()
    producer = RecordProducer(profile.credentials, BATCHING)
    for record in records:
        key, value, headers = (*record, None) if len(record) == 2 else record
        producer.produce(topic, key, value, headers)
    producer.flush(120)
    return time.monotonic() - began


def _talk(profile: Profile, speech: Path) -> dict[str, Any]:
    talked = run_chok("--profile", profile.name, "talk", "--file", str(speech), "--fast", "--json")
    assert talked.code == 0, talked.err
    sent: dict[str, Any] = json.loads(talked.out)
    return sent


def test_ten_thousand_hostile_records_and_everyone_still_works(
    channel: Channel, speech_file: Path, tmp_path: Path, qapp: Any
) -> None:
    mallory, bob, alice = channel.member("mallory"), channel.member("bob"), channel.member("alice")
    carol = channel.member("carol")
    session = open_session(mallory)
    # carol has listened here before, then is away (her catch-up starts there);
    # alice has talked once; bob listens live.
    assert_survived(run_chok("--profile", carol.name, "listen", "--no-play", "--timeout", "1"))
    earlier = _talk(alice, speech_file)
    live = LiveListen(bob, tmp_path / "heard")

    hostile = Hostile(channel.number, audio_high=0)
    audio = hostile.audio(AUDIO_RECORDS)
    took = _write(mallory, session.audio_topic, audio)
    with session.audio_reader("pass") as reader:  # transmission records point into it
        _, hostile.audio_high = reader.watermarks()
    meta = hostile.metadata(METADATA_RECORDS)
    took += _write(mallory, session.metadata_topic, meta)
    print(f"\nhostile pass: wrote {len(meta) + len(audio):,} records in {took:.1f} s")

    # A real transmission afterwards: heard live, after all the hostile audio.
    began = time.monotonic()
    sent = _talk(alice, speech_file)
    ended = live.wait_for(lambda e: e["event"] == "talk_ended" and e["talker"] == alice.user)
    assert ended["frames"] == sent["frames"]
    saved = Path(live.wait_for(lambda e: e["event"] == "saved" and sent["tx"] in e["path"])["path"])
    code, err = live.stop()
    assert code == 0 and "Traceback" not in err, err[-3000:]
    assert shown_raw("".join(live.lines)) == []
    print(f"hostile pass: live listener heard it {time.monotonic() - began:.1f} s after the talk")

    timings: dict[str, float] = {}

    def run(*args: str, allowed: tuple[int, ...] = ()) -> Any:
        began = time.monotonic()
        result = run_chok("--profile", bob.name, *args)
        timings[" ".join(args[:2])] = time.monotonic() - began
        assert_survived(result, *allowed)
        return result

    run("timeline")
    table = run("timeline", "--since", "all")
    assert any(sent["id"] == int(line.split()[0]) for line in table.out.splitlines()[1:])
    listed = json.loads(run("timeline", "--since", "all", "--json").out)
    real = next(e for e in listed if e["id"] == sent["id"])
    assert real["user"] == alice.user and real["duration_ms"] == sent["duration_ms"]
    assert len(listed) > 500  # the hostile ones that parse are listed too, as they are

    began = time.monotonic()
    caught = run_chok("--profile", carol.name, "listen", "--catch-up", "--no-play", "--json",
                      "--timeout", "1")  # fmt: skip
    timings["listen --catch-up"] = time.monotonic() - began
    assert_survived(caught)
    replayed = [json.loads(line) for line in caught.out.splitlines()]
    assert {earlier["id"], sent["id"]} <= {e.get("id") for e in replayed}

    played = run("play", str(sent["id"]), "--device", "null")
    assert played.out.startswith(f"played {alice.user}'s")
    exported = tmp_path / "real.ogg"
    run("export", str(sent["id"]), str(exported))
    assert read_ogg_opus_packets(exported) == read_ogg_opus_packets(saved)
    reacted = json.loads(run("react", str(sent["id"]), "like", "--json").out)
    assert reacted["reactions"] == {"\U0001f44d": [bob.user]}

    others = [e["id"] for e in listed if e["user"] != alice.user and e["audio_available"]]
    for entry_id in others[:: max(1, len(others) // 3)][:3]:
        run("play", str(entry_id), "--device", "null", allowed=(9,))
        run("export", str(entry_id), str(tmp_path / f"{entry_id}.wav"), allowed=(9,))
        run("react", str(entry_id), "fire")
    print("hostile pass: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))

    _the_app_s_timeline_model_shows_them(open_session(bob), sent["id"], alice.user)


def _the_app_s_timeline_model_shows_them(session: Any, real_id: int, talker: str) -> None:
    began = time.monotonic()
    timeline = load_timeline(session)
    model = TimelineModel(session.user)
    model.set_entries(timeline.entries)
    model.set_unheard([e.id for e in timeline.entries])
    described = [model.data(model.index(row)) for row in range(model.rowCount())]
    assert all(isinstance(d, str) and not shown_raw(d) for d in described)
    row = model.row_of(real_id)
    assert row is not None and described[row].startswith(f"{talker}, ")
    delegate = EntryDelegate(model)
    image = QImage(480, 60, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        option = QStyleOptionViewItem()
        option.rect = QRect(0, 0, 480, 60)
        for index in range(model.rowCount()):
            delegate.paint(painter, option, model.index(index))
    finally:
        painter.end()
    print(f"hostile pass: the app's model took {len(described):,} entries, drew them all "
          f"in {time.monotonic() - began:.1f} s")  # fmt: skip
