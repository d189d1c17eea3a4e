"""Several channels at once (`chok listen --channel 1 --channel 2`) when the broker
goes away: a broker of its own with two channels (tests/outage_helpers.py),
killed and restarted with real signals, and the real `chok` commands."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from chok.codec import make_speech, read_ogg_opus_packets
from tests.conftest import assert_clean_error
from tests.outage_helpers import Lines, SeparateBroker, json_lines

pytestmark = pytest.mark.broker

CHANNELS = (1, 2)
Talking = subprocess.Popen[str]
Sent = dict[str, object]  # what `chok talk --json` printed


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeparateBroker]:
    own = SeparateBroker(tmp_path_factory.mktemp("scan-outage-home"))
    own.init(channels=len(CHANNELS))
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
def short_speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "short.wav"
    make_speech("Are you there? Over.", path)
    return path


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 15 s of counting: long enough to be cut by an outage."""
    path = tmp_path_factory.mktemp("speech") / "counting.wav"
    words = ", ".join(["one", "two", "three", "four", "five", "six", "seven", "eight"] * 5)
    make_speech(f"{words}. Over.", path, words_per_minute=190)
    return path


def _scan(broker: SeparateBroker, profile: str, save: Path, *args: str) -> tuple[object, Lines]:
    proc = broker.popen(
        "--profile", profile, "listen", "-c", "1", "-c", "2", "--no-play", "--json",
        "--save", str(save), *args,
    )  # fmt: skip
    return proc, Lines(proc.stdout)


def _talk(broker: SeparateBroker, profile: str, channel: int, speech: Path) -> Talking:
    return broker.popen(
        "--profile", profile, "talk", "--channel", str(channel), "--file", str(speech), "--json"
    )


def _is(event: str, **fields: object) -> object:
    def matches(line: str) -> bool:
        if not line.startswith("{"):
            return False
        data = json.loads(line)
        return bool(data.get("event") == event and all(data.get(k) == v for k, v in fields.items()))

    return matches


def _assert_one_whole_file_per_transmission(
    broker: SeparateBroker, profile: str, events: list[dict[str, object]], sent: dict[int, Sent]
) -> None:
    """Per channel: one transmission heard, with every frame sent, saved once, the
    same packets as `chok export` of that transmission."""
    for channel, talk in sent.items():
        ended = [e for e in events if e["event"] == "talk_ended" and e["channel"] == channel]
        assert [e["frames"] for e in ended] == [talk["frames"]], f"channel {channel}: {ended}"
        saves = [e for e in events if e["event"] == "saved" and e["channel"] == channel]
        saved = [Path(str(e["path"])) for e in saves]
        assert len(saved) == 1, f"channel {channel}: {saved}"
        exported = saved[0].with_name(f"export-{channel}.ogg")
        made = broker.chok(
            "--profile", profile, "export", "-c", str(channel), str(talk["id"]), str(exported)
        )
        assert made.code == 0, made
        assert read_ogg_opus_packets(saved[0]) == read_ogg_opus_packets(exported)


def test_two_channels_through_a_broker_killed_mid_talk(
    running: SeparateBroker, speech: Path, tmp_path: Path
) -> None:
    """kill -9 of the broker while someone talks on each channel, then back:
    `listen -c 1 -c 2` says what happened and hears each transmission once,
    whole, in one complete saved file per channel."""
    broker = running
    mum = broker.add_user("mum")
    alice, carol = broker.add_user("alice", "1"), broker.add_user("carol", "2")
    listener, heard = _scan(broker, mum, tmp_path / "heard", "--count", "2", "--timeout", "300")
    heard.wait_for(_is("tuned_in"), 60, "the scan tuned in")
    talkers = {1: _talk(broker, alice, 1, speech), 2: _talk(broker, carol, 2, speech)}
    for channel in CHANNELS:
        heard.wait_for(_is("talk_started", channel=channel), 60, f"talk on channel {channel}")
    broker.kill()
    try:
        heard.wait_for(_is("connection", state="reconnecting"), 60, "the scan says it lost it")
    finally:
        broker.start()
    sent: dict[int, Sent] = {}
    for channel, talker in talkers.items():
        out, err = talker.communicate(timeout=240)
        assert talker.returncode == 0, f"talk on {channel} failed: {err}"
        sent[channel] = json.loads(out)
    listener.wait(timeout=240)  # type: ignore[attr-defined]
    lines = heard.join()
    assert listener.returncode == 0, (lines[-8:], listener.stderr.read())  # type: ignore[attr-defined]
    events = json_lines(lines)
    states = [e["state"] for e in events if e["event"] == "connection"]
    assert "reconnecting" in states and states[-1] == "connected", f"listen said: {states}"
    connection = next(e for e in events if e["event"] == "connection")
    assert set(connection) == {"event", "state", "text", "detail"}  # as for one channel
    assert "Can't reach the family's Kafka at" in str(connection["text"])
    _assert_one_whole_file_per_transmission(broker, mum, events, sent)


def test_started_while_the_broker_is_down_it_waits_then_hears(
    running: SeparateBroker, short_speech: Path, tmp_path: Path
) -> None:
    """`listen -c 1 -c 2` with the broker away: it says so and waits (or exits 6
    if --timeout ends first, like one channel), then tunes in when it is back."""
    broker = running
    mum, carol = broker.add_user("mum"), broker.add_user("carol", "2")
    broker.kill()

    short = broker.chok(
        "--profile", mum, "listen", "-c", "1", "-c", "2", "--no-play", "--json", "--timeout", "4"
    )  # fmt: skip
    assert "never tuned in to channels 1, 2" in assert_clean_error(short, 6)
    said = [e for e in json_lines(short.out.splitlines()) if e["event"] == "connection"]
    assert said and said[-1]["state"] == "reconnecting", short.out

    listener, heard = _scan(broker, mum, tmp_path / "heard", "--count", "1", "--timeout", "300")
    heard.wait_for(_is("connection", state="reconnecting"), 60, "the scan says it waits")
    assert listener.poll() is None, f"listen gave up: {heard.lines}"  # type: ignore[attr-defined]
    broker.start()
    heard.wait_for(_is("tuned_in"), 120, "the scan tuned in once the broker is back")
    talker = _talk(broker, carol, 2, short_speech)
    out, err = talker.communicate(timeout=240)
    assert talker.returncode == 0, err
    listener.wait(timeout=120)  # type: ignore[attr-defined]
    events = json_lines(heard.join())
    assert listener.returncode == 0, events[-5:]  # type: ignore[attr-defined]
    states = [e["state"] for e in events if e["event"] == "connection"]
    assert states[-1] == "connected", states
    _assert_one_whole_file_per_transmission(broker, mum, events, {2: json.loads(out)})
