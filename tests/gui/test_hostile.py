"""The desktop app given what a hostile member writes: nothing raises, nothing
sticks, names show safely (offscreen Qt; the window tests use the real broker)."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QModelIndex, QRect
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem

from chok.channel.session import open_session
from chok.channel.timeline import Entry
from chok.gui.timeline_model import EntryDelegate, TimelineModel
from chok.kafka.producer import RecordProducer
from chok.protocol.audio import build_audio_frame, build_end_of_transmission
from chok.protocol.display import is_unsafe_char
from chok.protocol.transmission import Transmission
from tests.gui.conftest import quick_talk

THUMBS = "\U0001f44d"
BIG = 2**62


def _hostile_entries() -> list[Entry]:
    def entry(start: int, user: str, **fields: object) -> Entry:
        values: dict[str, object] = {
            "user_id": user, "channel": 1, "start_offset": start, "end_offset": start,
            "timestamp_ms": 1704825600000, "message_count": 1,
        }  # fmt: skip
        values.update(fields)
        return Entry(Transmission(**values), {}, True)  # type: ignore[arg-type]

    return [
        entry(1, "eve\n   2  alice"),
        entry(2, "\u202emallory", timestamp_ms=253402300800000),
        entry(3, "x" * 100_000, timestamp_ms=2**63 - 1),
        entry(BIG, "bob", message_count=BIG, end_offset=BIG + 5),
        Entry(
            Transmission("ann", 1, 5, 5, 1, 1),
            {"\x1b[2J\n": ["a\u202e"], THUMBS: ["me", "x" * 10_000]},
            False,
        ),
    ]


def _unsafe(text: str) -> list[str]:
    return [c for c in text if is_unsafe_char(c)]


def test_the_model_and_its_delegate_show_hostile_entries_safely(qapp) -> None:  # type: ignore[no-untyped-def]
    model = TimelineModel("me")
    entries = _hostile_entries()
    model.set_entries(entries)
    model.set_unheard([e.id for e in entries])
    model.set_playing(BIG, 10, BIG)
    texts = [model.data(model.index(row)) for row in range(model.rowCount())]
    assert all(isinstance(t, str) and not _unsafe(t) and len(t) < 400 for t in texts)
    assert texts[0].startswith("eve\\n") and texts[1].startswith("\\u202emallory, ?, ")
    assert ", ?, " in texts[2] and ", ?" in texts[3]

    delegate = EntryDelegate(model)
    image = QImage(600, 80, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        for row in range(model.rowCount()):
            option = QStyleOptionViewItem()
            option.rect = QRect(0, 0, 600, 80)
            index: QModelIndex = model.index(row)
            delegate.paint(painter, option, index)
    finally:
        painter.end()


def _write(producer: RecordProducer, topic: str, records: list[tuple[bytes, bytes, list]]) -> None:  # type: ignore[type-arg]
    for key, value, headers in records:
        producer.produce(topic, key, value, headers)
    producer.flush()


@pytest.mark.broker
@pytest.mark.gui
def test_a_hostile_recording_can_be_selected_played_and_reacted_to(
    qtbot, new_user, private_channel, open_window
) -> None:  # type: ignore[no-untyped-def]
    """Ids and lengths past 2^31 went through Qt signals declared `int` (32 bits)."""
    channel, (alice, mallory) = private_channel(new_user("alice"), new_user("mallory"))
    session = open_session(mallory)
    value = {
        "userId": "\u202emallory\n", "channelId": channel, "startOffset": BIG,
        "endOffset": BIG, "timestamp": 10**18, "messageCount": BIG, "reactions": {},
    }  # fmt: skip
    key = f"msg-{channel}-{BIG}".encode()
    _write(session.producer(), session.metadata_topic, [(key, json.dumps(value).encode(), [])])
    window = open_window(alice)
    pane = window.timeline
    qtbot.waitUntil(lambda: pane.model.row_of(BIG) is not None, timeout=15_000)
    pane.select_id(BIG)
    assert pane.selected() is not None and pane.selected().id == BIG
    assert pane.progress.format().endswith("/ ?")

    ended: list[tuple[int, bool]] = []
    window.vm.playEnded.connect(lambda entry_id, done: ended.append((entry_id, done)))
    pane.play_or_stop()
    qtbot.waitUntil(lambda: bool(ended), timeout=15_000)
    assert ended == [(BIG, False)]
    assert window.messages[-1][0].startswith("cannot play") and window.messages[-1][1]

    pane.react(THUMBS)
    button = pane.react_buttons[THUMBS]
    qtbot.waitUntil(lambda: button.isEnabled() and button.isChecked(), timeout=15_000)
    assert window.vm.entry(BIG).reactions == {THUMBS: [alice.user]}


@pytest.mark.broker
@pytest.mark.gui
def test_an_end_record_with_a_huge_length_does_not_leave_the_floor_busy(
    qtbot, new_user, private_channel, open_window
) -> None:  # type: ignore[no-untyped-def]
    _, (alice, mallory) = private_channel(new_user("alice"), new_user("mallory"))
    session = open_session(mallory)
    window = open_window(alice)
    busy: list[list[str]] = []
    window.vm.floorChanged.connect(busy.append)
    tx = "0badc0de"
    frame = build_audio_frame("mallory", tx, 0, bytes(range(1, 31)))
    end = build_end_of_transmission("mallory", tx, 2**24 - 1, 2**32 - 1)
    _write(session.producer(), session.audio_topic, [frame, end])
    qtbot.waitUntil(lambda: busy[-2:] == [["mallory"], []] if busy else False, timeout=15_000)
    assert window.vm.listening.talkers() == []
    qtbot.waitUntil(lambda: window.vm.ptt_state == "idle", timeout=5_000)
    # and a real transmission afterwards is heard and listed
    real = quick_talk(open_session(mallory)).transmission
    assert real is not None
    model = window.timeline.model
    qtbot.waitUntil(lambda: model.row_of(real.start_offset) is not None, timeout=15_000)
