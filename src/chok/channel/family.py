"""The family: who is in it, their display names, who is online, who heard what.

Read from every ``chok-person-{user}`` topic this person may see (the admin
grants the family READ on them all) and kept in the profile's Store, so that
the next read starts where the last one ended. Nothing here touches a
channel's metadata partition.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import TIMESTAMP_LOG_APPEND_TIME, Message

from chok import profiles
from chok.channel import access
from chok.channel.store import Store
from chok.errors import AccessDeniedError, KafkaTimeoutError, TopicMissingError
from chok.kafka.admin import Admin
from chok.kafka.client import Credentials
from chok.kafka.multi import MultiPartitionReader
from chok.kafka.producer import RecordProducer
from chok.kafka.stream import PartitionReader
from chok.profiles import Profile
from chok.protocol.heard import HeardIndex, HeardRecord, Range
from chok.protocol.people import (
    FAMILY_PARTITION,
    PROFILE_KEY,
    PersonProfile,
    Presence,
    access_topic,
    is_display_name,
    parse_access_record,
    parse_person_record,
    person_of_topic,
    person_topic,
    validate_display_name,
)

# Someone idle is still read this rarely: each person's fetch waits this long
# on the broker when nothing is new (the idle traffic of a listening family).
IDLE_FETCH_WAIT_MS = 60_000
FAMILY_READER = {"fetch.wait.max.ms": IDLE_FETCH_WAIT_MS, "socket.timeout.ms": 90_000}


@dataclass(frozen=True)
class Member:
    user: str
    display_name: str | None
    online: bool
    last_seen_ms: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "display_name": self.display_name,
            "online": self.online,
            "last_seen_ms": self.last_seen_ms,
        }


class FamilyMissing(TopicMissingError):
    """The cluster has no family topics (provisioned by an older chok, or Aiven)."""


def person_topics(creds: Credentials) -> list[str]:
    """The family's person topics this certificate may read."""
    topics = Admin(creds, timeout=10).topics()
    return sorted(t for t in topics if person_of_topic(t) is not None)


# -- the Store's family tables ---------------------------------------------------------


def apply_messages(store: Store, messages: list[Message]) -> set[str]:
    """Fold records of person topics into the Store, in one transaction; return
    what changed: "members" (presence, names), "heard"."""
    changed: set[str] = set()
    if not messages:
        return changed
    with store.write() as db:
        for msg in messages:
            user = person_of_topic(msg.topic())
            if user is not None:
                changed.add(_apply(db, user, msg))
    changed.discard("")
    return changed


def _apply(db: Any, user: str, msg: Message) -> str:
    kind, stamp = msg.timestamp()
    db.execute(
        "INSERT OR REPLACE INTO person_position VALUES (?, ?)", (user, (msg.offset() or 0) + 1)
    )
    db.execute("INSERT OR IGNORE INTO person (user) VALUES (?)", (user,))
    record = parse_person_record(user, msg.key(), msg.value())
    if isinstance(record, Presence):
        seen = stamp if kind == TIMESTAMP_LOG_APPEND_TIME else record.timestamp_ms
        db.execute(
            "UPDATE person SET state=?, seen_ms=?, heartbeat_ms=? WHERE user=?",
            (record.state, seen, record.heartbeat_ms, user),
        )
        return "members"
    if isinstance(record, PersonProfile):
        db.execute("UPDATE person SET display_name=? WHERE user=?", (record.display_name, user))
        return "members"
    if isinstance(record, HeardRecord):
        db.execute(
            "INSERT OR REPLACE INTO heard VALUES (?, ?, ?, ?)",
            (user, record.channel, record.block, json.dumps(record.ranges)),
        )
        return "heard"
    return ""


