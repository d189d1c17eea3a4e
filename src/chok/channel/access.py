"""Channels that reach people by themselves: the admin's access record.

``chok admin grant`` and ``deny`` write the person's channels to their
``chok-access-{user}`` topic, which only the admin writes and only that
person reads. chok reads it (``refresh``), keeps the latest in the profile's
Store, and uses its channels instead of the bundle's (``effective``). The
record only informs: the ACLs decide what the certificate may do, so a
forged or stale record can neither grant nor hide access.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time

from chok.channel.store import Store
from chok.errors import AccessDeniedError, ChokError, TopicMissingError
from chok.kafka.stream import BEGINNING, PartitionReader
from chok.profiles import Profile
from chok.protocol._util import loads_object
from chok.protocol.client_config import EXTRA_PRIVATE_CHANNELS
from chok.protocol.people import (
    ACCESS_KEY,
    FAMILY_PARTITION,
    AccessRecord,
    access_topic,
    parse_access,
    parse_access_record,
)

_INFO = "access"
_CHECKED = "access_checked_ms"
#: A command looks again when what it knows is older than this.
STALE_MS = 10 * 60 * 1000


def read_access(profile: Profile, timeout: float = 10.0) -> AccessRecord | None:
    """The newest access record of this person, or None if the admin wrote none."""
    topic = access_topic(profile.user)
    reader = PartitionReader(profile.credentials, profile.user, topic, FAMILY_PARTITION, "access")
    try:
        low, high = reader.watermarks(timeout)
        latest: AccessRecord | None = None
        if high > low:
            reader.assign(BEGINNING)
            deadline = time.monotonic() + timeout
            while not reader.at_end and time.monotonic() < deadline:
                for msg in reader.consume(100, 0.2):
                    if msg.key() == ACCESS_KEY:
                        parsed = parse_access_record(profile.user, msg.key(), msg.value())
                        latest = parsed or latest
                    if (msg.offset() or 0) + 1 >= high:
                        return latest
        return latest
    finally:
        reader.close()


def remember(store: Store, record: AccessRecord) -> bool:
    """Keep a newer access record; True if the channels changed."""
    before = cached(store)
    if before is not None and before.timestamp_ms > record.timestamp_ms:
        return False
    with store.write() as db:
        db.execute("INSERT OR REPLACE INTO info VALUES (?, ?)", (_INFO, record.to_value().decode()))
        db.execute("INSERT OR REPLACE INTO info VALUES (?, ?)", (_CHECKED, str(_now_ms())))
    return before is None or (before.channels, before.private) != (record.channels, record.private)


def cached(store: Store) -> AccessRecord | None:
    rows = store.query("SELECT value FROM info WHERE name=?", (_INFO,))
    if not rows:
        return None
    obj = loads_object(str(rows[0][0]))
    user = obj.get("user") if obj is not None else None
    return parse_access(user, obj) if obj is not None and isinstance(user, str) else None


def refresh(profile: Profile, store: Store) -> bool:
    """Read the access record from the broker; True if the channels changed.

    A cluster without family topics, or one that does not let this person
    read theirs, leaves the bundle's channels in place.
    """
    try:
        record = read_access(profile)
    except (TopicMissingError, AccessDeniedError):
        return False
    with store.write() as db:
        db.execute("INSERT OR REPLACE INTO info VALUES (?, ?)", (_CHECKED, str(_now_ms())))
    return record is not None and remember(store, record)


def refresh_if_stale(profile: Profile, store: Store) -> None:
    rows = store.query("SELECT value FROM info WHERE name=?", (_CHECKED,))
    if rows and _now_ms() - int(rows[0][0]) < STALE_MS:
        return
    with contextlib.suppress(ChokError):  # the broker is away: the channels known serve
        refresh(profile, store)


def effective(profile: Profile, store: Store | None) -> Profile:
    """The profile with the channels the admin says now (the bundle's if it said none)."""
    record = cached(store) if store is not None else None
    if record is None or record.user != profile.user or not record.channels:
        return profile
    # A channel the bundle or the admin's newest record calls private: chok must
    # never talk there in the clear.
    private = sorted(profile.config.private_channels | set(record.private))
    extras = {**profile.config.extras, EXTRA_PRIVATE_CHANNELS: private} if private else None
    config = dataclasses.replace(
        profile.config,
        channels=list(record.channels),
        extras=extras if extras is not None else profile.config.extras,
    )
    return Profile(profile.name, profile.path, config)


def _now_ms() -> int:
    return int(time.time() * 1000)
