"""Records a hostile member (or a broken client) writes to a real channel:
every member's commands keep working (protocol.md sections 1, 5 and 7)."""

from __future__ import annotations

import json
import subprocess

import pytest

from chok import profiles
from chok.channel.live import ORIGINAL_TALKER
from chok.channel.session import ChannelSession, open_session
from chok.protocol.audio import build_audio_frame
from tests.conftest import CHOK, LocalCluster, run_chok
from tests.integration.hostile_helpers import Channel, own_channel, shown_raw
from tests.outage_helpers import Lines

PACKET = bytes(range(1, 40))

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def channel(cluster: LocalCluster) -> Channel:
    return own_channel()


def _write_metadata(session: ChannelSession, records: list[tuple[bytes, bytes | None]]) -> None:
    producer = session.producer()
    for key, value in records:
        producer.produce(session.metadata_topic, key, value)
    producer.flush()


def _transmission_value(channel: int, start: int, **fields: object) -> bytes:
    value: dict[str, object] = {
        "userId": "mallory",
        "channelId": channel,
        "startOffset": start,
        "endOffset": start,
        "timestamp": 1704825600000,
        "messageCount": 1,
        "reactions": {},
    }
    value.update(fields)
    return json.dumps(value).encode()


@pytest.mark.parametrize("timestamp", [253402300800000, 10**18, 2**63 - 1])
def test_a_timestamp_past_year_9999_does_not_break_the_timeline(
    channel: Channel, timestamp: int
) -> None:
    """Observed: `"timestamp": 253402300800000` made every member's `chok timeline`
    and `timeline --json` exit 1 with "ValueError: year 10000 is out of range"."""
    mallory = channel.member("mallory")
    start = 8300 + timestamp % 1000
    key = f"msg-{channel.number}-{start}".encode()
    value = _transmission_value(channel.number, start, timestamp=timestamp)
    _write_metadata(open_session(mallory), [(key, value)])
    reader = channel.member("reader")

    table = run_chok("--profile", reader.name, "timeline", "--since", "all")
    assert table.code == 0 and "Traceback" not in table.err, table.err
    row = next(line for line in table.out.splitlines() if line.split()[0] == str(start))
    assert "mallory" in row and " ? " in row

    listed = run_chok("--profile", reader.name, "timeline", "--since", "all", "--json")
    assert listed.code == 0 and "Traceback" not in listed.err, listed.err
    entry = next(e for e in json.loads(listed.out) if e["id"] == start)
    assert entry["timestamp_ms"] == timestamp and entry["time"] is None


def test_names_and_emoji_cannot_fake_rows_or_turn_text_around(channel: Channel) -> None:
    """Observed: a userId with a newline or U+202E printed raw in the timeline table,
    so a member could fake a row. Shown escaped now; JSON keeps the real string."""
    mallory = channel.member("mallory")
    fake_row = "eve\n   9001  alice            12:00:00            1.0s  "
    names = {
        9101: fake_row,
        9102: "\u202emallory",
        9103: "bob\x1b]0;owned\x07\x1b[2J",
        9104: "\u2066x\u2069\u200e\u200f\u061c\u200b\ufeff\U000e0041",
    }
    records = [
        (
            f"msg-{channel.number}-{start}".encode(),
            _transmission_value(
                channel.number,
                start,
                userId=name,
                reactions={"\x1b[31m\n": ["x\u202e"], "\U0001f44d": ["ann\nbob"]},
            ),
        )
        for start, name in names.items()
    ]
    _write_metadata(open_session(mallory), records)
    reader = channel.member("reader")

    table = run_chok("--profile", reader.name, "timeline", "--since", "all")
    assert table.code == 0, table.err
    assert shown_raw(table.out) == []
    rows = {int(line.split()[0]): line for line in table.out.splitlines()[1:]}
    assert set(names) <= set(rows)  # one row per record: no faked one
    assert "9001" not in rows
    assert rows[9101].split()[1].startswith("eve\\n")
    assert "\\u202emallory" in rows[9102]

    listed = run_chok("--profile", reader.name, "timeline", "--since", "all", "--json")
    assert listed.code == 0, listed.err
    assert shown_raw(listed.out) == []
    by_id = {e["id"]: e for e in json.loads(listed.out)}
    for start, name in names.items():
        assert by_id[start]["user"] == name  # the exact string, escaped by JSON
        assert by_id[start]["reactions"]["\x1b[31m\n"] == ["x\u202e"]


