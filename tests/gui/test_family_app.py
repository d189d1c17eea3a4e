"""The family in the desktop app, against the real broker: the member list,
heard-by, display names, delete for everyone, the archive, new channels."""

from __future__ import annotations

import itertools

import pytest
from PySide6.QtCore import Qt

from chok import profiles
from chok.channel.session import open_session
from chok.protocol.bundle import read_bundle
from chok.provision import service
from tests.gui.conftest import expire_audio, quick_talk

pytestmark = [pytest.mark.gui, pytest.mark.broker]
_numbers = itertools.count()


@pytest.fixture
def person(cluster):  # type: ignore[no-untyped-def]
    def make(
        prefix: str, display_name: str | None = None, channels: list[int] | None = None
    ) -> profiles.Profile:
        name = f"{prefix}{next(_numbers)}g"
        bundle, _ = service.add_user(name, channels, False, display_name=display_name)
        return profiles.install(read_bundle(bundle.to_zip()), name, force=True)

    return make


def _member(window, user: str) -> str:  # type: ignore[no-untyped-def]
    model = window.members.model
    return next((model.describe(m) for m in model.rows if m.user == user), "")


def _select(window, entry_id: int, qtbot) -> None:  # type: ignore[no-untyped-def]
    pane = window.timeline
    qtbot.waitUntil(lambda: pane.model.row_of(entry_id) is not None, timeout=15_000)
    pane.select_id(entry_id)


def test_member_list_dots_and_display_names(qtbot, person, open_window) -> None:  # type: ignore[no-untyped-def]
    jo, dan = person("jo", "Grandma Jo"), person("dan")
    jo_window = open_window(jo)
    assert "Grandma Jo" in jo_window.who_label.text()
    dan_window = open_window(dan)
    # Both windows said "online"; each sees the other with a green dot.
    qtbot.waitUntil(lambda: _member(dan_window, jo.user) == "Grandma Jo, online", timeout=20_000)
    qtbot.waitUntil(lambda: _member(jo_window, dan.user).endswith("online"), timeout=20_000)
    assert "Grandma Jo" in dan_window.name_of(jo.user)
    jo_window.close()  # says "offline"
    qtbot.waitUntil(lambda: "online" not in _member(dan_window, jo.user), timeout=20_000)
    assert _member(dan_window, jo.user).startswith("Grandma Jo, ")


def test_a_long_name_is_elided_and_never_widens_the_window(qtbot, person, open_window) -> None:  # type: ignore[no-untyped-def]
    ann = person("ann")
    window = open_window(ann)
    width = window.width()
    hint = window.minimumSizeHint().width()
    long_name = "Émilie " + "de la Tour d'Auvergne " * 2 + "x"
    window.family.set_display_name(long_name[:64])
    qtbot.waitUntil(lambda: "Émilie" in window.who_label.text(), timeout=15_000)
    assert window.who_label.text().endswith("\u2026")  # cut with an ellipsis
    assert window.width() == width
    assert window.minimumSizeHint().width() <= hint


def test_heard_by_shows_after_a_replay(qtbot, person, open_window, sound) -> None:  # type: ignore[no-untyped-def]
    mum, dad = person("mum", "Mum"), person("dad", "Dad")
    tx = quick_talk(open_session(mum), frames=8).transmission
    assert tx is not None
    dad_window, mum_window = open_window(dad), open_window(mum)
    _select(dad_window, tx.start_offset, qtbot)
    with qtbot.waitSignal(dad_window.vm.playEnded, timeout=20_000):
        qtbot.mouseClick(dad_window.timeline.play_button, Qt.MouseButton.LeftButton)
    _select(mum_window, tx.start_offset, qtbot)

    def mum_sees() -> str:
        entry = mum_window.vm.entry(tx.start_offset)
        return mum_window.timeline.model.describe(entry) if entry else ""

    qtbot.waitUntil(lambda: "heard by Dad" in mum_sees(), timeout=30_000)
    assert mum_sees().startswith("Mum, ")


def test_delete_for_everyone(qtbot, person, open_window) -> None:  # type: ignore[no-untyped-def]
    ann, ben = person("ann"), person("ben")
    mine = quick_talk(open_session(ann)).transmission
    theirs = quick_talk(open_session(ben)).transmission
    assert mine is not None and theirs is not None
    ann_window, ben_window = open_window(ann), open_window(ben)
    _select(ann_window, theirs.start_offset, qtbot)
    assert not ann_window.timeline.delete_button.isEnabled()  # not hers
    _select(ann_window, mine.start_offset, qtbot)
    assert ann_window.timeline.delete_button.isEnabled()
    _select(ben_window, mine.start_offset, qtbot)
    ann_window.timeline.delete_selected(confirm=False)
    qtbot.waitUntil(lambda: ann_window.vm.entry(mine.start_offset) is None, timeout=15_000)
    qtbot.waitUntil(lambda: ben_window.vm.entry(mine.start_offset) is None, timeout=30_000)
    assert ben_window.timeline.model.row_of(mine.start_offset) is None


def test_archive_setting_keeps_recordings_past_retention(
    qtbot, person, private_channel, open_window, sound
) -> None:  # type: ignore[no-untyped-def]
    _, (ann, ben) = private_channel(person("ann"), person("ben"))
    tx = quick_talk(open_session(ann), frames=10).transmission
    assert tx is not None
    window = open_window(ben)
    window.family.set_archive(True)
    results: list[object] = []
    window.family.archived.connect(results.append)
    window.vm.reload()
    qtbot.waitUntil(lambda: any(r.archived for r in results), timeout=30_000)  # type: ignore[attr-defined]
    expire_audio(open_session(ann))
    window.vm.reload()
    qtbot.waitUntil(
        lambda: (e := window.vm.entry(tx.start_offset)) is not None and not e.audio_available,
        timeout=30_000,
    )
    entry = window.vm.entry(tx.start_offset)
    assert entry is not None and entry.archived
    assert "archived" in window.timeline.model.describe(entry)
    _select(window, tx.start_offset, qtbot)
    assert window.timeline.play_button.isEnabled()
    with qtbot.waitSignal(window.vm.playEnded, timeout=20_000) as ended:
        qtbot.mouseClick(window.timeline.play_button, Qt.MouseButton.LeftButton)
    assert ended.args == [tx.start_offset, True]


def test_a_granted_channel_appears_by_itself(qtbot, person, open_window) -> None:  # type: ignore[no-untyped-def]
    kim = person("kim", channels=[1])
    window = open_window(kim)
    box = window.channel_box
    assert [box.itemData(i) for i in range(box.count())] == [1]
    service.grant(kim.user, "2")
    qtbot.waitUntil(lambda: box.count() == 2, timeout=60_000)
    assert box.itemData(1) == 2
    assert any("new channel" in text for text, _ in window.messages)
    service.deny(kim.user, "2")
    qtbot.waitUntil(lambda: box.count() == 1, timeout=60_000)
