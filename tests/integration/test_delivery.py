"""Every word arrives: the broker killed, stopped or paused mid-talk, the talker
killed with frames still queued. A broker of its own (tests/outage_helpers.py),
driven with real signals; the real `chok` commands as a person runs them."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chok.audio.base import FileInput
from chok.codec import make_speech, read_ogg_opus_packets
from chok.codec.opus import DEFAULT_BITRATE, OpusEncoder
from chok.protocol.audio import AudioFrame, build_audio_frame, may_omit
from tests.outage_helpers import Lines, SeparateBroker, audio_records, json_lines

pytestmark = pytest.mark.broker

COUNTING = (
    ", ".join(["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"] * 6)
    + ". Over and out."
)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeparateBroker]:
    own = SeparateBroker(tmp_path_factory.mktemp("outage-home"))
    own.init()
    try:
        yield own
    finally:
        own.stop()


@pytest.fixture
def running(broker: SeparateBroker) -> SeparateBroker:
    """The separate broker, up (a test before may have left it killed)."""
    broker.start()
    return broker


@pytest.fixture(scope="module")
def long_speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "counting.wav"
    make_speech(COUNTING, path, words_per_minute=200)
    return path


@pytest.fixture(scope="module")
def short_speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "short.wav"
    make_speech("Are you there? I will be home at six. Over.", path)
    return path


def frame_count(path: Path, frame_ms: int = 60) -> int:
    with FileInput(path, frame_ms, realtime=False) as source:
        return source.frames


def expected_frames(path: Path, frame_ms: int = 60) -> dict[int, bytes]:
    """seq -> value of every frame a talker sends for this file (silence runs left out)."""
    encoder = OpusEncoder(frame_ms, DEFAULT_BITRATE)
    sent: dict[int, bytes] = {}
    previous: bytes | None = None
    with FileInput(path, frame_ms, realtime=False) as source:
        seq = 0
        while (pcm := source.read_frame(timeout=0)) is not None:
            packet = encoder.encode(pcm)
            if not may_omit(packet, previous):
                sent[seq] = build_audio_frame("x", "00000000", seq, packet, frame_ms).value
            previous, seq = packet, seq + 1
    return sent


def _frames_of(
    broker: SeparateBroker, profile: str, talker: str, tx_id: str | None = None
) -> list[tuple[int, AudioFrame]]:
    """The frames of one transmission (of the talker's only one when no id is given)."""
    frames = [
        (offset, record)
        for offset, record in audio_records(broker, profile)
        if isinstance(record, AudioFrame) and record.talker == talker
    ]
    ids = {frame.tx_id for _, frame in frames}
    assert tx_id in ids if tx_id else len(ids) == 1, f"transmissions of {talker}: {ids}"
    wanted = tx_id or ids.pop()
    return [(offset, frame) for offset, frame in frames if frame.tx_id == wanted]


def _assert_complete_once(frames: list[tuple[int, AudioFrame]], expected: dict[int, bytes]) -> None:
    seqs = [frame.seq for _, frame in frames]
    doubled = sorted({s for s in seqs if seqs.count(s) > 1})
    assert not doubled, f"frames sent twice: {doubled[:10]}"
    got = {frame.seq: frame.packet for _, frame in frames}
    missing = sorted(set(expected) - set(got))
    assert not missing, f"{len(missing)} of {len(expected)} frames never sent: {missing[:10]}..."
    assert got == expected, "frames differ from what was said"


def _timeline(broker: SeparateBroker, profile: str) -> list[dict[str, object]]:
    shown = broker.chok("--profile", profile, "timeline", "--json", "--since", "all")
    assert shown.code == 0, shown
    entries: list[dict[str, object]] = json.loads(shown.out)
    return entries


def _listen(broker: SeparateBroker, profile: str, save: Path) -> tuple[object, Lines]:
    proc = broker.popen(
        "--profile", profile, "listen", "--no-play", "--json", "--save", str(save),
        "--count", "1", "--timeout", "240",
    )  # fmt: skip
    out = Lines(proc.stdout)
    out.wait_for(lambda line: '"tuned_in"' in line, 60, "listener tuned in")
    return proc, out


def test_broker_killed_for_30_s_mid_talk(
    running: SeparateBroker, long_speech: Path, tmp_path: Path
) -> None:
    """kill -9 of the broker for 30 s while alice talks: nothing is lost, nothing
    doubled, the transmission is on the timeline, and bob's live listener says
    what happened and keeps the transmission whole."""
    broker = running
    alice, bob = broker.add_user("alice"), broker.add_user("bob")
    listener, heard = _listen(broker, bob, tmp_path / "heard")
    talker = broker.popen("--profile", alice, "talk", "--file", str(long_speech), "--json")
    heard.wait_for(lambda line: '"talk_started"' in line, 60, "bob hears alice")
    broker.kill()
    time.sleep(30)  # the outage lasts 30 s
    broker.start()

    out, err = talker.communicate(timeout=180)
    assert talker.returncode == 0, f"talk failed (exit {talker.returncode}): {err}"
    sent = json.loads(out)
    frames = _frames_of(broker, alice, alice, sent["tx"])
    _assert_complete_once(frames, expected_frames(long_speech))
    assert any(e["id"] == sent["id"] for e in _timeline(broker, alice)), "not on the timeline"

    listener.wait(timeout=120)  # type: ignore[attr-defined]
    events = json_lines(heard.join())
    states = [e["state"] for e in events if e["event"] == "connection"]
    assert "reconnecting" in states and states[-1] == "connected", f"listen said: {states}"
    ended = [e for e in events if e["event"] == "talk_ended"]
    assert len(ended) == 1 and ended[0]["frames"] == sent["frames"], ended
    saved = [Path(str(e["path"])) for e in events if e["event"] == "saved"]
    assert len(saved) == 1, saved
    exported = tmp_path / "export.ogg"
    assert broker.chok("--profile", bob, "export", str(sent["id"]), str(exported)).code == 0
    assert read_ogg_opus_packets(saved[0]) == read_ogg_opus_packets(exported)


def test_broker_paused_10_s_listener_keeps_one_transmission(
    running: SeparateBroker, long_speech: Path, tmp_path: Path
) -> None:
    """SIGSTOP of the broker for 10 s: a live `listen --save` gives one
    transmission and one complete file, the same packets as `chok export`."""
    broker = running
    alice, bob = broker.add_user("alice"), broker.add_user("bob")
    listener, heard = _listen(broker, bob, tmp_path / "heard")
    talker = broker.popen("--profile", alice, "talk", "--file", str(long_speech), "--json")
    heard.wait_for(lambda line: '"talk_started"' in line, 60, "bob hears alice")
    broker.pause()
    try:
        time.sleep(10)  # the stall lasts 10 s
    finally:
        broker.resume()
    out, err = talker.communicate(timeout=180)
    assert talker.returncode == 0, err
    sent = json.loads(out)
    listener.wait(timeout=120)  # type: ignore[attr-defined]
    events = json_lines(heard.join())
    ended = [e for e in events if e["event"] == "talk_ended"]
    assert ended and ended[0]["frames"] == sent["frames"], f"split transmission: {ended}"
    saved = [Path(str(e["path"])) for e in events if e["event"] == "saved"]
    assert len(saved) == 1, saved
    exported = tmp_path / "export.ogg"
    assert broker.chok("--profile", bob, "export", str(sent["id"]), str(exported)).code == 0
    assert read_ogg_opus_packets(saved[0]) == read_ogg_opus_packets(exported)


def test_talking_while_offline_is_queued_and_sent_later(
    running: SeparateBroker, short_speech: Path
) -> None:
    """The broker is down when alice talks: chok says it is queued, waits, and
    sends it all once the broker is back."""
    broker = running
    alice = broker.add_user("alice")
    broker.kill()
    talker = broker.popen("--profile", alice, "talk", "--file", str(short_speech), "--json")
    said = Lines(talker.stderr)
    said.wait_for(lambda line: "waiting for the broker" in line, 60, "talk says it is queued")
    assert talker.poll() is None, f"talk gave up: {said.lines}"
    broker.start()
    out, _ = talker.communicate(timeout=180)
    assert talker.returncode == 0, said.join()
    sent = json.loads(out)
    _assert_complete_once(
        _frames_of(broker, alice, alice, sent["tx"]), expected_frames(short_speech)
    )
    assert any(e["id"] == sent["id"] for e in _timeline(broker, alice))


def test_talker_killed_or_interrupted_with_frames_queued_next_start_sends_them(
    running: SeparateBroker, short_speech: Path
) -> None:
    """SIGKILL of `chok talk` while its words wait in the outbox, and Ctrl-C of
    another one: the next chok started on that profile sends both, complete,
    and their records follow."""
    broker = running
    alice, ann = broker.add_user("alice"), broker.add_user("ann")
    broker.kill()
    killed, _ = _queued_talk(broker, alice, short_speech)
    killed.kill()
    killed.wait(30)
    interrupted, said = _queued_talk(broker, ann, short_speech)
    interrupted.send_signal(signal.SIGINT)  # Ctrl-C while it waits for the broker
    interrupted.wait(30)
    err = "\n".join(said.join())
    assert interrupted.returncode == 130, err
    assert "kept in the outbox" in err and "Traceback" not in err, err
    broker.start()
    expected = expected_frames(short_speech)
    for person in (alice, ann):
        later = broker.chok("--profile", person, "timeline", "--json", "--since", "all")
        assert later.code == 0, later
        entries = [e for e in _timeline(broker, person) if e["user"] == person]
        assert len(entries) == 1, entries
        _assert_complete_once(_frames_of(broker, person, person), expected)
        assert entries[0]["frames"] == frame_count(short_speech)


def _queued_talk(
    broker: SeparateBroker, profile: str, speech: Path
) -> tuple[subprocess.Popen[str], Lines]:
    talker = broker.popen("--profile", profile, "talk", "--file", str(speech), "--fast", "--json")
    said = Lines(talker.stderr)
    said.wait_for(lambda line: "waiting for the broker" in line, 60, "talk says it is queued")
    return talker, said
