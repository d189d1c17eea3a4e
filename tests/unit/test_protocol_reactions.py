"""Reaction records and effective reactions (docs/protocol.md, sections 5.4-5.5)."""

from __future__ import annotations

import json
import random

import pytest

from chok.errors import UsageError
from chok.protocol import (
    REQUIRED_FIELDS,
    SUPPORTED_EMOJI,
    ReactionRecord,
    Transmission,
    effective_reactions,
    parse_metadata_record,
    parse_reaction_key,
    reaction_key,
    toggle_target_state,
)

THUMBS, HEART, FIRE = SUPPORTED_EMOJI
T0 = 1704825600000


def react(user: str, emoji: str, on: bool = True, start: int = 25571) -> ReactionRecord:
    return ReactionRecord(1, start, user, emoji, on, T0)


def test_key_layout() -> None:
    assert reaction_key(1, 25571, "ann", THUMBS) == b"chok-react-1-25571-ann-f09f918d"
    assert react("a-b-c", HEART).key() == b"chok-react-1-25571-a-b-c-e29da4efb88f"
    assert parse_reaction_key(b"chok-react-1-25571-a-b-c-e29da4efb88f") == (
        1,
        25571,
        "a-b-c",
        HEART,
    )
    assert react("dan", "👍🏽").key().isascii()


@pytest.mark.parametrize(
    "key",
    [
        b"chok-react-1-25571-ann",
        b"chok-react-1-25571--f09f918d",
        b"chok-react-01-25571-ann-f09f918d",
        b"chok-react-0-25571-ann-f09f918d",
        b"chok-react-1-x-ann-f09f918d",
        b"chok-react-1-25571-an n-f09f918d",
        b"chok-react-1-25571-ann-f09f918",
        b"chok-react-1-25571-ann-f0 9f 91 8d",
        b"chok-react-1-25571-ann-ff",
        b"chok-react-1-25571-ann-" + b"f09f918d" * 5,
        b"chok-react-1-25571-ann-\xff",
    ],
)
def test_bad_keys(key: bytes) -> None:
    assert parse_reaction_key(key) is None


def test_round_trip_every_emoji_and_state() -> None:
    for emoji in (*SUPPORTED_EMOJI, "😀", "🇫🇷", "1️⃣"):
        for on in (True, False):
            record = ReactionRecord(7, 0, "user_9", emoji, on, 123)
            assert parse_metadata_record(record.key(), record.to_value(), channel=7) == record
            assert parse_metadata_record(record.key(), record.to_value(), channel=8) is None


def test_reaction_value_is_not_a_transmission_for_the_original_app() -> None:
    """The original app parses any value with all its required members as a transmission."""
    for on in (True, False):
        value = json.loads(react("ann", THUMBS, on).to_value())
        assert set(value) == {"chokReaction", "target", "user", "emoji", "on", "ts"}
        assert not set(REQUIRED_FIELDS) & set(value)
        # chok's own transmission parser refuses it too, whatever its key
        raw = react("ann", THUMBS, on).to_value()
        assert parse_metadata_record(b"msg-1-25571", raw) is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"user": "an n"}, "user name"),
        ({"emoji": "abc"}, "not a single emoji"),
        ({"emoji": ""}, "not a single emoji"),
        ({"on": 1}, "True or False"),
        ({"channel": 0}, "channel"),
        ({"start_offset": -1}, "start offset"),
        ({"timestamp_ms": -1}, "timestamp"),
    ],
)
def test_builder_rejects(changes: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "channel": 1,
        "start_offset": 5,
        "user": "ann",
        "emoji": THUMBS,
        "on": True,
        "timestamp_ms": T0,
    }
    args.update(changes)
    with pytest.raises(UsageError, match=message):
        ReactionRecord(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"target": "msg-1-25572"},
        {"target": None},
        {"user": "bob"},
        {"emoji": HEART},
        {"on": "true"},
        {"on": None},
        {"ts": -1},
        {"ts": 2**63},
        {"ts": True},
        {"chokReaction": True},
        {"chokReaction": "1"},
        {"chokReaction": None},
    ],
)
def test_invalid_reaction_values_are_skipped(changes: dict[str, object]) -> None:
    record = react("ann", THUMBS)
    value = json.loads(record.to_value())
    value.update(changes)
    raw = json.dumps({k: v for k, v in value.items() if v is not None}).encode()
    assert parse_metadata_record(record.key(), raw) is None


def test_unknown_reaction_members_are_ignored() -> None:
    record = react("ann", THUMBS)
    value = json.loads(record.to_value())
    value["note"] = "from the future"
    assert parse_metadata_record(record.key(), json.dumps(value).encode()) == record


