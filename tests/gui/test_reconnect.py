"""The broker goes away and comes back: the app says so, and carries on by itself."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

from chok.channel.session import open_session
from chok.profiles import Profile
from tests.gui.conftest import quick_talk

pytestmark = [pytest.mark.gui, pytest.mark.broker]


def test_reconnecting_is_shown_and_done_by_itself(qtbot, cluster, new_user, open_window) -> None:  # type: ignore[no-untyped-def]
    from chok.broker import process

    alice, bob = new_user("alice", [1, 2]), new_user("bob")
    window = open_window(alice)
    assert "Connected" in window.conn_label.text()
    window.scan_panel.rows[2].hear.setChecked(True)  # channel 2 heard by scan's monitor
    qtbot.waitUntil(lambda: window.scanning.listening, timeout=20_000)
    scan_line = window.scan_panel.connection
    assert not scan_line.isVisibleTo(window)
    assert process.stop()
    try:
        qtbot.waitUntil(lambda: "Reconnecting" in window.conn_label.text(), timeout=30_000)
        # The other channels say it too, in the same words.
        qtbot.waitUntil(lambda: scan_line.isVisibleTo(window), timeout=30_000)
        assert "Can't reach the family's Kafka at" in scan_line.text()
        # Plain words; Kafka's own text only behind the details.
        assert "Can't reach the family's Kafka at" in window.conn_label.text()
        assert window.vm.listening.kafka_detail, "Kafka's text is kept as a detail"
        assert window.vm.listening.kafka_detail not in window.conn_label.text()
        assert window.vm.ptt_state == "offline"
        window.vm.press()  # talking while the broker is away is allowed: it is queued
        assert window.messages[-1][0] == "queued: will be sent when connected"
        qtbot.waitUntil(lambda: window.elapsed_label.text() >= "0:00.5", timeout=10_000)
        window.vm.release()
    finally:
        process.start(port=cluster.port)
    qtbot.waitUntil(lambda: "Connected" in window.conn_label.text(), timeout=90_000)
    qtbot.waitUntil(lambda: not scan_line.isVisibleTo(window), timeout=60_000)
    qtbot.waitUntil(lambda: window.vm.ptt_state == "idle", timeout=60_000)
    # What alice said while the broker was away reaches the timeline.
    qtbot.waitUntil(
        lambda: any(e.transmission.user_id == alice.user for e in window.vm.entries),
        timeout=60_000,
    )
    # Still hearing the channel: bob's next words arrive and land on the timeline.
    tx = quick_talk(open_session(bob)).transmission
    assert tx is not None
    qtbot.waitUntil(lambda: window.vm.sound.cues_played[-1:] == ["end"], timeout=30_000)
    qtbot.waitUntil(
        lambda: window.timeline.model.row_of(tx.start_offset) is not None, timeout=30_000
    )
    _wait_for_group_coordinator(bob)  # leave the restarted broker fully ready for other tests


def test_a_long_connection_message_never_widens_the_window(qtbot, new_user, open_window) -> None:  # type: ignore[no-untyped-def]
    window = open_window(new_user("alice"))
    before = window.minimumSizeHint().width()
    kafka_text = "reading chok-audio-1: Failed to get watermark offsets: " * 20
    window.vm.listening.kafka_detail = kafka_text
    window._connection("reconnecting", "Can't reach the family's Kafka — " + kafka_text)
    assert window.minimumSizeHint().width() == before
    assert window.conn_label.text().endswith(kafka_text)  # all of it, elided on screen
    assert kafka_text in window.conn_label.toolTip()


def _wait_for_group_coordinator(person: Profile, timeout: float = 90) -> None:
    """Until a consumer group can commit (the coordinator loads after a restart)."""
    conf = {**person.credentials.librdkafka(), "group.id": f"chok.{person.user}.settle"}
    consumer = Consumer(conf)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                consumer.commit(offsets=[TopicPartition("chok-audio-1", 0, 0)], asynchronous=False)
                return
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)  # the coordinator is still loading: ask again
    finally:
        consumer.close()
