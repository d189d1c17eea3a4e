"""Private channels against the real broker (protocol.md, section 10;
docs/security.md, section 5): usable by members in the CLI like an open channel,
unreadable with the cluster's super-user certificate, and unreadable to a
member removed from it for anything said afterwards, even with their old keys."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pytest
from confluent_kafka import Consumer, TopicPartition

from chok.broker import config as broker_config
from chok.broker import process
from chok.channel.incoming import AudioReader, FrameCheck, open_sealed
from chok.channel.live import TalkEnded
from chok.channel.reactions import toggle_reaction
from chok.channel.replay import replay_frames
from chok.channel.session import ChannelSession, open_session
from chok.channel.timeline import load_timeline
from chok.codec.opus import OpusDecoder
from chok.errors import ChokError
from chok.kafka.client import Credentials
from chok.pki.cluster import cluster_files
from chok.profiles import Profile
from chok.protocol.metadata import parse_metadata_record
from chok.protocol.sealed import SealedRecord, parse_sealed_frame
from chok.provision import service
from tests.conftest import run_chok
from tests.integration.talk_helpers import Recorder, on_wire, speech_packets, talk_packets

pytestmark = pytest.mark.broker

PACKETS = speech_packets()[:30]


def _talk(session: ChannelSession, packets=PACKETS):  # type: ignore[no-untyped-def]
    return talk_packets(session, packets)


def _raw(creds: Credentials, topic: str, start: int = 0) -> list:  # type: ignore[type-arg]
    """Every record of partition 0 from ``start`` to the end, read with ``creds``."""
    consumer = Consumer(
        {
            **creds.librdkafka(),
            "group.id": f"chok-admin.raw-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    consumer.assign([TopicPartition(topic, 0, start)])
    records = []
    while True:
        msg = consumer.poll(10)
        assert msg is not None, "no end of partition"
        if msg.error():
            break  # end of partition
        records.append(msg)
    consumer.close()
    return records


def _admin_creds() -> Credentials:
    settings = broker_config.load_settings()
    assert settings is not None
    return process.admin_credentials(settings, cluster_files())


def _member(new_user, number: int, prefix: str) -> tuple[Profile, ChannelSession]:  # type: ignore[no-untyped-def]
    profile = new_user(prefix, channels=[1, number])
    session = open_session(profile, number)
    assert session.private
    return profile, session


def test_members_talk_listen_replay_and_react_on_a_private_channel(
    new_user, sealed_channel
) -> None:  # type: ignore[no-untyped-def]
    number = sealed_channel()
    _, alice = _member(new_user, number, "alice")
    _, bob = _member(new_user, number, "bob")
    recorder = Recorder(bob).start()
    result = _talk(alice)
    tx = result.transmission
    recorder.wait_for(lambda _events: recorder.ended(result.tx_id))
    recorder.finish()
    live = [e.frame.packet for e in recorder.frames_of(result.tx_id) if not e.synthesized]
    assert live[: len(PACKETS)] == [on_wire(p) for p in PACKETS][: len(live)]
    assert len(live) >= len([p for p in PACKETS]) - 10  # silence runs are left out
    ended = [e for e in recorder.events if isinstance(e, TalkEnded) and e.key == result.tx_id]
    assert ended[0].authenticity is not None and ended[0].authenticity.verified

    entry = load_timeline(bob).find(tx.start_offset)
    assert (entry.transmission.user_id, entry.authenticity.status) == (alice.user, "verified")
    assert entry.epoch == 1
    check = FrameCheck()
    replayed = [
        f.packet for f in replay_frames(bob, entry.signed, check=check) if f.seq is not None
    ]
    assert [p for p in replayed if p != b"\x00\x00"] == [
        on_wire(p) for p in PACKETS if on_wire(p) != b"\x00\x00"
    ]
    assert check.verdict(entry.authenticity, entry.signed).status == "verified"
    assert toggle_reaction(bob, tx.start_offset, "🔥").reactions == {"🔥": [bob.user]}
    assert load_timeline(alice).find(tx.start_offset).reactions == {"🔥": [bob.user]}


def test_the_super_user_certificate_sees_only_ciphertext(new_user, sealed_channel) -> None:  # type: ignore[no-untyped-def]
    number = sealed_channel()
    _, alice = _member(new_user, number, "alice")
    _, bob = _member(new_user, number, "bob")
    result = _talk(alice)
    toggle_reaction(bob, result.transmission.start_offset, "👍")
    admin = _admin_creds()
    audio = _raw(admin, alice.audio_topic)
    frames = [m for m in audio if m.value()]
    assert len(frames) >= 10
    said, heard = OpusDecoder(), OpusDecoder()
    spoken, decoded = [], []
    for msg in frames:
        value = msg.value()
        sealed = parse_sealed_frame(msg.key(), value, msg.headers())
        assert sealed is not None  # every frame is sealed
        assert not any(p in value for p in PACKETS if len(p) >= 25)  # no packet said is in it
        # Decoded as Opus, not a single frame gives back what was said.
        packet = on_wire(PACKETS[sealed.seq])
        truth, attempt = said.decode(packet), heard.decode(value)
        if packet != b"\x00\x00":  # (silence is silence either way)
            assert attempt.size != truth.size or not np.array_equal(truth, attempt)
        spoken.append(truth[:2880])
        decoded.append(np.resize(attempt, 2880))
    speech, noise = np.concatenate(spoken).astype(float), np.concatenate(decoded).astype(float)
    if noise.std() > 0:
        assert abs(np.corrcoef(speech, noise)[0, 1]) < 0.2  # nothing like the speech
    metadata = _raw(admin, alice.metadata_topic)
    everything = b"".join((m.key() or b"") + (m.value() or b"") for m in metadata)
    assert b"userId" not in everything and b"chokReaction" not in everything
    assert "👍".encode() not in everything and b"f09f918d" not in everything
    sealed = [
        m for m in metadata if isinstance(parse_metadata_record(m.key(), m.value()), SealedRecord)
    ]
    assert len(sealed) == 2  # the transmission record and the reaction record


def test_a_denied_member_cannot_read_what_is_said_afterwards(new_user, sealed_channel) -> None:  # type: ignore[no-untyped-def]
    number = sealed_channel()
    _, alice = _member(new_user, number, "alice")
    bob_profile, bob = _member(new_user, number, "bob")
    before = _talk(alice).transmission
    assert load_timeline(bob).find(before.start_offset).authenticity.verified
    bob_keys = bob.security.epochs_newest_first()  # all bob ever held
    assert [epoch for epoch, _ in bob_keys] == [1]
    service.deny(bob.user, str(number))
    after = _talk(alice).transmission  # alice picks up the new epoch by herself
    assert load_timeline(alice).find(after.start_offset).epoch == 2
    # bob's old keys, against what the super user can read of the new transmission
    admin = _admin_creds()
    reader = AudioReader(bob.security)
    new_frames = _raw(admin, alice.audio_topic, after.start_offset)
    opened = [reader.read(m.key(), m.value(), m.headers()) for m in new_frames if m.value()]
    assert opened and all(r is not None and r.record is None for r in opened)
    records = [parse_metadata_record(m.key(), m.value()) for m in _raw(admin, alice.metadata_topic)]
    latest = [r for r in records if isinstance(r, SealedRecord) and r.key == after.key()]
    assert latest and open_sealed(bob.security, latest[-1]) is None
    # ...and bob's own client can no longer read the channel, nor holds a newer key
    with pytest.raises(ChokError):
        bob.refresh_keys()
    assert [epoch for epoch, _ in bob.security.epochs_newest_first()] == [1]
    # The earlier transmission is still readable by those who stayed.
    assert load_timeline(alice).find(before.start_offset).authenticity.verified
    del bob_profile


def test_rotation_and_revocation_start_new_epochs_and_keep_history(
    new_user, sealed_channel
) -> None:  # type: ignore[no-untyped-def]
    number = sealed_channel()
    alice_profile, alice = _member(new_user, number, "alice")
    _, bob = _member(new_user, number, "bob")
    first = _talk(alice).transmission
    bundle, _record = service.rotate_user(alice.user)
    from chok import profiles

    rotated = profiles.install(bundle, alice_profile.name, force=True)
    alice2 = open_session(rotated, number)
    # alice's new certificate holds every epoch: she reads her history...
    assert load_timeline(alice2).find(first.start_offset).authenticity.verified
    # ...and her old certificate's copies are gone; a new epoch began
    second = _talk(bob).transmission
    assert load_timeline(alice2).find(second.start_offset).epoch == 2
    service.revoke_user(bob.user)
    third = _talk(alice2).transmission
    assert load_timeline(alice2).find(third.start_offset).epoch == 3


def test_the_cli_on_a_private_channel(new_user, sealed_channel, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    number = sealed_channel()
    alice_profile, alice = _member(new_user, number, "alice")
    bob_profile, _bob = _member(new_user, number, "bob")
    speech = tmp_path / "hello.wav"
    from chok.codec import make_speech, write_wav

    write_wav(speech, make_speech("Hello on the secret channel."))
    talked = run_chok(
        "talk", "--channel", str(number), "--file", str(speech), "--fast", "--json",
        env={"CHOK_PROFILE": alice_profile.name},
    )  # fmt: skip
    assert talked.code == 0, talked.err
    bob_env = {"CHOK_PROFILE": bob_profile.name}
    listed = run_chok("timeline", "--channel", str(number), "--json", env=bob_env)
    assert listed.code == 0, listed.err
    (entry,) = json.loads(listed.out)
    assert (entry["user"], entry["authenticity"]) == (alice.user, "verified")
    out = tmp_path / "out.wav"
    exported = run_chok("export", str(entry["id"]), str(out), "--channel", str(number), env=bob_env)
    assert exported.code == 0 and out.stat().st_size > 40_000, exported.err
    reacted = run_chok("react", str(entry["id"]), "fire", "--channel", str(number), env=bob_env)
    assert reacted.code == 0, reacted.err
    listed = run_chok("timeline", "--channel", str(number), "--json", env=bob_env)
    assert json.loads(listed.out)[0]["reactions"] == {"🔥": [bob_profile.user]}


def test_android_assets_leave_private_channels_out(
    new_user, sealed_channel, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    number = sealed_channel()
    profile, _ = _member(new_user, number, "dana")
    result = run_chok("admin", "android-assets", profile.user, str(tmp_path / "assets"))
    assert result.code == 0, result.err
    assert f"left out private channel(s) {number}" in result.out
    config = json.loads((tmp_path / "assets" / "kafka_config.json").read_text())
    assert [c["channelNumber"] for c in config["channels"]] == [1]
    only_private = new_user("erin", channels=[number])
    refused = run_chok("admin", "android-assets", only_private.user, str(tmp_path / "x"))
    assert refused.code != 0 and "Android app can use" in refused.err


def test_a_private_channel_granted_later_arrives_private(new_user, sealed_channel) -> None:  # type: ignore[no-untyped-def]
    from chok.channel import access
    from chok.channel.store import Store

    number = sealed_channel()
    kim = new_user("kim", channels=[1])  # the bundle knows nothing of the channel
    assert number not in kim.config.private_channels
    store = Store.for_profile(kim)
    service.grant(kim.user, str(number))
    assert access.refresh(kim, store)
    effective = access.effective(kim, store)
    assert number in effective.config.private_channels
    assert open_session(effective, number).private  # never talks there in the clear
    service.deny(kim.user, str(number))
    assert access.refresh(kim, store)
    assert number not in [c.number for c in access.effective(kim, store).config.channels]


def test_the_timeline_cache_agrees_with_a_full_read(new_user, sealed_channel) -> None:  # type: ignore[no-untyped-def]
    """Verdicts, epochs and sealed reactions come out of the cache (cold, then a
    tail) exactly as from a full read of the partition."""
    from chok.channel.cache import TimelineCache
    from chok.channel.store import Store

    number = sealed_channel()
    _, alice = _member(new_user, number, "alice")
    bob_profile, bob = _member(new_user, number, "bob")
    first = _talk(alice).transmission

    def seen(entries):  # type: ignore[no-untyped-def]
        return sorted(
            (e.id, e.authenticity.status, e.epoch, e.reactions, e.transmission.user_id)
            for e in entries
        )

    cache = TimelineCache(bob, Store.for_profile(bob_profile))
    cold = cache.timeline().entries
    assert seen(cold) == seen(load_timeline(bob).entries)
    assert [e.authenticity.status for e in cold] == ["verified"]
    toggle_reaction(alice, first.start_offset, "🔥")
    second = _talk(alice).transmission
    warm_cache = TimelineCache(bob, Store.for_profile(bob_profile))
    assert warm_cache.refresh().full is None  # only the tail was read
    warm = warm_cache.cached()
    assert seen(warm) == seen(load_timeline(bob).entries)
    by_id = {e.id: e for e in warm}
    assert by_id[first.start_offset].reactions == {"🔥": [alice.user]}
    assert by_id[second.start_offset].epoch == 1
