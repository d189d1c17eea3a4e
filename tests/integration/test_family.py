"""The family's features against the real broker: presence, display names,
heard-by, channels that reach people by themselves."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import pytest

from chok import profiles
from chok.channel import access, family
from chok.channel.cache import TimelineCache
from chok.channel.family_service import FamilyService
from chok.channel.session import open_session
from chok.channel.store import Store
from chok.protocol.bundle import read_bundle
from chok.provision import service
from tests.integration.talk_helpers import speech_packets
from tests.integration.test_talk import _talk
from tests.provision_helpers import wait_until

pytestmark = pytest.mark.broker
_numbers = itertools.count()
MakeUser = Callable[..., profiles.Profile]


@pytest.fixture
def person(cluster) -> MakeUser:  # type: ignore[no-untyped-def]
    """Factory: a provisioned person (optionally with a display name), joined here."""

    def make(
        prefix: str, display_name: str | None = None, channels: list[int] | None = None
    ) -> profiles.Profile:
        name = f"{prefix}{next(_numbers)}f"
        bundle, _ = service.add_user(name, channels, False, display_name=display_name)
        return profiles.install(read_bundle(bundle.to_zip()), name, force=True)

    return make


def test_a_display_name_reaches_the_bundle_and_the_family(person: MakeUser) -> None:
    jo = person("jo", display_name="Grandma  Jo")
    assert jo.config.extras["chokDisplayName"] == "Grandma Jo"  # spaces collapsed
    emilie = person("emilie")
    store = Store.for_profile(emilie)
    assert family.refresh_family(emilie.credentials, emilie.user, store)
    assert family.display_names(store)[jo.user] == "Grandma Jo"
    listed = {m.user: m for m in family.members(store)}
    assert listed[jo.user].online is False and listed[jo.user].last_seen_ms is None


def test_presence_online_then_offline_with_last_seen(person: MakeUser) -> None:
    mum, dad = person("mum", "Mum"), person("dad")
    watcher = Store.for_profile(dad)
    service_ = FamilyService(mum, Store.for_profile(mum), heartbeat_ms=1000).start()
    began = int(time.time() * 1000)
    try:

        def mum_online() -> bool:
            family.refresh_family(dad.credentials, dad.user, watcher)
            return {m.user: m.online for m in family.members(watcher)}.get(mum.user, False)

        wait_until(mum_online, 30, "mum online for dad")
        # Heartbeats keep her online past 2.5 beats.
        time.sleep(3)  # three heartbeats of 1 s must have been written meanwhile
        assert mum_online()
    finally:
        service_.stop()
    family.refresh_family(dad.credentials, dad.user, watcher)
    seen = {m.user: m for m in family.members(watcher)}[mum.user]
    assert seen.online is False
    assert seen.last_seen_ms is not None and seen.last_seen_ms >= began - 5000


def test_heard_by_after_a_replay_and_live(person: MakeUser) -> None:
    ann, ben, cat = person("ann"), person("ben"), person("cat")
    talk = open_session(ann)
    result = _talk(talk, speech_packets()[:10])
    tx = result.transmission
    assert tx is not None
    hearer = FamilyService(ben, Store.for_profile(ben), announce=False).start()
    try:
        hearer.heard(tx.channel, tx.start_offset, tx.end_offset)
    finally:
        hearer.stop()  # writes what is pending before it ends
    live = FamilyService(cat, Store.for_profile(cat), announce=False).start()
    try:
        hearing = live.live(tx.channel)
        hearing.tuned_in(tx.start_offset - 1 if tx.start_offset else 0)
        hearing.heard_until(tx.end_offset + 1)
    finally:
        live.stop()
    store = Store.for_profile(ann)
    assert family.refresh_family(ann.credentials, ann.user, store)
    index = family.heard_index(store, tx.channel)
    assert index.heard_by(tx.start_offset, tx.end_offset, talker=ann.user) == [ben.user, cat.user]


def test_heard_records_never_touch_the_metadata_partition(person: MakeUser) -> None:
    ann, ben = person("ann"), person("ben")
    talk = open_session(ann)
    reader = talk.metadata_reader("count")
    try:
        _, before = reader.watermarks()
        service_ = FamilyService(ben, Store.for_profile(ben), heartbeat_ms=1000).start()
        service_.heard(talk.number, 0, 10)
        time.sleep(3)  # heartbeats and a heard record are written meanwhile
        service_.stop()
        _, after = reader.watermarks()
    finally:
        reader.close()
    assert after == before


def test_a_granted_channel_reaches_the_person_without_a_new_bundle(person: MakeUser) -> None:
    kim = person("kim", channels=[1])
    assert [c.number for c in kim.config.channels] == [1]
    store = Store.for_profile(kim)
    service.grant(kim.user, "2")
    assert access.refresh(kim, store)
    assert [c.number for c in access.effective(kim, store).config.channels] == [1, 2]
    open_session(access.effective(kim, store), 2)  # usable at once: the ACLs are there
    service.deny(kim.user, "2")
    assert access.refresh(kim, store)
    assert [c.number for c in access.effective(kim, store).config.channels] == [1]


def test_the_app_service_sees_a_grant_within_seconds(person: MakeUser) -> None:
    lea = person("lea", channels=[1])
    changes: list[set[str]] = []
    store = Store.for_profile(lea)
    service_ = FamilyService(lea, store, on_change=changes.append, announce=False).start()
    try:
        wait_until(lambda: access.cached(store) is not None, 30, "the first access record")
        told = len([c for c in changes if "access" in c])
        service.grant(lea.user, "2")
        wait_until(lambda: len([c for c in changes if "access" in c]) > told, 30, "the grant")
    finally:
        service_.stop()
    assert [c.number for c in access.effective(lea, store).config.channels] == [1, 2]


def test_a_person_cannot_write_anothers_presence(person: MakeUser) -> None:
    from chok.errors import AccessDeniedError
    from chok.kafka.producer import RecordProducer
    from chok.protocol.people import Presence, person_topic

    eve, bob = person("eve"), person("bob")
    producer = RecordProducer(eve.credentials)
    fake = Presence(bob.user, "online", int(time.time() * 1000))
    producer.produce(person_topic(bob.user), b"presence", fake.to_value())
    with pytest.raises(AccessDeniedError):
        producer.flush(15)


def test_cache_equals_a_full_read_after_new_records(person: MakeUser) -> None:
    from chok.channel.reactions import toggle_reaction
    from chok.channel.timeline import load_timeline

    ann, ben = person("ann"), person("ben")
    a, b = open_session(ann), open_session(ben)
    first = _talk(a, speech_packets()[:5]).transmission
    assert first is not None
    cache = TimelineCache(b, Store.for_profile(ben))
    cache.refresh()
    second = _talk(a, speech_packets()[:5]).transmission
    assert second is not None
    toggle_reaction(b, first.start_offset, "🔥")
    cache.refresh()
    cached = {e.id: e for e in cache.cached()}
    full = {e.id: e for e in load_timeline(b).entries}
    assert cached.keys() == full.keys()
    assert cached[first.start_offset].reactions == {"🔥": [ben.user]}
    for key, entry in full.items():
        assert cached[key].transmission == entry.transmission
        assert cached[key].reactions == entry.reactions


def test_init_again_upgrades_a_cluster_provisioned_before(monkeypatch, cluster) -> None:  # type: ignore[no-untyped-def]
    from chok.errors import TopicMissingError
    from chok.protocol.people import access_topic, person_topic
    from chok.provision import local
    from tests.provision_helpers import unique

    # A person provisioned by a chok without family topics.
    monkeypatch.setattr(service, "set_up_family", lambda reg, backend, records: [])
    name = unique("old")
    bundle, _ = service.add_user(name, [1], False)
    monkeypatch.undo()
    old = profiles.install(read_bundle(bundle.to_zip()), name, force=True)
    store = Store.for_profile(old)
    with pytest.raises(TopicMissingError):
        access.read_access(old)
    # Works as before (the ACLs; a new bundle tells the channels), and does not
    # fail waiting for an access topic that is not there.
    service.grant(name, "2")

    result = local.init([], 2, lambda _line: None)
    assert {person_topic(name), access_topic(name)} <= set(result.topics_created)
    assert access.refresh(old, store)
    assert [c.number for c in access.effective(old, store).config.channels] == [1, 2]
    assert family.refresh_family(old.credentials, old.user, store)
