"""`chok play ID --speed X` against the real broker: shorter by X, the voice kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chok.channel.session import open_session
from chok.codec import read_audio_file
from tests.conftest import assert_clean_error, run_chok
from tests.integration.talk_helpers import speech_packets
from tests.unit.test_codec_tempo import peak_hz

pytestmark = pytest.mark.broker


def test_play_at_one_and_a_half_and_two(new_user, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from chok.channel.talk import Talker

    alice, bob = new_user("alice"), new_user("bob")
    talker = Talker(open_session(alice))
    for packet in speech_packets():
        talker.send_packet(packet)
    tx = talker.end().transmission
    assert tx is not None
    normal, faster, fastest = tmp_path / "1x.wav", tmp_path / "15x.wav", tmp_path / "2x.wav"
    for path, speed in ((normal, "1"), (faster, "1.5")):
        played = run_chok(
            "--profile", bob.name, "play", str(tx.start_offset), "--speed", speed,
            "--device", f"file:{path}",
        )  # fmt: skip
        assert played.code == 0, played.err
    assert "at 1.5x" in played.out
    wrote = run_chok("--profile", bob.name, "play", str(tx.start_offset), "--speed", "2",
                     "--out", str(fastest))  # fmt: skip
    assert wrote.code == 0, wrote.err
    one, one_half, two = (read_audio_file(p) for p in (normal, faster, fastest))
    assert one_half.size / one.size == pytest.approx(1 / 1.5, rel=0.03)
    assert two.size / one.size == pytest.approx(1 / 2, rel=0.03)
    assert peak_hz(one_half) == pytest.approx(peak_hz(one), rel=0.1)
    assert np.abs(two).max() > 1000  # not silence

    refused = run_chok("--profile", bob.name, "play", str(tx.start_offset), "--speed", "2",
                       "--out", str(tmp_path / "x.ogg"))  # fmt: skip
    assert "needs a .wav" in assert_clean_error(refused, 2)
    refused = run_chok("--profile", bob.name, "play", str(tx.start_offset), "--speed", "9")
    assert "between 0.5 and 4" in assert_clean_error(refused, 2)