def members(store: Store, now_ms: int | None = None) -> list[Member]:
    """Everyone of the family, by user name; the people the admin removed left out."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    result = []
    rows = store.query("SELECT user, display_name, state, seen_ms, heartbeat_ms FROM person")
    for user, name, state, seen, every in sorted(rows):
        if state == "removed":
            continue
        online = False
        if state is not None and seen is not None and every:
            online = Presence(user, state, seen, every).online(now, seen)
        result.append(Member(user, name, online, seen))
    return result


def display_names(store: Store) -> dict[str, str]:
    rows = store.query("SELECT user, display_name FROM person WHERE display_name IS NOT NULL")
    return {str(user): str(name) for user, name in rows}


class Names:
    """How chok shows a person: the display name from their own topic, else the
    one a record carried (``chokName``), else the user name. Raw text: show it
    through ``protocol.people.shown``."""

    def __init__(self, names: dict[str, str] | None = None) -> None:
        self.names = names or {}

    @classmethod
    def of_store(cls, store: Store) -> Names:
        return cls(display_names(store))

    def of(self, user: str, recorded: str | None = None) -> str:
        return self.names.get(user) or recorded or user

    def display(self, user: str) -> str | None:
        return self.names.get(user)


def own_display_name(store: Store | None, user: str, chosen: object, bundle: object) -> str | None:
    """This person's display name: what their topic says, else what they chose on
    this machine, else the bundle's."""
    topic = display_names(store).get(user) if store is not None else None
    for candidate in (topic, chosen, bundle):
        if isinstance(candidate, str) and is_display_name(candidate):
            return candidate
    return None


def heard_index(store: Store, channel: int) -> HeardIndex:
    by_user: dict[str, list[Range]] = {}
    for user, ranges in store.query("SELECT user, ranges FROM heard WHERE channel=?", (channel,)):
        by_user.setdefault(user, []).extend((a, b) for a, b in json.loads(ranges))
    return HeardIndex(by_user)


def heard_ranges(store: Store, user: str, channel: int, block: int) -> tuple[Range, ...]:
    rows = store.query(
        "SELECT ranges FROM heard WHERE user=? AND channel=? AND block=?", (user, channel, block)
    )
    return tuple((a, b) for a, b in json.loads(rows[0][0])) if rows else ()


def remember_heard(store: Store, records: Iterable[HeardRecord]) -> None:
    """What this person just wrote about themselves, before reading it back."""
    with store.write() as db:
        db.executemany(
            "INSERT OR REPLACE INTO heard VALUES (?, ?, ?, ?)",
            [(r.user, r.channel, r.block, json.dumps(r.ranges)) for r in records],
        )


# -- reading the person topics -------------------------------------------------------------


