"""What each person may do on the cluster: chok's least-privilege ACLs.

A member of channel n may READ, WRITE and DESCRIBE exactly the two topics of
that channel; nothing on the cluster itself, no CREATE/DELETE/ALTER anywhere.
Consumer groups: chok itself never joins a group (it assigns partitions), but
librdkafka still looks up a group coordinator, so each person gets their own
group prefix ``chok.<name>.`` (a dot never occurs in a name, so one person's
prefix never covers another's). The original Android app creates fresh groups
named ``chat-group-<ms>``, ``timeline-<ms>`` and ``timeline-playback-<ms>``:
members get READ/DESCRIBE on those prefixes so that app works too.

Principals and certificate generations: Kafka authorizes the principal taken
from the certificate's CN, and it cannot check revocation lists (its PEM trust
store has no CRLs). So every certificate generation of a person gets its own
principal: ``alice`` for the first, ``alice.2`` after one rotation, and so on.
Rotating or revoking deletes the ACLs of the old principal, which makes the
old certificate worthless at once although it still passes the handshake.
"""

from __future__ import annotations

from chok.errors import UsageError
from chok.kafka.acls import Grant
from chok.protocol.names import consumer_group_prefix
from chok.protocol.topics import audio_topic, metadata_topic

TOPIC_OPERATIONS = ("READ", "WRITE", "DESCRIBE")
GROUP_OPERATIONS = ("READ", "DESCRIBE")
ORIGINAL_APP_GROUP_PREFIXES = ("chat-group-", "timeline-")
# An X.509 common name holds at most 64 characters; ".99999" must still fit.
MAX_PROVISIONED_NAME = 58
DEFAULT_PRINCIPAL_FORMAT = "{cn}"


def common_name(user: str, generation: int) -> str:
    """The certificate CN of a user's certificate generation (1, 2, ...)."""
    if generation < 1:
        raise ValueError("generations start at 1")
    return user if generation == 1 else f"{user}.{generation}"


def check_provisionable(user: str) -> None:
    """The admin's rules for new names, stricter than the protocol's (3.1): a
    name also becomes a file name (NAME.chok) and a command-line argument."""
    if user.startswith("-"):
        raise UsageError(
            f"a user name cannot start with '-' ({user!r} would read as an option "
            "in commands and file names)",
            hint="start it with a letter or a digit",
        )
    if len(user) > MAX_PROVISIONED_NAME:
        raise UsageError(
            f"user name '{user[:20]}...' is too long for a certificate: "
            f"use at most {MAX_PROVISIONED_NAME} characters"
        )


def principal_for(cn: str, principal_format: str = DEFAULT_PRINCIPAL_FORMAT) -> str:
    """The Kafka principal name (without ``User:``) a cluster derives from a CN.

    chok's broker maps ``CN=alice,O=chok`` to ``alice``; a cluster with
    Kafka's default mapping uses the whole DN, ``CN=alice,O=chok``.
    """
    return principal_format.format(cn=cn)


def group_prefix(user: str) -> str:
    return consumer_group_prefix(user)


def channel_grants(principal: str, channel: int) -> list[Grant]:
    return [
        Grant(principal, "topic", topic, op)
        for topic in (audio_topic(channel), metadata_topic(channel))
        for op in TOPIC_OPERATIONS
    ]


def group_grants(principal: str, user: str) -> list[Grant]:
    prefixes = (group_prefix(user), *ORIGINAL_APP_GROUP_PREFIXES)
    return [
        Grant(principal, "group", prefix, op, prefixed=True)
        for prefix in prefixes
        for op in GROUP_OPERATIONS
    ]


def user_grants(principal: str, channels: list[int], user: str | None = None) -> list[Grant]:
    """Every ACL a user's principal needs: their group prefixes, the family's
    topics (provision.family) and their channels."""
    from chok.provision.family import family_grants

    grants = group_grants(principal, user or principal) + family_grants(
        principal, user or principal
    )
    for channel in channels:
        grants += channel_grants(principal, channel)
    return grants
