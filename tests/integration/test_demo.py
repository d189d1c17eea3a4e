"""`chok demo`, the README's main job, in a home of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chok.broker.process import free_port_pair
from chok.codec import read_ogg_opus_packets
from tests.conftest import run_chok

pytestmark = pytest.mark.broker


def test_demo_runs_end_to_end_and_leaves_alice_joined(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = free_port_pair()
    assert run_chok("broker", "start", "--port", str(port), home=home).code == 0
    try:
        demo = run_chok("demo", "--no-play", home=home, timeout=240)
        assert demo.code == 0, demo.err
        for step in ("1.", "2.", "3.", "4.", "5.", "6.", "7.", "bob hears: alice is talking"):
            assert step in demo.out, (step, demo.out)
        saved = sorted((home / "demo").glob("*.ogg"))
        assert saved and len(read_ogg_opus_packets(saved[-1])) > 50  # ~5.5 s of speech
        who = json.loads(run_chok("whoami", "--json", home=home).out)
        assert who["user"] == "alice" and who["broker_reachable"] is True
        timeline = json.loads(run_chok("timeline", "--json", home=home).out)
        assert timeline[0]["user"] == "alice" and timeline[0]["reactions"] == {"👍": ["bob"]}
        again = run_chok("demo", "--no-play", home=home, timeout=240)  # runs twice
        assert again.code == 0 and "reused" in again.out, again.err
    finally:
        run_chok("broker", "stop", home=home)
