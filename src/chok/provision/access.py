"""What each person may do on the cluster: chok's least-privilege ACLs.

A member of channel n may READ, WRITE and DESCRIBE exactly the two topics of
that channel; nothing on the cluster itself, no CREATE/DELETE/ALTER anywhere.
Consumer groups: chok itself never joins a group (it assigns partitions), but
librdkafka still looks up a group coordinator, so each person gets their own
group prefix ``chok.<name>.`` (a dot never occurs in a name, so one person's
prefix never covers another's). The original Android app creates fresh groups
named ``chat-group-<ms>``, ``timeline-<ms>`` and ``timeline-playback-<ms>``:
members get READ/DESCRIBE on those prefixes so that app works too.
"""

from __future__ import annotations

from chok.kafka.admin import Grant
from chok.protocol.topics import audio_topic, metadata_topic

TOPIC_OPERATIONS = ("READ", "WRITE", "DESCRIBE")
GROUP_OPERATIONS = ("READ", "DESCRIBE")
ORIGINAL_APP_GROUP_PREFIXES = ("chat-group-", "timeline-")


def group_prefix(user: str) -> str:
    return f"chok.{user}."


def channel_grants(user: str, channel: int) -> list[Grant]:
    return [
        Grant(user, "topic", topic, op)
        for topic in (audio_topic(channel), metadata_topic(channel))
        for op in TOPIC_OPERATIONS
    ]


def group_grants(user: str) -> list[Grant]:
    prefixes = (group_prefix(user), *ORIGINAL_APP_GROUP_PREFIXES)
    return [
        Grant(user, "group", prefix, op, prefixed=True)
        for prefix in prefixes
        for op in GROUP_OPERATIONS
    ]


def user_grants(user: str, channels: list[int]) -> list[Grant]:
    grants = group_grants(user)
    for channel in channels:
        grants += channel_grants(user, channel)
    return grants
