"""Signed transmissions and reactions against the real broker (protocol.md,
section 9; docs/security.md, section 5): forging a name, altering, adding or
dropping a frame, and replaying a record are each detected, in the timeline,
live, on replay and by the CLI."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from pathlib import Path

import pytest

from chok.channel.incoming import FrameCheck
from chok.channel.live import TalkEnded
from chok.channel.outgoing import OutgoingTransmission
from chok.channel.reactions import toggle_reaction
from chok.channel.replay import replay_frames
from chok.channel.session import ChannelSession, now_ms, open_session
from chok.channel.talk import Talker
from chok.channel.timeline import Entry, load_timeline
from chok.kafka.producer import RecordProducer
from chok.pki.signatures import Signer
from chok.protocol.reactions import ReactionRecord
from chok.protocol.signing import frames_digest
from chok.protocol.transmission import Transmission, build_transmission
from chok.provision import service
from tests.conftest import run_chok
from tests.integration.talk_helpers import Recorder, speech_packets, talk_packets

pytestmark = pytest.mark.broker

PACKETS = speech_packets()[:24]


def _produce(session: ChannelSession, topic: str, records: list) -> list[int]:  # type: ignore[type-arg]
    """Write records (key, value, headers) as this member; return their offsets."""
    producer = RecordProducer(session.creds)
    offsets: list[int] = []
    for key, value, headers in records:
        producer.produce(
            topic, key, value, headers,
            on_delivery=lambda d, _e: offsets.append(d.offset) if d else None,
        )  # fmt: skip
        producer.flush()
    return offsets


def _talk(session: ChannelSession, packets: tuple[bytes, ...] | list[bytes] = PACKETS):  # type: ignore[no-untyped-def]
    return talk_packets(session, packets, keep_silence=True)


def _hand_made(
    writer: ChannelSession,
    talker: str,
    packets: list[bytes],
    *,
    signer_session: ChannelSession | None = None,
    alter: int | None = None,
    drop: int | None = None,
) -> Transmission:
    """A transmission written as ``writer`` (whoever has write access), in the name
    of ``talker``, signed with ``signer_session``'s key (default: the writer's);
    frame ``alter`` is changed after signing and frame ``drop`` is never written."""
    security = (signer_session or writer).security
    tx_id = os.urandom(4).hex()
    out = OutgoingTransmission(security, talker, tx_id, 60)
    build = out.records()
    values = {seq: out.value(seq, packet) for seq, packet in enumerate(packets)}
    records = []
    for seq, value in values.items():
        record = build.frame(seq, value)
        if seq == drop:
            continue
        if seq == alter:
            value = value[:-1] + bytes([value[-1] ^ 0x55])
        records.append((record.key, value, record.headers))
    offsets = _produce(writer, writer.audio_topic, records)
    released = now_ms()
    end = build.end(values, len(packets), 60 * len(packets), released)
    _produce(writer, writer.audio_topic, [(end.key, end.value, end.headers)])
    tx = build_transmission(
        user=talker, channel=writer.number, start_offset=min(offsets),
        end_offset=max(offsets), timestamp_ms=released, tx_id=tx_id,
        frames=len(packets), duration_ms=60 * len(packets), frame_ms=60,
    )  # fmt: skip
    signed, key, value = build.transmission(tx, values)
    cert = build.cert()
    if cert is not None:
        _produce(writer, writer.metadata_topic, [(cert.key(), cert.der, None)])
    _produce(writer, writer.metadata_topic, [(key, value, None)])
    return signed


def _entry(reader: ChannelSession, start: int) -> Entry:
    return load_timeline(reader).find(start)


def _replayed(reader: ChannelSession, entry: Entry) -> str:
    check = FrameCheck()
    list(replay_frames(reader, entry.signed, check=check))
    return check.verdict(entry.authenticity, entry.signed).status


def _live_verdict(recorder: Recorder, tx_id: str) -> str | None:
    recorder.wait_for(lambda _events: recorder.ended(tx_id))
    ended = [e for e in recorder.events if isinstance(e, TalkEnded) and e.key == tx_id]
    verdict = ended[-1].authenticity
    return None if verdict is None else verdict.status


def test_a_signed_transmission_is_verified_in_the_timeline_live_and_on_replay(new_user) -> None:  # type: ignore[no-untyped-def]
    alice, bob = open_session(new_user("alice")), open_session(new_user("bob"))
    recorder = Recorder(bob).start()
    result = _talk(alice)
    assert _live_verdict(recorder, result.tx_id) == "verified"
    recorder.finish()
    entry = _entry(bob, result.transmission.start_offset)
    assert (entry.authenticity.status, entry.authenticity.signer) == ("verified", alice.user)
    assert _replayed(bob, entry) == "verified"


def test_a_member_writing_in_anothers_name_is_forged(new_user) -> None:  # type: ignore[no-untyped-def]
    alice, bob, carol = (open_session(new_user(n)) for n in ("alice", "bob", "carol"))
    recorder = Recorder(carol).start()
    forged = _hand_made(bob, alice.user, list(PACKETS))  # bob's key, alice's name
    assert _live_verdict(recorder, forged.tx_id or "") == "forged"
    recorder.finish()
    entry = _entry(carol, forged.start_offset)
    assert entry.transmission.user_id == alice.user
    assert entry.authenticity.status == "forged"
    assert entry.authenticity.reason == f"signed by {bob.user}, not {alice.user}"
    # The same claim without any signature is only "unsigned": not proof of anything.
    unsigned = dataclasses.replace(forged, sig=None, start_offset=forged.end_offset,
                                   message_count=1)  # fmt: skip
    _produce(bob, bob.metadata_topic, [(unsigned.key(), unsigned.to_value(), None)])
    assert _entry(carol, unsigned.start_offset).authenticity.status == "unsigned"


def test_an_altered_frame_is_detected_on_replay_and_live(new_user) -> None:  # type: ignore[no-untyped-def]
    alice, bob = open_session(new_user("alice")), open_session(new_user("bob"))
    recorder = Recorder(bob).start()
    # alice signed her frames; frame 5 was changed on its way to (or on) the broker
    tx = _hand_made(alice, alice.user, list(PACKETS), alter=5)
    assert _live_verdict(recorder, tx.tx_id or "") == "forged"
    recorder.finish()
    entry = _entry(bob, tx.start_offset)
    assert entry.authenticity.status == "verified"  # the record is hers...
    assert _replayed(bob, entry) == "forged"  # ...the audio is not what she signed


def test_a_dropped_frame_is_detected(new_user) -> None:  # type: ignore[no-untyped-def]
    alice, bob = open_session(new_user("alice")), open_session(new_user("bob"))
    tx = _hand_made(alice, alice.user, list(PACKETS), drop=7)
    assert _replayed(bob, _entry(bob, tx.start_offset)) == "forged"


def test_a_frame_added_by_another_member_is_detected(new_user) -> None:  # type: ignore[no-untyped-def]
    alice, bob, carol = (open_session(new_user(n)) for n in ("alice", "bob", "carol"))
    recorder = Recorder(carol).start()
    talker = Talker(alice)
    talker.suppress_silence = False
    for packet in PACKETS[:10]:
        talker.send_packet(packet)
    assert talker.delivery.wait_acknowledged(15)  # the first half is on the broker
    # bob slips a frame of his own into alice's transmission (her name, her id),
    # with a seq she has not used yet (she left silence out there, or not yet)
    forger = OutgoingTransmission(bob.security, alice.user, talker.tx_id, 60)
    injected = forger.records().frame(40, forger.value(40, PACKETS[3]))
    _produce(bob, bob.audio_topic, [(injected.key, injected.value[::-1], injected.headers)])
    for packet in PACKETS[10:]:
        talker.send_packet(packet)
    result = talker.end()
    assert _live_verdict(recorder, result.tx_id) == "forged"
    recorder.finish()
    entry = _entry(carol, result.transmission.start_offset)
    assert entry.authenticity.status == "verified"
    assert _replayed(carol, entry) == "forged"


def test_a_record_replayed_under_another_key_or_channel_is_forged(new_user) -> None:  # type: ignore[no-untyped-def]
    alice = open_session(new_user("alice", channels=[1, 2]))
    bob_profile = new_user("bob", channels=[1, 2])
    bob1, bob2 = open_session(bob_profile, 1), open_session(bob_profile, 2)
    tx = _talk(alice).transmission
    # 1. the same record under another key (it would take another transmission's place)
    moved = dataclasses.replace(
        tx, start_offset=tx.start_offset + 1, message_count=tx.message_count - 1
    )
    _produce(bob1, bob1.metadata_topic, [(moved.key(), moved.to_value(), None)])
    assert _entry(bob1, moved.start_offset).authenticity.reason == (
        "its signature does not match the record"
    )
    # 2. alice's frames sent again later, with her record pointing at the copies
    frames = []
    check_reader = bob1.audio_reader("copy")
    check_reader.assign(tx.start_offset)
    while len(frames) < tx.span:
        msg = check_reader.poll(5)
        assert msg is not None
        frames.append((msg.key(), msg.value(), msg.headers()))
    check_reader.close()
    offsets = _produce(bob1, bob1.audio_topic, frames)
    copied = dataclasses.replace(tx, start_offset=min(offsets), end_offset=max(offsets))
    _produce(bob1, bob1.metadata_topic, [(copied.key(), copied.to_value(), None)])
    assert _entry(bob1, copied.start_offset).authenticity.status == "forged"
    # 3. the record copied to another channel
    other = dataclasses.replace(tx, channel=2)
    _produce(bob2, bob2.metadata_topic, [(other.key(), other.to_value(), None)])
    assert _entry(bob2, other.start_offset).authenticity.status == "forged"
    # the original is still hers
    assert _entry(bob1, tx.start_offset).authenticity.status == "verified"


def test_reactions_are_signed_and_forged_ones_do_not_count(new_user) -> None:  # type: ignore[no-untyped-def]
    alice, bob = open_session(new_user("alice")), open_session(new_user("bob"))
    start = _talk(alice).transmission.start_offset
    assert toggle_reaction(alice, start, "🔥").reactions == {"🔥": [alice.user]}
    # bob takes alice's reaction back, and adds one in her name, with his key
    for emoji, on in (("🔥", False), ("👍", True)):
        record = ReactionRecord(bob.number, start, alice.user, emoji, on, now_ms())
        signed = bob.security.signer.sign_reaction(record)
        _produce(bob, bob.metadata_topic, [(signed.key(), signed.to_value(), None)])
    assert _entry(bob, start).reactions == {"🔥": [alice.user]}
    assert toggle_reaction(bob, start, "👍").reactions == {"👍": [bob.user], "🔥": [alice.user]}


def test_the_original_apps_rewrite_keeps_a_record_verified(new_user) -> None:  # type: ignore[no-untyped-def]
    alice, bob = open_session(new_user("alice")), open_session(new_user("bob"))
    tx = _talk(alice).transmission
    # The Android app reacts: it re-produces the record from its own model.
    rewrite = {
        "userId": tx.user_id, "channelId": tx.channel, "startOffset": tx.start_offset,
        "endOffset": tx.end_offset, "timestamp": tx.timestamp_ms,
        "messageCount": tx.message_count, "reactions": {"👍": ["dan"]},
    }  # fmt: skip
    _produce(bob, bob.metadata_topic, [(tx.key(), json.dumps(rewrite).encode(), None)])
    entry = _entry(bob, tx.start_offset)
    assert entry.transmission.sig is None and entry.authenticity.status == "verified"
    assert _replayed(bob, entry) == "verified"
    # chok reacting refreshes the map and puts the signature back (protocol.md 9.3)
    toggle_reaction(bob, tx.start_offset, "❤️")
    entry = _entry(bob, tx.start_offset)
    assert entry.transmission.sig is not None and entry.authenticity.status == "verified"
    # A rewrite that changes what was signed is forged.
    _produce(bob, bob.metadata_topic, [(tx.key(), json.dumps({**rewrite, "userId": bob.user})
                                        .encode(), None)])  # fmt: skip
    assert _entry(bob, tx.start_offset).authenticity.status == "forged"


def test_a_revoked_certificate_stops_verifying_but_its_past_stays(new_user) -> None:  # type: ignore[no-untyped-def]
    alice_profile = new_user("alice")
    alice, bob = open_session(alice_profile), open_session(new_user("bob"))
    before = _talk(alice).transmission
    old_cert = (alice_profile.path / "client.pem").read_bytes()
    old_key = (alice_profile.path / "client.key").read_bytes()
    service.rotate_user(alice.user)
    assert _entry(bob, before.start_offset).authenticity.status == "verified"
    # Someone who kept alice's old key signs a new transmission in her name.
    thief = Signer.from_pem(old_cert, old_key)
    stolen = copy.copy(bob.security)
    stolen.signer = thief
    tx_id = os.urandom(4).hex()
    out = OutgoingTransmission(stolen, alice.user, tx_id, 60)
    values = {seq: out.value(seq, packet) for seq, packet in enumerate(PACKETS)}
    offsets = _produce(bob, bob.audio_topic, [out.records().frame(s, v) for s, v in values.items()])
    tx = build_transmission(
        user=alice.user, channel=bob.number, start_offset=min(offsets), end_offset=max(offsets),
        timestamp_ms=now_ms(), tx_id=tx_id, frames=len(PACKETS), duration_ms=60 * len(PACKETS),
        frame_ms=60,
    )  # fmt: skip
    signed = thief.sign_transmission(tx, frames_digest(values))
    _produce(bob, bob.metadata_topic, [(signed.key(), signed.to_value(), None)])
    verdict = _entry(bob, signed.start_offset).authenticity
    assert (verdict.status, verdict.reason) == ("forged", "signed with a revoked certificate")


def test_the_cli_shows_marks_hides_forged_and_warns_on_play_and_export(
    new_user, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    alice_profile, bob_profile = new_user("alice"), new_user("bob")
    alice, bob = open_session(alice_profile), open_session(bob_profile)
    good = _talk(alice).transmission
    forged = _hand_made(bob, alice.user, list(PACKETS))
    altered = _hand_made(alice, alice.user, list(PACKETS), alter=2)
    env = {"CHOK_PROFILE": bob_profile.name}
    listed = run_chok("timeline", "--json", "--since", "all", env=env)
    assert listed.code == 0, listed.err
    verdicts = {e["id"]: e["authenticity"] for e in json.loads(listed.out)}
    assert verdicts[good.start_offset] == "verified"
    assert verdicts[forged.start_offset] == "forged"
    human = run_chok("timeline", "--since", "all", env=env)
    lines = {int(line.split()[0]): line for line in human.out.splitlines()[1:]}
    assert "\u2713" in lines[good.start_offset]
    assert forged.start_offset not in lines and "suspicious recording(s) hidden" in human.err
    shown = run_chok("timeline", "--since", "all", "--suspicious", env=env)
    assert "FORGED: signed by" in shown.out
    out = tmp_path / "forged.ogg"
    exported = run_chok("export", str(forged.start_offset), str(out), env=env)
    assert exported.code == 0 and out.exists()
    assert f"recording {forged.start_offset} is forged (signed by {bob.user}" in exported.err
    exported = run_chok("export", str(altered.start_offset), str(tmp_path / "a.ogg"), env=env)
    assert "its audio is not what the talker signed" in exported.err
    exported = run_chok("export", str(good.start_offset), str(tmp_path / "g.ogg"), env=env)
    assert exported.code == 0 and "forged" not in exported.err


def test_a_warm_cache_shows_verified_before_reading_anything(new_user) -> None:  # type: ignore[no-untyped-def]
    """The app shows its first screen from the timeline cache before asking the
    broker: the certificates read with that cache must be there too (they were
    not, and the family's first recordings showed as forged)."""
    from chok.channel import security
    from chok.channel.cache import TimelineCache
    from chok.channel.store import Store

    alice, bob_profile = open_session(new_user("alice")), new_user("bob")
    said = _talk(alice).transmission
    TimelineCache(open_session(bob_profile), Store.for_profile(bob_profile)).refresh()
    with security._REGISTRY_LOCK:  # as in another process: keys and trust from disk only
        security._REGISTRY.clear()
    later = open_session(bob_profile)
    cached = TimelineCache(later, Store.for_profile(bob_profile)).cached()
    entry = next(e for e in cached if e.id == said.start_offset)
    assert entry.authenticity.status == "verified", entry.authenticity.reason


def test_any_member_can_tombstone_anothers_recording(new_user) -> None:  # type: ignore[no-untyped-def]
    """What signatures cannot stop (docs/security.md S16): Kafka's ACLs do not
    look at keys, and a tombstone carries nothing to sign."""
    alice, bob = open_session(new_user("alice")), open_session(new_user("bob"))
    said = _talk(alice).transmission
    assert _entry(bob, said.start_offset).authenticity.verified
    _produce(bob, bob.metadata_topic, [(said.key(), None, None)])
    assert said.start_offset not in [e.id for e in load_timeline(alice).entries]
