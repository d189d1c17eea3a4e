"""The family's topics and what the admin writes there (protocol.md, section 11).

Per person, two compacted topics of one partition:

- ``chok-person-{user}``: written by that person only (their presence, display
  name and heard ranges), read by the whole family (a prefixed READ ACL on
  ``chok-person-``). Kafka stamps its records with the broker's clock
  (``LogAppendTime``), so "last seen" does not depend on a person's clock.
- ``chok-access-{user}``: written by the admin only, read by that person only:
  the channels they may use now, so a grant or a denial reaches their chok
  without a new bundle.

Presence and heard records never touch a channel's metadata partition: a
timeline load reads exactly what it read before.

The admin writes a person's access record on every change of their channels,
and their profile record when it gives them a display name. Re-running
``chok admin init`` brings an older cluster up to date (``upgrade``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from chok.errors import TopicMissingError
from chok.kafka.acls import Grant
from chok.kafka.admin import Admin, TopicSpec
from chok.kafka.records import Record, write_records
from chok.protocol.client_config import ChannelConfig
from chok.protocol.people import (
    ACCESS_KEY,
    PERSON_TOPIC_PREFIX,
    PRESENCE_KEY,
    PROFILE_KEY,
    AccessRecord,
    PersonProfile,
    Presence,
    access_topic,
    person_topic,
)
from chok.protocol.topics import metadata_topic
from chok.provision.topics import METADATA_CONFIG

HOUR_MS = 3600 * 1000
FAMILY_TOPIC_CONFIG = {
    "cleanup.policy": "compact",
    # Heartbeats pile up until their segment is rolled and cleaned: within an
    # hour or so only the newest of each key is left.
    "segment.ms": str(HOUR_MS),
    "max.compaction.lag.ms": str(HOUR_MS),
    "min.cleanable.dirty.ratio": "0.1",
    "delete.retention.ms": str(24 * HOUR_MS),
}
PERSON_TOPIC_CONFIG = {**FAMILY_TOPIC_CONFIG, "message.timestamp.type": "LogAppendTime"}
FAMILY_OPERATIONS = ("READ", "DESCRIBE")


def family_topics(user: str, replication: int = 1) -> list[TopicSpec]:
    return [
        TopicSpec(person_topic(user), 1, replication, dict(PERSON_TOPIC_CONFIG)),
        TopicSpec(access_topic(user), 1, replication, dict(FAMILY_TOPIC_CONFIG)),
    ]


def family_grants(principal: str, user: str) -> list[Grant]:
    """A person writes their own person topic, reads everyone's, and reads their
    access topic (which only the admin writes)."""
    own = person_topic(user)
    return [
        Grant(principal, "topic", own, "WRITE"),
        *(Grant(principal, "topic", PERSON_TOPIC_PREFIX, op, prefixed=True)
          for op in FAMILY_OPERATIONS),
        *(Grant(principal, "topic", access_topic(user), op) for op in FAMILY_OPERATIONS),
    ]  # fmt: skip


def _now_ms() -> int:
    return int(time.time() * 1000)


def access_record(
    user: str, channels: Sequence[ChannelConfig], private: Sequence[int] = ()
) -> Record:
    record = AccessRecord(user, tuple(channels), _now_ms(), tuple(sorted(private)))
    return access_topic(user), ACCESS_KEY, record.to_value()


def profile_record(user: str, display_name: str) -> Record:
    return person_topic(user), PROFILE_KEY, PersonProfile(user, display_name, _now_ms()).to_value()


def removed_record(user: str) -> Record:
    """Presence "removed": a revoked person leaves the family's member lists."""
    presence = Presence(user, "removed", _now_ms())
    return person_topic(user), PRESENCE_KEY, presence.to_value()


class FamilyAdmin:
    """The family's topics and records, through Kafka's Admin API and a producer
    with the admin's own credentials."""

    def __init__(self, admin: Admin, replication: int = 1) -> None:
        self.admin = admin
        self.replication = replication

    def ensure_topics(self, users: Iterable[str]) -> list[str]:
        specs = [spec for user in users for spec in family_topics(user, self.replication)]
        return self.admin.create_topics(specs)

    def write(self, records: Sequence[Record], created: Iterable[str] = ()) -> None:
        """Write records to family topics; TopicMissingError at once for a topic that
        is not there (a producer would wait half a minute for it to appear).

        ``created``: topics just made, which the brokers' metadata may not show
        for a moment yet (the producer waits for them)."""
        existing = {*self.admin.topics(), *created}
        missing = sorted({topic for topic, _, _ in records if topic not in existing})
        if missing:
            raise TopicMissingError(
                f"the cluster has no topic {missing[0]} yet",
                hint="run `chok admin init` again: it upgrades the cluster",
            )
        write_records(self.admin.client_conf, records)

    def upgrade_channels(self, channels: Iterable[int]) -> None:
        """Give existing metadata topics the compaction settings deletion relies on."""
        for number in channels:
            self.admin.alter_topic_config(metadata_topic(number), METADATA_CONFIG)
