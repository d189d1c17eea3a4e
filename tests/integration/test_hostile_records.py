"""Records a hostile member (or a broken client) writes to a real channel:
every member's commands keep working (protocol.md sections 1, 5 and 7)."""

from __future__ import annotations

import json

import pytest

from chok.channel.session import ChannelSession, open_session
from tests.conftest import LocalCluster, run_chok
from tests.integration.hostile_helpers import Channel, own_channel, shown_raw

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