def test_reacting_to_a_record_too_large_to_rewrite_still_records_the_reaction(
    channel: Channel,
) -> None:
    """The map refresh (protocol.md 5.5, a SHOULD) rewrites the transmission
    record; a member's record just under the size limit cannot grow: the
    reaction itself (its own record) must still count, and react must say so."""
    mallory, bob = channel.member("mallory"), channel.member("bob")
    start = 9500
    # As large as librdkafka lets a record be (its check counts some 36 bytes of framing).
    size = len(_transmission_value(channel.number, start, userId=""))
    value = _transmission_value(channel.number, start, userId="m" * (999_950 - size))
    _write_metadata(open_session(mallory), [(f"msg-{channel.number}-{start}".encode(), value)])
    reacted = run_chok("--profile", bob.name, "react", str(start), "like", "--json")
    assert reacted.code == 0 and "Traceback" not in reacted.err, reacted.err
    assert json.loads(reacted.out)["reactions"] == {"\U0001f44d": [bob.user]}
    listed = run_chok("--profile", bob.name, "timeline", "--since", "all", "--json")
    entry = next(e for e in json.loads(listed.out) if e["id"] == start)
    assert entry["reactions"] == {"\U0001f44d": [bob.user]}


HOSTILE_NAMES = [
    "eve\n   9001  alice            12:00:00            1.0s  ",
    "\u202emallory",
    "bob\x1b]0;owned\x07\x1b[2J",
    "\u2066x\u2069\u200e\u200f\u061c\u200b\ufeff\U000e0041",
]


def _several(profile: str, channel: int, *args: str) -> list[str]:
    """`chok listen` of several channels: --mute takes that path for one channel too."""
    return [
        "--profile", profile, "listen", "-c", str(channel), "--mute", str(channel),
        "--no-play", *args,
    ]  # fmt: skip


def test_listening_to_several_channels_shows_hostile_names_safely(channel: Channel) -> None:
    """`listen --channel ...` (scan) printed names as they came: the channel's name
    (a bundle's text) raw on every line. Catching up shows transmission records'
    userIds (anyone's text); live, an audio record whose key is not a user name is
    heard as the Android app's. Nothing unsafe is printed, human or JSON, and JSON
    keeps the exact strings."""
    mallory = channel.member("mallory")
    reader = channel.member("reader", channel_name="kids\n12:00:00 [1 \u00b7 x] \u202e")
    first = run_chok(*_several(reader.name, channel.number, "--timeout", "1"))
    assert first.code == 0, first.err  # where reader stopped: catching up starts there
    session = open_session(mallory)
    with session.audio_reader("test") as audio:
        _, audio_high = audio.watermarks(10)
    producer = session.producer()
    for index in range(len(HOSTILE_NAMES)):
        producer.produce(
            session.audio_topic, *build_audio_frame("mallory", "00c0ffee", index, PACKET)
        )
    producer.flush()
    records = [
        (
            f"msg-{channel.number}-{audio_high + index}".encode(),
            _transmission_value(
                channel.number, audio_high + index, userId=name, timestamp=1704825600000 + index
            ),
        )
        for index, name in enumerate(HOSTILE_NAMES)
    ]
    _write_metadata(session, records)

    caught = run_chok(
        *_several(reader.name, channel.number, "--catch-up", "--json", "--timeout", "1")
    )
    assert caught.code == 0, caught.err
    assert shown_raw(caught.out) == [] and shown_raw(caught.err) == []
    replayed = [e for e in map(json.loads, caught.out.splitlines()) if e["event"] == "replayed"]
    assert [e["talker"] for e in replayed] == HOSTILE_NAMES  # the exact strings, escaped
    # (--catch-up moved the position on: go back for the human run.)
    profiles.remember(reader.name, f"audio_position_{channel.number}", audio_high)
    human = run_chok(*_several(reader.name, channel.number, "--catch-up", "--timeout", "1"))
    assert human.code == 0, human.err
    assert shown_raw(human.out) == [] and shown_raw(human.err) == []
    assert "missed: eve\\n" in human.out and "missed: \\u202emallory" in human.out

    live = subprocess.Popen(
        [*CHOK, *_several(reader.name, channel.number, "--count", "1", "--timeout", "60")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    heard = Lines(live.stdout)
    heard.wait_for(lambda line: line.startswith("listening on channels"), 60, "tuned in")
    headers = build_audio_frame("mallory", "0badf00d", 0, PACKET).headers
    for name in HOSTILE_NAMES:  # a chok frame's header under a key that is no user name
        producer.produce(session.audio_topic, name.encode(), PACKET, headers)
    producer.flush()
    out, err = live.communicate(timeout=60)
    lines = [*heard.join(), *out.splitlines()]
    assert live.returncode == 0, err
    assert shown_raw("\n".join(lines)) == [] and shown_raw(err) == []
    assert any(f"{ORIGINAL_TALKER}: " in line for line in lines), lines
    assert all("kids\\n12:00:00" in line for line in lines if ORIGINAL_TALKER in line), lines
