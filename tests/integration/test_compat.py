"""Sharing a channel with the original Android app, and surviving malformed records."""

from __future__ import annotations

import json
import random

import pytest
from confluent_kafka import Consumer, TopicPartition

from chok.channel.reactions import toggle_reaction
from chok.channel.replay import replay_frames
from chok.channel.session import open_session
from chok.channel.timeline import load_timeline
from chok.codec.opus import OpusDecoder
from chok.kafka.producer import RecordProducer
from chok.protocol.transmission import REQUIRED_FIELDS
from tests.integration.talk_helpers import Recorder, on_wire, speech_packets
from tests.integration.test_talk import _talk

pytestmark = pytest.mark.broker


def _original_app_talks(session, packets, user_id="dan"):  # type: ignore[no-untyped-def]
    """Produce exactly what the original app writes: key user1, no headers, then its JSON."""
    producer = RecordProducer(session.creds)
    offsets: list[int] = []
    for packet in packets:
        producer.produce(
            session.audio_topic,
            b"user1",
            on_wire(packet),
            on_delivery=lambda d, e: offsets.append(d.offset) if d else None,
        )
    producer.flush()
    start, end = min(offsets), max(offsets)
    value = json.dumps(
        {
            "userId": user_id,
            "channelId": session.number,
            "startOffset": start,
            "endOffset": end,
            "timestamp": 1704825600000,
            "messageCount": end - start + 1,
            "reactions": {},
        },
        separators=(",", ":"),
    ).encode()
    producer.produce(session.metadata_topic, f"msg-{session.number}-{start}".encode(), value)
    producer.flush()
    return start


def test_chok_lists_plays_and_reacts_to_original_app_records(new_user) -> None:  # type: ignore[no-untyped-def]
    chok_user = open_session(new_user("kim"))
    packets = speech_packets("Hello from the phone.")
    start = _original_app_talks(chok_user, packets)
    entry = next(e for e in load_timeline(chok_user).entries if e.id == start)
    assert entry.transmission.user_id == "dan"
    assert entry.transmission.tx_id is None
    assert entry.transmission.duration_ms == 60 * len(packets)
    assert [f.packet for f in replay_frames(chok_user, entry.transmission)] == [
        on_wire(p) for p in packets
    ]
    result = toggle_reaction(chok_user, start, "❤️")
    assert result.reactions == {"❤️": [chok_user.user]}
    # The original app reads the map of the newest msg record: our name is in it.
    newest = load_timeline(chok_user).find(start).transmission
    assert dict(newest.reactions) == {"❤️": (chok_user.user,)}


def _raw_records(session, topic: str, start: int, count: int) -> list:  # type: ignore[no-untyped-def]
    consumer = Consumer(
        {
            **session.creds.librdkafka(),
            "group.id": f"chok.{session.user}.raw",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, 0, start)])
    out = []
    while len(out) < count:
        msg = consumer.poll(10)
        assert msg is not None and not msg.error()
        out.append(msg)
    consumer.close()
    return out


def test_original_app_parses_what_chok_writes(new_user) -> None:  # type: ignore[no-untyped-def]
    alice = open_session(new_user("alice"))
    packets = speech_packets()[:20]
    result = _talk(alice, packets)
    tx = result.transmission
    assert tx is not None
    # Its metadata parser: all required fields with the right JSON types.
    meta = [m for m in _raw_records(alice, alice.metadata_topic, 0, 1)]
    high = load_timeline(alice).metadata_end
    raw = _raw_records(alice, alice.metadata_topic, high - 1, 1)[0]
    obj = json.loads(raw.value())
    assert raw.key() == f"msg-{alice.number}-{tx.start_offset}".encode()
    for name in REQUIRED_FIELDS:
        assert name in obj
    assert isinstance(obj["userId"], str) and obj["channelId"] == alice.number
    assert obj["messageCount"] == obj["endOffset"] - obj["startOffset"] + 1
    assert obj["reactions"] == {}
    assert meta  # the topic is readable from the start
    # Its audio player: each value in the range decodes as plain Opus (or is 00 00);
    # the end marker has an empty value, which it ignores.
    records = _raw_records(alice, alice.audio_topic, tx.start_offset, len(packets) + 1)
    decoder = OpusDecoder()
    for msg in records[: len(packets)]:
        value = msg.value()
        assert value == b"\x00\x00" or decoder.decode(value).size == 2880
    assert records[len(packets)].value() in (b"", None)


def test_malformed_records_are_skipped_and_listening_goes_on(new_user) -> None:  # type: ignore[no-untyped-def]
    alice, bob = open_session(new_user("alice")), open_session(new_user("bob"))
    recorder = Recorder(bob).start()
    rng = random.Random(7)
    producer = RecordProducer(alice.creds)
    for index in range(200):
        value = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))
        # chok's own header with random bytes: bad versions, frame codes, huge seq jumps.
        size = rng.choice([8, 8, 7, 9])
        headers = [("chok", bytes(rng.getrandbits(8) for _ in range(size)))]
        producer.produce(
            alice.audio_topic, value[:10] or None, value, headers if index % 2 else None
        )
    bad_meta = [
        b"{not json",
        b"[]",
        b"null",
        json.dumps(
            {
                "userId": "x",
                "channelId": 1,
                "startOffset": 10**40,
                "endOffset": 1,
                "timestamp": 1,
                "messageCount": 1,
            }
        ).encode(),
        bytes(range(256)),
        b'{"userId":1}',
    ]
    for value in bad_meta:
        producer.produce(alice.metadata_topic, b"msg-1-5", value)
        producer.produce(alice.metadata_topic, b"chok-react-1-5-bob-f09f918d", value)
    producer.flush()
    packets = speech_packets()[:15]
    result = _talk(alice, packets)
    recorder.wait_for(lambda _e: recorder.ended(result.tx_id))
    recorder.finish()
    assert [f.frame.packet for f in recorder.frames_of(result.tx_id)] == [
        on_wire(p) for p in packets
    ]
    timeline = load_timeline(bob)
    assert result.transmission is not None
    assert timeline.find(result.transmission.start_offset).transmission.user_id == alice.user
