"""The channel use cases given records a hostile member wrote (fake reader, no broker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chok.channel.live import (
    ORIGINAL_TALKER,
    FrameArrived,
    LiveListener,
    TalkEnded,
    TalkStarted,
)
from chok.channel.recorder import SaveDir
from chok.channel.replay import replay_frames
from chok.channel.timeline import Entry
from chok.gui.heard import HeardLog
from chok.protocol.audio import AudioFrame, build_audio_frame, build_end_of_transmission
from chok.protocol.transmission import Transmission, build_transmission
from tests.unit.fake_kafka import FakeMessage, FakeReader

TX = "8f3a5c0e"
SPEECH = bytes(range(1, 31))


def _listener(records: list[Any]) -> tuple[LiveListener, list[Any]]:
    listener = LiveListener(session=None, reader=FakeReader.of(records))  # type: ignore[arg-type]
    events: list[Any] = []
    for _ in range(len(records) + 1):
        events.extend(listener.events(0))
    return listener, events


def test_saved_file_names_from_hostile_names_stay_in_the_folder(tmp_path: Path) -> None:
    saver = SaveDir(tmp_path / "heard")
    frame = AudioFrame("ann", TX, 0, 60, SPEECH)
    names = ["../../evil", "x" * 5000, "名前\u202e\n", "", ".", "a/b\\c"]
    paths = []
    for index, talker in enumerate(names):
        key = f"orig-{index}" if index % 2 else TX  # the same key twice in one second
        saver.feed(FrameArrived(key, talker, frame, 0, 0))
        paths.append(saver.feed(TalkEnded(key, talker, 1, 60, True)))
    assert all(p is not None and p.parent == tmp_path / "heard" for p in paths)
    assert len({p for p in paths}) == len(names)  # none overwrote another
    assert all(p is not None and p.exists() and len(p.name) < 100 for p in paths)


def _tx(frames: int, start: int = 0, end: int = 100) -> Transmission:
    return build_transmission(
        user="ann", channel=1, start_offset=start, end_offset=end, timestamp_ms=1,
        tx_id=TX, frames=frames, duration_ms=frames * 60, frame_ms=60,
    )  # fmt: skip


def test_a_long_replay_does_not_time_out_while_records_keep_coming() -> None:
    """The replay timeout is for a broker that stops answering, not for the time a
    player takes to play (the app plays in real time: a 40 s recording)."""
    now = [0.0]
    records = [build_audio_frame("ann", TX, seq, SPEECH) for seq in range(40)]
    reader = FakeReader.of(records)

    def tick() -> None:
        now[0] += 1.0  # every record takes a second to play

    reader.on_poll = tick
    tx = _tx(40, end=39)
    frames = list(replay_frames(None, tx, reader, timeout=30, clock=lambda: now[0]))  # type: ignore[arg-type]
    assert [f.seq for f in frames] == list(range(40))


def test_another_talker_cannot_end_or_join_a_transmission_by_its_id() -> None:
    """Ids are 4 random bytes seen by everyone live: a transmission is its talker's
    name and its id together (protocol.md 4.4)."""
    records = [
        build_audio_frame("ann", TX, 0, SPEECH),
        build_audio_frame("mallory", TX, 500, SPEECH),
        build_end_of_transmission("mallory", TX, 2**24 - 1, 2**32 - 1),
        build_audio_frame("ann", TX, 1, SPEECH),
        build_end_of_transmission("ann", TX, 2, 120),
    ]
    _, events = _listener(records)
    started = [e for e in events if isinstance(e, TalkStarted)]
    assert [(e.talker) for e in started] == ["ann", "mallory"]
    ann_key, mallory_key = started[0].key, started[1].key
    assert ann_key == TX and mallory_key != ann_key
    ann_frames = [e.frame.seq for e in events if isinstance(e, FrameArrived) and e.key == ann_key]
    assert ann_frames == [0, 1]
    ended = [e for e in events if isinstance(e, TalkEnded)]
    assert [(e.key, e.talker, e.frames) for e in ended] == [
        (mallory_key, "mallory", 2**24 - 1),
        (ann_key, "ann", 2),
    ]


def _entry(start: int, end: int, user: str = "bob") -> Entry:
    tx = Transmission(user, 1, start, end, 1, end - start + 1)
    return Entry(tx, {}, True)


def test_a_record_with_a_huge_end_offset_does_not_mark_all_to_come_as_heard() -> None:
    heard = HeardLog("nobody-hostile", 1, "me")
    assert heard.settle([_entry(50, 2**63 - 2)], audio_high=100) == []
    later = _entry(120, 130)
    assert heard.settle([later, _entry(50, 2**63 - 2)], audio_high=140) == [later]


def test_a_seq_going_down_and_up_again_does_not_fill_the_same_pause_again() -> None:
    records = [build_audio_frame("mallory", TX, seq, SPEECH) for seq in [999, 0] * 50]
    _, events = _listener(records)
    synthesized = [e for e in events if isinstance(e, FrameArrived) and e.synthesized]
    assert len(synthesized) == 999  # frames 0..998, once
    # Every later record repeats a seq already passed: heard before (a resend
    # after a crash looks the same, protocol.md 4.7), so it is dropped.
    assert sum(1 for e in events if isinstance(e, FrameArrived) and not e.synthesized) == 1


def test_a_listener_that_does_not_save_makes_no_silence_frames() -> None:
    records = [
        build_audio_frame("ann", TX, 0, SPEECH),
        build_audio_frame("ann", TX, 900, SPEECH),
        build_end_of_transmission("ann", TX, 1900, 1900 * 60),
    ]
    listener = LiveListener(None, FakeReader.of(records), fill_silence=False)  # type: ignore[arg-type]
    events = [e for _ in range(4) for e in listener.events(0)]
    assert [type(e).__name__ for e in events] == [
        "TalkStarted", "FrameArrived", "FrameArrived", "TalkEnded",
    ]  # fmt: skip
    assert events[-1] == TalkEnded(TX, "ann", 1900, 1900 * 60, True)


def test_headers_that_cannot_be_read_make_an_original_app_frame() -> None:
    class Unreadable(FakeMessage):
        def headers(self) -> list[tuple[str, bytes | None]] | None:
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    listener = LiveListener(None, FakeReader([Unreadable(b"ann", SPEECH, None, 0)]))  # type: ignore[arg-type]
    events = list(listener.events(0))
    assert [type(e).__name__ for e in events] == ["TalkStarted", "FrameArrived"]
    assert events[0].talker == ORIGINAL_TALKER
