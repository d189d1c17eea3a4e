"""Taking a transmission back, and the family archive, against the real broker."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import replace

import pytest
from confluent_kafka import Consumer, TopicPartition

from chok import pki, profiles
from chok.channel.archive import archive_channel, archived_packets, search
from chok.channel.cache import TimelineCache
from chok.channel.delete import delete_transmission
from chok.channel.replay import replay_frames
from chok.channel.session import ChannelSession, open_session
from chok.channel.store import Store
from chok.channel.timeline import load_timeline
from chok.errors import UsageError
from chok.protocol.client_config import ChannelConfig
from chok.protocol.transmission import REQUIRED_FIELDS
from tests.integration.talk_helpers import on_wire, speech_packets
from tests.integration.test_talk import _talk

pytestmark = pytest.mark.broker
_private = itertools.count(7000)  # hostile_helpers: 8000 on; gui conftest: 9000 on


def private_channel(*people: profiles.Profile) -> list[profiles.Profile]:
    """A channel of their own (its audio may be expired without disturbing others)."""
    from chok.provision import access, local
    from chok.provision.topics import channel_topics

    number = next(_private)
    admin, _ = local.admin_client()
    admin.create_topics(channel_topics(number))
    joined = []
    for person in people:
        cert = (person.path / person.config.client_cert_asset).read_bytes()
        admin.grant(access.channel_grants(access.principal_for(pki.common_name(cert)), number))
        config = replace(person.config, channels=[ChannelConfig.standard(number, "private")])
        joined.append(profiles.Profile(person.name, person.path, config))
    return joined


def original_app_view(session: ChannelSession, window_h: int = 24) -> dict[int, dict]:  # type: ignore[type-arg]
    """What the original app shows: every record parsed on its own, null values
    skipped, the latest per startOffset kept, the last ``window_h`` hours shown."""
    consumer = Consumer(
        {**session.creds.librdkafka(), "group.id": f"chok.{session.user}.orig",
         "enable.partition.eof": True}
    )  # fmt: skip
    consumer.assign([TopicPartition(session.metadata_topic, 0, 0)])
    latest: dict[int, dict] = {}  # type: ignore[type-arg]
    while True:
        msg = consumer.poll(10)
        assert msg is not None
        if msg.error():
            break  # the end of the partition
        if msg.value() is None:
            continue
        try:
            obj = json.loads(msg.value())
            if all(name in obj for name in REQUIRED_FIELDS):
                latest[int(obj["startOffset"])] = obj
        except (ValueError, TypeError):
            continue
    consumer.close()
    cutoff = time.time() * 1000 - window_h * 3600 * 1000
    return {start: obj for start, obj in latest.items() if obj["timestamp"] >= cutoff}


def test_taking_back_hides_it_from_chok_and_the_original_app(new_user) -> None:  # type: ignore[no-untyped-def]
    alice, bob = open_session(new_user("alice")), open_session(new_user("bob"))
    tx = _talk(alice, speech_packets()[:5]).transmission
    assert tx is not None
    from chok.channel.reactions import toggle_reaction

    toggle_reaction(bob, tx.start_offset, "👍")
    bob_cache = TimelineCache(bob, Store.for_profile(profiles.load(bob.profile_name)))
    bob_cache.refresh()
    assert tx.start_offset in {e.id for e in bob_cache.cached()}
    assert tx.start_offset in original_app_view(bob)

    with pytest.raises(UsageError, match="only your own"):
        delete_transmission(bob, tx.start_offset)
    deleted = delete_transmission(alice, tx.start_offset)
    assert deleted.reactions_removed == 1

    assert tx.start_offset not in {e.id for e in load_timeline(bob).entries}
    bob_cache.refresh()
    assert tx.start_offset not in {e.id for e in bob_cache.cached()}
    assert tx.start_offset not in original_app_view(bob)  # at once, not after compaction


def test_the_admin_takes_back_anyones(new_user) -> None:  # type: ignore[no-untyped-def]
    from chok.broker import config as broker_config
    from chok.broker import process
    from chok.pki.cluster import cluster_files

    alice = open_session(new_user("alice"))
    tx = _talk(alice, speech_packets()[:5]).transmission
    assert tx is not None
    settings = broker_config.load_settings()
    assert settings is not None
    admin = ChannelSession(
        "chok-admin", "admin", process.admin_credentials(settings, cluster_files()), alice.config
    )
    delete_transmission(admin, tx.start_offset, as_admin=True)
    assert tx.start_offset not in {e.id for e in load_timeline(alice).entries}


def test_archived_recordings_outlive_retention(new_user) -> None:  # type: ignore[no-untyped-def]
    from tests.gui.conftest import expire_audio

    ann, ben = private_channel(new_user("ann"), new_user("ben"))
    talk = open_session(ann)
    packets = speech_packets()[:12]
    first = _talk(talk, packets).transmission
    second = _talk(talk, packets[:4]).transmission
    assert first is not None and second is not None
    heard = [f.packet for f in replay_frames(talk, first)]
    store = Store.for_profile(ben)
    result = archive_channel(open_session(ben), store)
    assert result.archived == 2
    assert archive_channel(open_session(ben), store).archived == 0  # nothing twice

    expire_audio(talk)
    cache = TimelineCache(open_session(ben), store)
    cache.refresh()
    entry = next(e for e in cache.cached() if e.id == first.start_offset)
    assert not entry.audio_available and entry.archived
    assert [on_wire(p) for p in packets] == heard
    stored = archived_packets(store, entry)
    assert len(stored) == len(heard)
    assert [p for p, h in zip(stored, heard, strict=True) if h != b"\x00\x00"] == [
        h for h in heard if h != b"\x00\x00"
    ]
    found = search(store, [talk.number], user=ann.user.upper())
    assert [f.entry.id for f in found] == [second.start_offset, first.start_offset]
    assert all(f.path is not None and f.path.is_file() for f in found)
    assert search(store, [talk.number], user="nobody") == []
