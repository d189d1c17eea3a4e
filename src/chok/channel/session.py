"""One person on one channel: whom to connect as, which topics."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from chok.channel.resend import resume_outbox
from chok.kafka.client import Credentials
from chok.kafka.stream import OUTBOX_PRODUCER_SETTINGS, PartitionReader, RecordProducer
from chok.profiles import Profile
from chok.protocol.client_config import ChannelConfig


@dataclass(frozen=True)
class ChannelSession:
    user: str
    profile_name: str
    creds: Credentials
    config: ChannelConfig
    # The talker's display name, written into transmission records (chokName).
    display_name: str | None = None

    @property
    def number(self) -> int:
        return self.config.number

    @property
    def audio_topic(self) -> str:
        return self.config.audio_topic

    @property
    def metadata_topic(self) -> str:
        return self.config.metadata_topic

    def audio_reader(self, purpose: str, extra: dict[str, Any] | None = None) -> PartitionReader:
        return PartitionReader(
            self.creds, self.user, self.audio_topic, self.config.audio_partition, purpose, extra
        )

    def metadata_reader(self, purpose: str) -> PartitionReader:
        return PartitionReader(
            self.creds, self.user, self.metadata_topic, self.config.metadata_partition, purpose
        )

    def producer(self) -> RecordProducer:
        """A producer that connects in the background (see RecordProducer.connect):
        making it never waits for the broker, and what it is given waits in
        librdkafka's queue, for as long as it takes, until the broker is there."""
        producer = RecordProducer(self.creds, OUTBOX_PRODUCER_SETTINGS)
        producer.warm_up(self.audio_topic)
        return producer


def open_session(
    profile: Profile, channel: int | None = None, display_name: str | None = None
) -> ChannelSession:
    """A session on one of the profile's channels; what an earlier chok left in
    this profile's outbox starts going out in the background (channel/resend.py)."""
    session = ChannelSession(
        profile.user, profile.name, profile.credentials, profile.channel(channel), display_name
    )
    resume_outbox(profile.name, profile.credentials)
    return session


def now_ms() -> int:
    return int(time.time() * 1000)
