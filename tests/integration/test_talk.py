"""Talk, listen, timeline, replay and reactions against the real broker."""

from __future__ import annotations

import threading

import pytest

from chok.channel.live import TalkStarted
from chok.channel.reactions import toggle_reaction
from chok.channel.replay import replay_frames
from chok.channel.session import open_session
from chok.channel.talk import Talker
from chok.channel.timeline import load_timeline
from tests.integration.talk_helpers import Recorder, on_wire, speech_packets, talk_packets

pytestmark = pytest.mark.broker


def _talk(session, packets):  # type: ignore[no-untyped-def]
    return talk_packets(session, packets)


def test_every_frame_arrives_byte_exact_in_order_live_and_on_replay(new_user) -> None:  # type: ignore[no-untyped-def]
    alice, bob = open_session(new_user("alice")), open_session(new_user("bob"))
    packets = speech_packets()
    recorder = Recorder(bob).start()
    result = _talk(alice, packets)
    recorder.wait_for(lambda _events: recorder.ended(result.tx_id))
    recorder.finish()

    started = [e for e in recorder.events if isinstance(e, TalkStarted) and e.key == result.tx_id]
    assert [s.talker for s in started] == [alice.user]
    live = recorder.frames_of(result.tx_id)
    assert [f.frame.seq for f in live] == list(range(len(packets)))
    assert [f.frame.packet for f in live] == [on_wire(p) for p in packets]

    assert result.transmission is not None
    entry = load_timeline(bob).find(result.transmission.start_offset)
    assert entry.transmission.user_id == alice.user
    assert entry.transmission.frames == len(packets)
    assert entry.transmission.duration_ms == 60 * len(packets)
    replayed = list(replay_frames(bob, entry.transmission))
    assert [f.packet for f in replayed] == [on_wire(p) for p in packets]


def test_two_people_talking_at_once_are_separated_on_replay(new_user) -> None:  # type: ignore[no-untyped-def]
    alice, bob = open_session(new_user("alice")), open_session(new_user("bob"))
    a_packets = speech_packets("Alice here, over.")
    b_packets = speech_packets("Bob speaking now.")
    a_talker, b_talker = Talker(alice), Talker(bob)
    for index in range(max(len(a_packets), len(b_packets))):
        if index < len(a_packets):
            a_talker.send_packet(a_packets[index])
            assert a_talker.delivery.wait_acknowledged(15)  # interleave the two on the partition
        if index < len(b_packets):
            b_talker.send_packet(b_packets[index])
            assert b_talker.delivery.wait_acknowledged(15)
    a_tx, b_tx = a_talker.end().transmission, b_talker.end().transmission
    assert a_tx is not None and b_tx is not None
    # The ranges overlap: replaying the original app's way would mix them.
    assert a_tx.start_offset < b_tx.end_offset and b_tx.start_offset < a_tx.end_offset
    assert [f.packet for f in replay_frames(bob, a_tx)] == [on_wire(p) for p in a_packets]
    assert [f.packet for f in replay_frames(alice, b_tx)] == [on_wire(p) for p in b_packets]


def test_five_people_reacting_at_once_lose_nothing(new_user) -> None:  # type: ignore[no-untyped-def]
    talker = open_session(new_user("talker"))
    result = _talk(talker, speech_packets()[:10])
    assert result.transmission is not None
    tx_id = result.transmission.start_offset
    people = [open_session(new_user("fan")) for _ in range(5)]
    barrier = threading.Barrier(len(people))
    errors: list[BaseException] = []

    def react(session) -> None:  # type: ignore[no-untyped-def]
        try:
            barrier.wait(30)
            toggle_reaction(session, tx_id, "👍")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=react, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    entry = load_timeline(talker).find(tx_id)
    everyone = sorted(p.user for p in people)
    assert entry.reactions == {"👍": everyone}
    # What the original app sees: the newest transmission record's own map.
    assert {k: list(v) for k, v in entry.transmission.reactions.items()} == {"👍": everyone}


def test_unreacting_toggles_off(new_user) -> None:  # type: ignore[no-untyped-def]
    alice = open_session(new_user("alice"))
    result = _talk(alice, speech_packets()[:5])
    assert result.transmission is not None
    tx_id = result.transmission.start_offset
    first = toggle_reaction(alice, tx_id, "🔥")
    assert first.on and first.reactions == {"🔥": [alice.user]}
    second = toggle_reaction(alice, tx_id, "🔥")
    assert not second.on and second.reactions == {}
    assert load_timeline(alice).find(tx_id).transmission.reactions == {}


def test_silence_runs_are_left_out_on_the_wire_and_restored(new_user) -> None:  # type: ignore[no-untyped-def]
    from chok.kafka.stream import PartitionReader

    alice, bob = open_session(new_user("alice")), open_session(new_user("bob"))
    speech = list(speech_packets())
    tiny = b"\xf8\xff\xfe"  # an Opus packet under 25 bytes: sent as 00 00
    packets = speech[:10] + [tiny] * 8 + speech[10:20] + [tiny] * 5
    recorder = Recorder(bob).start()
    result = _talk(alice, packets)
    recorder.wait_for(lambda _events: recorder.ended(result.tx_id))
    recorder.finish()
    tx = result.transmission
    assert tx is not None and tx.frames == len(packets)
    # On the partition: each run of silence is its first marker only (+ the end record).
    reader = PartitionReader(alice.creds, alice.user, alice.audio_topic, purpose="test")
    reader.assign(tx.start_offset)
    values = [m.value() for m in reader.consume(100, 5) if m.offset() <= tx.end_offset]
    reader.close()
    ours = [v for v in values if v]  # others' records cannot be in this test's range
    assert len(ours) == len(packets) - 7 - 4
    expected = [on_wire(p) for p in packets]
    live = recorder.frames_of(result.tx_id)
    assert [f.frame.packet for f in live] == expected
    assert [f.frame.seq for f in live] == list(range(len(packets)))
    assert [f.synthesized for f in live].count(True) == 11
    assert [f.packet for f in replay_frames(bob, tx)] == expected