# --- effective reactions --------------------------------------------------------------


def test_no_map_no_records() -> None:
    assert effective_reactions(None, []) == {}
    assert effective_reactions({THUMBS: []}, []) == {}


def test_five_concurrent_reactors_are_all_kept() -> None:
    """Five people react at once; the original app's read-modify-write would keep one."""
    users = ["eve", "dan", "cat", "bob", "ann"]
    records = [react(user, FIRE) for user in users]
    records.append(react("ann", THUMBS))
    for order in range(5):
        random.Random(order).shuffle(records)
        # each reactor's stale map refresh only knows their own reaction
        stale_map = {FIRE: [records[-1].user]} if records[-1].emoji == FIRE else {}
        assert effective_reactions(stale_map, records) == {
            THUMBS: ["ann"],
            FIRE: ["ann", "bob", "cat", "dan", "eve"],
        }


def test_stale_original_map_is_overridden_only_where_chok_records_exist() -> None:
    # the original app's latest write: made from a copy that missed bob's chok reaction
    # and that still has dan's heart, which dan has since taken back with chok
    stale = {THUMBS: ["zoe"], HEART: ["dan", "zoe"]}
    records = [
        react("bob", THUMBS),
        react("dan", HEART, on=True),
        react("dan", HEART, on=False),
    ]
    assert effective_reactions(stale, records) == {THUMBS: ["bob", "zoe"], HEART: ["zoe"]}


def test_latest_record_decides_in_log_order() -> None:
    records = [react("ann", THUMBS, on) for on in (True, False, True, True, False)]
    assert effective_reactions({THUMBS: ["ann"]}, records) == {}
    assert effective_reactions({}, records[:4]) == {THUMBS: ["ann"]}


def test_original_user_reactions_come_from_the_map() -> None:
    # a chok record for another pair does not hide the original app's reactions
    result = effective_reactions({FIRE: ["orig"], THUMBS: ["orig"]}, [react("ann", FIRE)])
    assert result == {THUMBS: ["orig"], FIRE: ["ann", "orig"]}


def test_emoji_order_and_sorted_names() -> None:
    records = [react("bob", "😀"), react("ann", "☕"), react("bob", FIRE), react("ann", HEART)]
    result = effective_reactions({THUMBS: ["Zed", "amy", "amy"]}, records)
    assert list(result) == [THUMBS, HEART, FIRE, "☕", "😀"]
    assert result[THUMBS] == ["Zed", "amy"]


def test_bad_map_is_refused() -> None:
    with pytest.raises(UsageError, match="list of names"):
        effective_reactions({THUMBS: "ann"}, [])
    with pytest.raises(UsageError, match="list of names"):
        effective_reactions({THUMBS: [None]}, [])  # type: ignore[list-item]


def test_records_of_two_transmissions_are_refused() -> None:
    with pytest.raises(UsageError, match="two transmissions"):
        effective_reactions({}, [react("a", THUMBS), react("a", THUMBS, start=1)])


def test_map_of_a_parsed_transmission_can_be_used() -> None:
    value = (
        b'{"userId":"dan","channelId":1,"startOffset":25571,"endOffset":25604,'
        b'"timestamp":1,"messageCount":34,"reactions":{"\xf0\x9f\x91\x8d":["bob"]}}'
    )
    msg = parse_metadata_record(b"msg-1-25571", value)
    assert isinstance(msg, Transmission)
    effective = effective_reactions(msg.reactions, [react("ann", THUMBS)])
    refreshed = msg.with_reactions(effective)
    assert refreshed.reactions == {THUMBS: ("ann", "bob")} and refreshed.map_from_reactions


def test_toggle_target_state() -> None:
    current = {THUMBS: ["ann", "bob"]}
    assert toggle_target_state(current, "ann", THUMBS) is False
    assert toggle_target_state(current, "cat", THUMBS) is True
    assert toggle_target_state(current, "ann", FIRE) is True
    with pytest.raises(UsageError):
        toggle_target_state(current, "ann", "abc")
    with pytest.raises(UsageError):
        toggle_target_state(current, "a n", THUMBS)


def test_toggle_then_effective_round_trip() -> None:
    state: dict[str, list[str]] = {}
    records: list[ReactionRecord] = []
    for step in range(6):
        on = toggle_target_state(state, "ann", HEART)
        assert on is (step % 2 == 0)
        records.append(react("ann", HEART, on))
        state = effective_reactions({}, records)
    assert state == {}
