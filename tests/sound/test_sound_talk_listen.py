"""The device path end to end: speech played into the virtual sound card is
captured by `chok talk --device`, sent through the real broker, and heard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from chok.audio import measure, open_output
from chok.codec import decode_packets, make_speech, read_ogg_opus_packets
from tests.conftest import run_chok

pytestmark = [pytest.mark.sound, pytest.mark.broker]


def _play_in_background(pcm: np.ndarray, stop: threading.Event) -> threading.Thread:
    def play() -> None:
        with open_output("pulse") as speaker:
            for start in range(0, pcm.size, 2880):
                if stop.is_set():
                    break
                speaker.write(pcm[start : start + 2880])
            speaker.drain(10)

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    return thread


def test_microphone_to_listener_through_the_broker(virtual_sound, new_user, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    alice, bob = new_user("alice"), new_user("bob")
    listener = subprocess.Popen(
        [sys.executable, "-m", "chok", "--profile", bob.name, "listen", "--no-play", "--json",
         "--count", "1", "--timeout", "90", "--save", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )  # fmt: skip
    assert listener.stdout is not None
    assert json.loads(listener.stdout.readline())["event"] == "tuned_in"
    speech = make_speech("This is the microphone test. Testing, testing, one two three. " * 2)
    stop = threading.Event()
    player = _play_in_background(speech, stop)
    talked = run_chok(
        "--profile", alice.name, "talk", "--seconds", "3", "--device", "pulse", "--json"
    )
    stop.set()
    player.join(15)
    assert talked.code == 0, talked.err
    sent = json.loads(talked.out)
    assert sent["frames"] == 50  # 3 s of 60 ms frames
    out, err = listener.communicate(timeout=120)
    assert listener.returncode == 0, err
    saved = Path(next(json.loads(line)["path"] for line in out.splitlines() if '"saved"' in line))
    heard = decode_packets(read_ogg_opus_packets(saved))
    # What went through the microphone was speech, not silence.
    assert measure(heard).rms_dbfs > -35, measure(heard)


def test_listen_plays_to_the_sound_device(virtual_sound, new_user, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    alice, bob = new_user("alice"), new_user("bob")
    speech = tmp_path / "s.wav"
    make_speech("Playing through the speaker now.", speech)
    listener = subprocess.Popen(
        [sys.executable, "-m", "chok", "--profile", bob.name, "listen", "--device", "pulse",
         "--json", "--count", "1", "--timeout", "90"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )  # fmt: skip
    assert listener.stdout is not None
    assert json.loads(listener.stdout.readline())["event"] == "tuned_in"
    assert run_chok("--profile", alice.name, "talk", "--file", str(speech)).code == 0
    out, err = listener.communicate(timeout=120)
    assert listener.returncode == 0, err
    assert "talk_ended" in out and "Traceback" not in err
