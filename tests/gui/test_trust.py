"""The desktop app and signatures and private channels, against the real broker:
a check mark for verified recordings, forged ones hidden behind "Show
suspicious" with a warning, and a private channel used like an open one."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from chok.channel.session import open_session
from tests.gui.conftest import quick_talk
from tests.integration.talk_helpers import speech_packets
from tests.integration.test_signing import _hand_made

pytestmark = [pytest.mark.gui, pytest.mark.broker]
FIRE = "\U0001f525"


def test_verified_marked_forged_hidden_until_asked_for_then_warned(
    qtbot, new_user, open_window, private_channel
) -> None:  # type: ignore[no-untyped-def]
    # A channel of their own: the count of forged recordings is theirs only.
    _, (alice, bob) = private_channel(new_user("alice"), new_user("bob"))
    good = quick_talk(open_session(alice)).transmission
    forged = _hand_made(open_session(bob), alice.user, list(speech_packets()[:12]))
    window = open_window(alice)
    pane = window.timeline
    qtbot.waitUntil(lambda: pane.model.row_of(good.start_offset) is not None, timeout=15_000)
    row = pane.model.row_of(good.start_offset)
    assert row is not None
    described = pane.model.describe(pane.model.rows[row]).split(", ")
    assert described[0] == alice.user and "verified" in described
    assert pane.model.row_of(forged.start_offset) is None  # hidden
    qtbot.waitUntil(lambda: "1 suspicious recording hidden" in pane.suspicious_label.text())
    assert pane.suspicious_box.isVisible() and not pane.suspicious_box.isChecked()

    pane.suspicious_box.click()
    qtbot.waitUntil(lambda: pane.model.row_of(forged.start_offset) is not None)
    entry = window.vm.entry(forged.start_offset)
    assert entry is not None
    described = pane.model.describe(entry)
    assert f"FORGED: signed by {bob.user}, not {alice.user}" in described
    assert "shown" in pane.suspicious_label.text()
    pane.select_id(forged.start_offset)
    qtbot.mouseClick(pane.play_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: any("recording is forged" in text and error for text, error in window.messages),
        timeout=10_000,
    )
    # Live: bob does it again while alice listens; she is warned when it ends.
    _hand_made(open_session(bob), alice.user, list(speech_packets()[:12]))
    qtbot.waitUntil(
        lambda: any(f"just said as {alice.user} is forged" in t for t, _ in window.messages),
        timeout=15_000,
    )


def test_the_app_on_a_private_channel(qtbot, new_user, open_window, sound, sealed_channel) -> None:  # type: ignore[no-untyped-def]
    number = sealed_channel()
    alice, bob = new_user("alice", channels=[1, number]), new_user("bob", channels=[1, number])
    window = open_window(alice, number)
    assert window.vm.session.private
    # bob talks on the private channel; alice's window lists, verifies and plays it
    tx = quick_talk(open_session(bob, number), frames=20).transmission
    pane = window.timeline
    qtbot.waitUntil(lambda: pane.model.row_of(tx.start_offset) is not None, timeout=20_000)
    entry = window.vm.entry(tx.start_offset)
    assert entry is not None and entry.authenticity.verified and entry.epoch is not None
    pane.select_id(tx.start_offset)
    with qtbot.waitSignal(window.vm.playEnded, timeout=20_000) as ended:
        qtbot.mouseClick(pane.play_button, Qt.MouseButton.LeftButton)
    assert ended.args == [tx.start_offset, True]
    assert sound.samples_heard() >= tx.duration_ms * 48
    qtbot.mouseClick(pane.react_buttons[FIRE], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pane.react_buttons[FIRE].text() == f"{FIRE} 1", timeout=15_000)
    bob_view = open_session(bob, number)
    from chok.channel.timeline import load_timeline

    assert load_timeline(bob_view).find(tx.start_offset).reactions == {FIRE: [alice.user]}
    # alice talks from the window: sealed, and bob reads it
    qtbot.mousePress(window.ptt, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.vm.talking.state == "talking")
    qtbot.waitUntil(lambda: window.elapsed_label.text() >= "0:00.6", timeout=10_000)
    qtbot.mouseRelease(window.ptt, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(t.startswith("sent") for t, _ in window.messages), timeout=20_000)
    newest = load_timeline(bob_view).entries[0]
    assert newest.transmission.user_id == alice.user and newest.authenticity.verified
