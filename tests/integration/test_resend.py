"""A resend after a crash doubles nothing: the frames a dead talker had already
delivered (but not yet noted as delivered) come again, and every receiver
(live, replay, export, catch-up) has each frame once."""

from __future__ import annotations

from pathlib import Path

import pytest

from chok.channel.live import FrameArrived, TalkEnded
from chok.channel.outbox import Outbox, OutboxEnd, OutboxMeta
from chok.channel.player import play_entries
from chok.channel.recorder import SaveDir
from chok.channel.replay import replay_frames
from chok.channel.resend import resume_outbox
from chok.channel.session import ChannelSession, now_ms, open_session
from chok.channel.timeline import load_timeline
from chok.codec import read_ogg_opus_packets
from chok.kafka.producer import DeliveryCallback, RecordProducer
from chok.protocol.audio import build_audio_frame
from tests.conftest import run_chok
from tests.integration.talk_helpers import Recorder, on_wire, speech_packets

pytestmark = pytest.mark.broker

TX = "0badcafe"


def _crashed_talker(alice: ChannelSession, values: list[bytes], delivered: int, noted: int) -> None:
    """What a talker killed mid-transmission leaves: every frame in its outbox,
    ``delivered`` of them on the broker, only ``noted`` of those noted as such."""
    meta = OutboxMeta(
        alice.profile_name, alice.user, TX, alice.number, alice.audio_topic, 0,
        alice.metadata_topic, 0, 60, now_ms(),
    )  # fmt: skip
    entry = Outbox.for_profile(alice.profile_name).create(meta)
    producer = RecordProducer(alice.creds)
    offsets: dict[int, int] = {}

    def note(seq: int) -> DeliveryCallback:
        return lambda done, _error: offsets.update({seq: done.offset} if done else {})

    for seq, value in enumerate(values):
        entry.add_frame(seq, value)
        if seq < delivered:
            record = build_audio_frame(alice.user, TX, seq, value)
            producer.produce(alice.audio_topic, record.key, record.value, record.headers, note(seq))
    producer.flush()
    for seq in range(noted):
        entry.ack_frame(seq, offsets[seq])
    entry.close_transmission(OutboxEnd(len(values), len(values) * 60, now_ms()))
    entry.leave()  # the process is gone: its lock is free


def test_a_resend_is_heard_once_live_on_replay_in_export_and_catch_up(
    new_user, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    alice_profile, bob_profile = new_user("alice"), new_user("bob")
    alice, bob = open_session(alice_profile), open_session(bob_profile)
    values = [on_wire(p) for p in speech_packets()[:15]]
    live = Recorder(bob).start()
    _crashed_talker(alice, values, delivered=10, noted=5)

    resender = resume_outbox(alice.profile_name, alice.creds)  # the next chok on that profile
    assert resender is not None and resender.wait(60)
    [tx] = resender.sent
    live.wait_for(lambda events: any(isinstance(e, TalkEnded) for e in events))
    heard = [e.frame for e in live.finish() if isinstance(e, FrameArrived) and not e.synthesized]
    assert [f.seq for f in heard] == list(range(15)), "live: a frame heard twice or missing"
    assert [f.packet for f in heard] == values

    assert [f.packet for f in replay_frames(bob, tx)] == values
    exported = tmp_path / "export.ogg"
    done = run_chok("--profile", bob_profile.name, "export", str(tx.start_offset), str(exported))
    assert done.code == 0, done
    assert read_ogg_opus_packets(exported) == values
    entry = load_timeline(bob).find(tx.start_offset)
    saver = SaveDir(tmp_path / "caught-up")
    [replayed] = list(play_entries(bob, [entry], None, saver))
    assert replayed.path is not None and read_ogg_opus_packets(replayed.path) == values