class FamilyReader:
    """Reads the person topics from where the Store left off (one consumer for all)."""

    def __init__(
        self,
        creds: Credentials,
        user: str,
        store: Store,
        long_poll: bool = False,
        watch_access: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.creds, self.user, self.store = creds, user, store
        # Watching (the app, `listen`): each fetch waits on the broker while
        # nothing is new. Reading once (`who`): fetches answer at once.
        self._extra = {**(FAMILY_READER if long_poll else {}), **(extra or {})}
        self._access = access_topic(user) if watch_access else None
        self.topics: list[str] = []
        self._reader: MultiPartitionReader | None = None

    def open(self, lister: Callable[[], Iterable[str]] | None = None) -> None:
        """Find the family's topics and start reading them; raises FamilyMissing.

        ``lister`` names the topics this person may see (default: a new admin
        client; a running service asks over a connection it already has)."""
        visible = set(lister() if lister is not None else Admin(self.creds, timeout=10).topics())
        self.topics = sorted(t for t in visible if person_of_topic(t) is not None)
        if self._access is not None and self._access in visible:
            self.topics.append(self._access)  # read from its start each time: one record
        if not any(person_of_topic(t) for t in self.topics):
            raise FamilyMissing(
                "this cluster has no family topics yet",
                hint="ask your admin to run `chok admin init` again (it upgrades the cluster)",
            )
        self.close()
        with self.store.write() as db:  # everyone is listed, even before their first word
            db.executemany(
                "INSERT OR IGNORE INTO person (user) VALUES (?)",
                [(person_of_topic(t),) for t in self.topics],
            )
        positions = dict(self.store.query("SELECT user, next_offset FROM person_position"))
        self._reader = MultiPartitionReader(self.creds, self.user, "family", self._extra)
        places = [
            (topic, FAMILY_PARTITION, int(positions.get(person_of_topic(topic), 0)))
            for topic in self.topics
        ]
        self._reader.assign(places)

    @property
    def is_open(self) -> bool:
        return self._reader is not None

    def poll(self, timeout: float, batch: int = 500) -> set[str]:
        """Apply what arrives within ``timeout``; return what changed
        ("members", "heard", "access")."""
        if self._reader is None:
            self.open()
        assert self._reader is not None
        messages: list[Message] = []
        msg = self._reader.poll(timeout)
        while msg is not None:
            messages.append(msg)
            msg = self._reader.poll(0) if len(messages) < batch else None
        changed = apply_messages(self.store, [m for m in messages if m.topic() != self._access])
        for msg in messages:
            if msg.topic() == self._access:
                record = parse_access_record(self.user, msg.key(), msg.value())
                if record is not None and access.remember(self.store, record):
                    changed.add("access")
        return changed

    @property
    def caught_up(self) -> bool:
        reader = self._reader
        return reader is not None and len(reader.at_end) >= len(self.topics)

    def refresh(self, timeout: float = 15.0) -> None:
        """Read every person topic to its end, then stop."""
        try:
            self.open()
            deadline = time.monotonic() + timeout
            while not self.caught_up:
                if time.monotonic() > deadline:
                    raise KafkaTimeoutError("reading the family's topics: no answer in time")
                self.poll(0.2)
        finally:
            self.close()

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def refresh_own(creds: Credentials, user: str, store: Store, timeout: float = 10.0) -> None:
    """Read this person's own topic to its end (what they wrote from elsewhere)."""
    rows = store.query("SELECT next_offset FROM person_position WHERE user=?", (user,))
    reader = PartitionReader(creds, user, person_topic(user), FAMILY_PARTITION, "family")
    try:
        _, high = reader.watermarks(timeout)
        start = int(rows[0][0]) if rows else 0
        if high <= start:
            return
        reader.assign(start)
        deadline = time.monotonic() + timeout
        messages: list[Message] = []
        while (not messages or (messages[-1].offset() or 0) + 1 < high) and not reader.at_end:
            if time.monotonic() > deadline:
                raise KafkaTimeoutError("reading your own family topic: no answer in time")
            messages += reader.consume(500, 0.2)
        apply_messages(store, messages)
    finally:
        reader.close()


def refresh_family(creds: Credentials, user: str, store: Store) -> bool:
    """Bring the Store's family tables up to date; False where the cluster has
    no family topics or does not let this person read them."""
    try:
        FamilyReader(creds, user, store).refresh()
    except (FamilyMissing, AccessDeniedError):
        return False
    return True


# -- this person's own display name ---------------------------------------------------------

CHOSEN_NAME_KEY = "display_name"  # kept per profile in chok's state file


def display_name_of(profile: Profile, store: Store | None) -> str | None:
    return own_display_name(
        store,
        profile.user,
        profiles.recall(profile.name, CHOSEN_NAME_KEY),
        profile.config.extras.get("chokDisplayName"),
    )


def set_display_name(profile: Profile, store: Store, name: str) -> str:
    """Tell the family this person's new display name (their own topic), and keep it."""
    name = validate_display_name(name)
    record = PersonProfile(profile.user, name, int(time.time() * 1000))
    producer = RecordProducer(profile.credentials)
    producer.produce(person_topic(profile.user), PROFILE_KEY, record.to_value(), partition=0)
    producer.flush()
    profiles.remember(profile.name, CHOSEN_NAME_KEY, name)
    with store.write() as db:
        db.execute("INSERT OR IGNORE INTO person (user) VALUES (?)", (profile.user,))
        db.execute("UPDATE person SET display_name=? WHERE user=?", (name, profile.user))
    return name
