"""What `chok listen` prints, for one channel and several, without a broker:
connection lines in one shape, and names that cannot fake lines or turn text."""

from __future__ import annotations

import json

import pytest

from chok.channel.connection import ConnState, ConnStatus
from chok.channel.live import TalkEnded, TalkStarted
from chok.channel.monitor import ChannelEvent
from chok.cli import listen_scan
from chok.cli.listen_output import Shown
from chok.protocol.display import is_unsafe_char

HOSTILE = "eve\n12:00:00 [1 \u00b7 home] alice: 9.9 s\u202e\x1b[2J"
AWAY = ConnStatus(
    ConnState.RECONNECTING,
    "Can't reach the family's Kafka at kafka.home:9093 — retrying (last try 3 s ago)",
    "Failed to get watermark offsets: Local: All broker connections are down",
)


def _unsafe(text: str) -> list[str]:
    return [c for line in text.splitlines() for c in line if is_unsafe_char(c)]


@pytest.mark.parametrize("as_json", [False, True])
def test_several_channels_print_hostile_names_safely(
    capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    events = [
        ChannelEvent(2, TalkStarted("00c0ffee", HOSTILE, 7), False),
        ChannelEvent(2, TalkEnded("00c0ffee", HOSTILE, 5, 300, True), False),
    ]
    for item in events:
        listen_scan._heard(item, None, {}, HOSTILE, as_json)
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 2 and _unsafe(out) == []
    if as_json:
        said = [json.loads(line) for line in out.splitlines()]
        assert [e["talker"] for e in said] == [HOSTILE, HOSTILE]  # the exact string
        assert [e["event"] for e in said] == ["talk_started", "talk_ended"]
    else:
        assert "eve\\n12:00:00" in out and "(not played)" in out and "(unheard)" in out


def test_connection_lines_have_one_shape_and_kafka_text_only_when_verbose(
    capsys: pytest.CaptureFixture[str],
) -> None:
    shown = Shown(as_json=True, verbose=False)
    shown.connection(ConnStatus(ConnState.CONNECTED, "Connected"))  # the start: quiet
    shown.connection(AWAY)
    shown.connection(AWAY)  # no change: said once
    shown.connection(ConnStatus(ConnState.CONNECTED, "Connected to the family's Kafka"))
    said = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["event"], e["state"]) for e in said] == [
        ("connection", "reconnecting"),
        ("connection", "connected"),
    ]
    assert set(said[0]) == {"event", "state", "text", "detail"}
    human = Shown(as_json=False, verbose=False)
    human.connection(AWAY)
    verbose = Shown(as_json=False, verbose=True)
    verbose.connection(AWAY)
    quiet, loud = capsys.readouterr().out.splitlines()
    assert AWAY.text in quiet and "broker connections are down" not in quiet
    assert loud.endswith(
        "[Failed to get watermark offsets: Local: All broker connections are down]"
    )
