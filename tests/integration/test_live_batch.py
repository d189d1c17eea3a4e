"""Hosted plans: live frames fetched in batches, set for everyone by the admin
(in the bundle) or by one listener (`chok listen --batch-ms`)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from chok.channel.session import open_session
from chok.channel.talk import Talker
from tests.conftest import run_chok
from tests.integration.talk_helpers import Recorder, on_wire, speech_packets

pytestmark = pytest.mark.broker


def test_a_batched_listener_still_hears_every_frame_in_order(new_user) -> None:  # type: ignore[no-untyped-def]
    alice = open_session(new_user("alice"))
    bob = open_session(new_user("bob"), live_batch_ms=240)
    recorder = Recorder(bob).start()
    talker = Talker(alice)
    packets = speech_packets()
    for packet in packets:
        talker.send_packet(packet)
    result = talker.end()
    recorder.wait_for(lambda _events: recorder.ended(result.tx_id))
    recorder.finish()
    frames = recorder.frames_of(result.tx_id)
    assert [f.frame.seq for f in frames] == list(range(len(packets)))
    assert all(f.frame.packet == on_wire(packets[f.frame.seq or 0]) for f in frames)


def test_the_admin_puts_the_batch_in_every_new_bundle(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_chok("admin", "init", "--live-batch-ms", "240").code == 0
    try:
        made = run_chok("admin", "add-user", "hosted", "--out", str(tmp_path))
        assert made.code == 0, made.err
        with zipfile.ZipFile(tmp_path / "hosted.chok") as bundle:
            config = json.loads(bundle.read("kafka_config.json"))
        assert config["chokLiveBatchMs"] == 240
        person = tmp_path / "hosted-laptop"
        assert run_chok("join", str(tmp_path / "hosted.chok"), home=person).code == 0
        heard = run_chok("listen", "--no-play", "--json", "--timeout", "1", home=person)
        assert heard.code == 0, heard.err
        assert json.loads(heard.out.splitlines()[0])["event"] == "tuned_in"
    finally:
        assert run_chok("admin", "init", "--live-batch-ms", "0").code == 0
    plain = run_chok("admin", "get-bundle", "hosted", "--out", str(tmp_path / "again.chok"))
    assert plain.code == 0, plain.err
    with zipfile.ZipFile(tmp_path / "again.chok") as bundle:
        assert "chokLiveBatchMs" not in json.loads(bundle.read("kafka_config.json"))


def test_bad_batch_values_are_refused_in_one_line(cluster) -> None:  # type: ignore[no-untyped-def]
    result = run_chok("listen", "--batch-ms", "-5")
    assert result.code == 2 and "--batch-ms" in result.err and "Traceback" not in result.err
