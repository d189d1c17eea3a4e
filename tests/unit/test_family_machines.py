"""The presence and heard machines, driven by a fake clock (no broker)."""

from __future__ import annotations

from chok.channel.presence import (
    HEARD_DEBOUNCE_MS,
    RETRY_MS,
    HeardTracker,
    LiveHearing,
    PresenceMachine,
    PresenceState,
)
from chok.protocol.heard import BLOCK, HeardIndex, HeardRecord


def test_presence_says_online_at_start_then_every_beat_then_offline() -> None:
    machine = PresenceMachine("mum", every_ms=60_000)
    assert [p.state for p in machine.start(1_000)] == ["online"]
    assert machine.start(1_500) == []  # started once
    assert machine.tick(60_999) == []
    beat = machine.tick(61_000)
    assert [(p.state, p.timestamp_ms) for p in beat] == [("online", 61_000)]
    assert machine.tick(61_001) == []
    assert [p.state for p in machine.stop(70_000)] == ["offline"]
    assert machine.state is PresenceState.STOPPED
    assert machine.tick(500_000) == [] and machine.stop(500_000) == []


def test_presence_retries_soon_after_a_failed_write() -> None:
    machine = PresenceMachine("mum", every_ms=60_000)
    machine.start(0)
    machine.failed(100)
    assert machine.tick(100 + RETRY_MS - 1) == []
    assert len(machine.tick(100 + RETRY_MS)) == 1
    assert machine.due_ms == 100 + RETRY_MS + 60_000


def test_stopping_before_starting_says_nothing() -> None:
    machine = PresenceMachine("dad")
    assert machine.stop(0) == []


def test_online_means_a_recent_online_record() -> None:
    machine = PresenceMachine("mum", every_ms=10_000)
    (record,) = machine.start(0)
    assert record.online(25_000)  # 2.5 beats
    assert not record.online(25_001)
    (offline,) = machine.stop(1)
    assert not offline.online(2)
    # The broker's append time wins over the sender's clock (10 minutes wrong here).
    assert record.online(700_000, seen_ms=690_000)


def test_heard_waits_for_a_burst_then_writes_one_record_per_block() -> None:
    tracker = HeardTracker("dad", debounce_ms=HEARD_DEBOUNCE_MS)
    tracker.heard(1, 100, 200, now_ms=0)
    tracker.heard(1, 201, 250, now_ms=500)
    tracker.heard(1, BLOCK - 10, BLOCK + 10, now_ms=900)  # crosses a block boundary
    assert not tracker.due(HEARD_DEBOUNCE_MS - 1)
    assert tracker.due(HEARD_DEBOUNCE_MS)
    records = tracker.take(
        HEARD_DEBOUNCE_MS, lambda channel, block: ((0, 50),) if block == 0 else ()
    )
    assert [(r.block, r.ranges) for r in records] == [
        (0, ((0, 50), (100, 250), (BLOCK - 10, BLOCK - 1))),
        (1, ((BLOCK, BLOCK + 10),)),
    ]
    assert not tracker.pending and not tracker.due(10**9)


def test_heard_put_back_after_a_failed_write() -> None:
    tracker = HeardTracker("dad")
    tracker.heard(2, 5, 9, now_ms=0)
    records = tracker.take(10_000, lambda c, b: ())
    tracker.put_back(records, now_ms=10_000)
    assert tracker.pending and tracker.due(10_000 + RETRY_MS)


def test_live_hearing_covers_from_tune_in_and_not_before() -> None:
    tracker = HeardTracker("cat")
    live = LiveHearing(1, tracker)
    live.heard_until(50, 0)  # not tuned in yet: nothing
    assert not tracker.pending
    live.tuned_in(100)
    live.heard_until(180, 0)
    live.heard_until(260, 1)
    records = tracker.take(10_000, lambda c, b: ())
    index = HeardIndex.of_records(records)
    assert index.heard("cat", 100, 260)
    assert not index.heard("cat", 90, 150)  # began before she tuned in
    live.lost()
    live.heard_until(400, 2)
    assert not tracker.pending


def test_heard_index_joins_ranges_across_blocks_and_leaves_out_the_talker() -> None:
    records = [
        HeardRecord("ann", 1, 0, ((BLOCK - 100, BLOCK - 1),), 0),
        HeardRecord("ann", 1, 1, ((BLOCK, BLOCK + 100),), 0),
        HeardRecord("ben", 1, 1, ((BLOCK + 50, BLOCK + 60),), 0),
    ]
    index = HeardIndex.of_records(records)
    assert index.heard_by(BLOCK - 50, BLOCK + 50) == ["ann"]
    assert index.heard_by(BLOCK + 50, BLOCK + 60) == ["ann", "ben"]
    assert index.heard_by(BLOCK + 50, BLOCK + 60, talker="ann") == ["ben"]
    assert index.heard_by(BLOCK + 99, BLOCK + 101) == []
