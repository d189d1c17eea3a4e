"""The timeline pane against the real broker: reactions, replay, unheard, export, load."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from chok.channel.session import open_session
from chok.codec import read_audio_file
from chok.kafka.producer import RecordProducer
from chok.protocol.transmission import build_transmission
from tests.gui.conftest import TickCounter, expire_audio, quick_talk

pytestmark = [pytest.mark.gui, pytest.mark.broker]
THUMBS, HEART = "\U0001f44d", "\u2764\ufe0f"


def _select(window, entry_id: int, qtbot) -> None:  # type: ignore[no-untyped-def]
    pane = window.timeline
    qtbot.waitUntil(lambda: pane.model.row_of(entry_id) is not None, timeout=15_000)
    pane.select_id(entry_id)
    assert pane.selected() is not None and pane.selected().id == entry_id


def test_a_reaction_shows_up_on_the_other_side(qtbot, new_user, open_window) -> None:  # type: ignore[no-untyped-def]
    alice, bob = new_user("alice"), new_user("bob")
    tx = quick_talk(open_session(bob)).transmission
    assert tx is not None
    alice_window, bob_window = open_window(alice), open_window(bob)
    _select(alice_window, tx.start_offset, qtbot)
    _select(bob_window, tx.start_offset, qtbot)

    qtbot.mouseClick(alice_window.timeline.react_buttons[THUMBS], Qt.MouseButton.LeftButton)
    button = alice_window.timeline.react_buttons[THUMBS]
    qtbot.waitUntil(lambda: button.isChecked() and button.text() == f"{THUMBS} 1", timeout=15_000)
    qtbot.waitUntil(button.isEnabled)  # the toggle is done (the button waits for it)
    assert f"{THUMBS} 1" in alice_window.timeline.model.describe(
        alice_window.vm.entry(tx.start_offset)
    )

    # bob's window learns it by itself (the metadata partition moved).
    def bob_sees(names: list[str]) -> bool:
        entry = bob_window.vm.entry(tx.start_offset)
        return entry is not None and entry.reactions.get(THUMBS, []) == names

    qtbot.waitUntil(lambda: bob_sees([alice.user]), timeout=15_000)
    qtbot.waitUntil(lambda: bob_window.timeline.react_buttons[THUMBS].text() == f"{THUMBS} 1")
    assert not bob_window.timeline.react_buttons[THUMBS].isChecked()  # not bob's own

    # bob adds a heart; alice takes her thumbs back.
    qtbot.mouseClick(bob_window.timeline.react_buttons[HEART], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(alice_window.timeline.react_buttons[THUMBS], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bob_sees([]), timeout=15_000)
    qtbot.waitUntil(
        lambda: (alice_window.vm.entry(tx.start_offset) or tx).reactions == {HEART: [bob.user]},
        timeout=15_000,
    )
    assert not alice_window.timeline.react_buttons[THUMBS].isChecked()


def test_play_runs_to_the_end_with_progress_and_stop_stops(
    qtbot, new_user, open_window, sound
) -> None:  # type: ignore[no-untyped-def]
    alice, bob = new_user("alice"), new_user("bob")
    tx = quick_talk(open_session(bob), frames=25).transmission  # 1.5 s
    assert tx is not None
    window = open_window(alice)
    _select(window, tx.start_offset, qtbot)
    progress: list[int] = []
    window.vm.playProgress.connect(lambda _id, played, _total: progress.append(played))
    ticks = TickCounter().start()

    with qtbot.waitSignal(window.vm.playEnded, timeout=20_000) as ended:
        qtbot.mouseClick(window.timeline.play_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.timeline.play_button.text().endswith("Stop"))
    ticks.stop()
    assert ended.args == [tx.start_offset, True]
    assert progress == sorted(progress) and len(progress) >= 5  # it moved, in real time
    assert progress[-1] == tx.duration_ms
    assert window.timeline.progress.value() == window.timeline.progress.maximum()
    assert window.timeline.play_button.text().endswith("Play")
    heard = sound.samples_heard()
    assert heard >= tx.duration_ms * 48  # every frame reached the speaker
    assert ticks.max_gap_ms < 250, "the UI thread waited while playing"

    # Stop in the middle.
    with qtbot.waitSignal(window.vm.playEnded, timeout=20_000) as stopped:
        window.timeline.play_or_stop()
        qtbot.waitUntil(lambda: bool(window.vm.replayer.playing))
        qtbot.waitUntil(lambda: window.timeline.model.playing is not None)
        qtbot.mouseClick(window.timeline.play_button, Qt.MouseButton.LeftButton)
    assert stopped.args == [tx.start_offset, False]
    assert sound.samples_heard() - heard < tx.duration_ms * 48


def test_missed_recordings_are_counted_and_played_in_order(
    qtbot, new_user, private_channel, open_window
) -> None:  # type: ignore[no-untyped-def]
    _, (alice, bob) = private_channel(new_user("alice"), new_user("bob"))
    first = open_window(alice)  # the first time: everything so far counts as heard
    qtbot.waitUntil(lambda: first.timeline.unheard_label.text() == "You have heard everything.")
    first.close()
    bob_session = open_session(bob)
    missed = [quick_talk(bob_session, frames=8).transmission for _ in range(2)]
    assert all(missed)

    window = open_window(alice)
    pane = window.timeline
    qtbot.waitUntil(lambda: "2 unheard" in pane.unheard_label.text(), timeout=15_000)
    assert pane.play_unheard_button.isEnabled()
    described = [pane.model.describe(e) for e in pane.model.rows]
    assert sum("unheard" in d for d in described) == 2
    started: list[int] = []
    window.vm.playStarted.connect(lambda entry_id, _total: started.append(entry_id))
    qtbot.mouseClick(pane.play_unheard_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: pane.unheard_label.text() == "You have heard everything.", timeout=20_000
    )
    assert started == [tx.start_offset for tx in missed if tx]  # oldest first
    assert not pane.play_unheard_button.isEnabled()
    window.close()

    again = open_window(alice)  # remembered
    qtbot.waitUntil(lambda: bool(again.timeline.model.rows), timeout=15_000)
    assert again.timeline.unheard_label.text() == "You have heard everything."


def test_expired_audio_is_marked_and_not_played(
    qtbot, new_user, private_channel, open_window
) -> None:  # type: ignore[no-untyped-def]
    _, (alice, bob) = private_channel(new_user("alice"), new_user("bob"))
    bob_session = open_session(bob)
    old = quick_talk(bob_session).transmission
    expire_audio(bob_session)
    new = quick_talk(bob_session).transmission
    assert old is not None and new is not None
    window = open_window(alice)
    _select(window, old.start_offset, qtbot)
    pane = window.timeline
    assert "audio expired" in pane.model.describe(pane.selected())
    assert not pane.play_button.isEnabled() and not pane.export_button.isEnabled()
    assert pane.progress.format() == "audio expired"
    window.vm.play(pane.selected())
    assert window.messages[-1] == ("this recording's audio has expired", True)
    _select(window, new.start_offset, qtbot)
    assert "audio expired" not in pane.model.describe(pane.selected())
    assert pane.play_button.isEnabled()


def test_saving_a_recording_to_a_file(
    qtbot, new_user, open_window, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    alice, bob = new_user("alice"), new_user("bob")
    tx = quick_talk(open_session(bob), frames=20).transmission
    assert tx is not None
    window = open_window(alice)
    _select(window, tx.start_offset, qtbot)
    target = tmp_path / "from-bob.ogg"
    # The file dialog is the one thing not driven here: it answers with our path.
    monkeypatch.setattr("chok.gui.main_window.ask_export_path", lambda _parent, _entry: target)
    qtbot.mouseClick(window.timeline.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(text.startswith("saved") for text, _ in window.messages))
    assert target.exists()
    assert read_audio_file(target).size == pytest.approx(tx.duration_ms * 48, abs=960)

    bad = tmp_path / "from-bob.mp3"
    monkeypatch.setattr("chok.gui.main_window.ask_export_path", lambda _parent, _entry: bad)
    qtbot.mouseClick(window.timeline.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.messages[-1][0].startswith("could not save"))
    assert ".mp3" in window.messages[-1][0] and window.messages[-1][1]
    assert not bad.exists()


def test_ten_thousand_recordings_load_while_the_ui_keeps_turning(
    qtbot, new_user, private_channel, open_window
) -> None:  # type: ignore[no-untyped-def]
    channel, (carol,) = private_channel(new_user("carol"))
    session = open_session(carol)
    producer = RecordProducer(carol.credentials)
    now = int(time.time() * 1000)
    for i in range(10_000):
        tx = build_transmission(
            user=carol.user, channel=channel, start_offset=i, end_offset=i,
            timestamp_ms=now - i * 1000, tx_id=f"{i:08x}", frames=1, duration_ms=60, frame_ms=60,
        )  # fmt: skip
        producer.produce(session.metadata_topic, tx.key(), tx.to_value())
        if i % 1000 == 0:
            producer.poll(0)
    producer.flush(60)

    ticks = TickCounter().start()
    began = time.monotonic()
    window = open_window(carol, connected=False)
    qtbot.waitUntil(lambda: len(window.timeline.model.rows) == 10_000, timeout=60_000)
    took = time.monotonic() - began
    while_loading = len(ticks.stamps)
    window.timeline.list.scrollToBottom()
    qtbot.wait(50)
    ticks.stop()
    print(
        f"10,000 entries shown after {took:.2f} s; the 10 ms timer fired {while_loading} times"
        f" meanwhile; longest UI pause {ticks.max_gap_ms:.0f} ms"
    )
    # The records are read off the UI thread: it kept turning while they
    # loaded (a read on it would let the timer fire once at most). How often
    # it turned depends on the machine's load: that is a number to print, not
    # to assert (it once fired 17 times where 17.8 were asked, under CI load).
    assert while_loading >= 3
    assert ticks.max_gap_ms < 250, f"the UI thread stalled {ticks.max_gap_ms:.0f} ms"
    assert window.timeline.status.text() == "10000 recordings in the last 24 h"

    qtbot.mouseClick(window.timeline.since_buttons["1 h"], Qt.MouseButton.LeftButton)
    # The last hour, by now: the records were stamped a second apart, a few seconds ago.
    assert 3500 < len(window.timeline.model.rows) <= 3601
    qtbot.mouseClick(window.timeline.since_buttons["All"], Qt.MouseButton.LeftButton)
    assert len(window.timeline.model.rows) == 10_000
