"""Channel topics (protocol.md, section 2)."""

from __future__ import annotations

from typing import Literal, NamedTuple, TypeGuard

from chok.errors import UsageError

from ._util import parse_decimal

MIN_CHANNEL = 1
MAX_CHANNEL = 2**31 - 1  # the original app holds channel numbers in a 32-bit Int

#: The only partition clients produce to and consume from, in both topics.
AUDIO_PARTITION = 0
METADATA_PARTITION = 0

AUDIO_TOPIC_PREFIX = "chok-audio-"
METADATA_TOPIC_PREFIX = "chok-metadata-"

TopicKind = Literal["audio", "metadata"]


class TopicRef(NamedTuple):
    """What a topic name says: which kind of topic of which channel."""

    kind: TopicKind
    channel: int


def is_channel_number(channel: object) -> TypeGuard[int]:
    return (
        isinstance(channel, int)
        and not isinstance(channel, bool)
        and MIN_CHANNEL <= channel <= MAX_CHANNEL
    )


def validate_channel_number(channel: object) -> int:
    """Return ``channel`` if it is a channel number (1..2147483647), else raise UsageError."""
    if not is_channel_number(channel):
        raise UsageError(
            f"invalid channel number {channel!r}: expected a whole number "
            f"from {MIN_CHANNEL} to {MAX_CHANNEL}"
        )
    return channel


def audio_topic(channel: int) -> str:
    """``chok-audio-{n}``."""
    return f"{AUDIO_TOPIC_PREFIX}{validate_channel_number(channel)}"


def metadata_topic(channel: int) -> str:
    """``chok-metadata-{n}``."""
    return f"{METADATA_TOPIC_PREFIX}{validate_channel_number(channel)}"


def parse_topic(name: object) -> TopicRef | None:
    """The channel topic that ``name`` names, or None if it is not one (exact match only)."""
    if not isinstance(name, str):
        return None
    kind: TopicKind
    if name.startswith(AUDIO_TOPIC_PREFIX):
        kind, rest = "audio", name[len(AUDIO_TOPIC_PREFIX) :]
    elif name.startswith(METADATA_TOPIC_PREFIX):
        kind, rest = "metadata", name[len(METADATA_TOPIC_PREFIX) :]
    else:
        return None
    channel = parse_decimal(rest, MAX_CHANNEL)
    if channel is None or channel < MIN_CHANNEL:
        return None
    return TopicRef(kind, channel)
