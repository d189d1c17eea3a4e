"""One person on one channel: whom to connect as, which topics."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from chok.channel.resend import resume_outbox
from chok.channel.security import ChannelSecurity, security_for
from chok.kafka.client import Credentials
from chok.kafka.producer import OUTBOX_PRODUCER_SETTINGS, RecordProducer
from chok.kafka.stream import REPLAY_READER_SETTINGS, PartitionReader, live_batch_settings
from chok.profiles import Profile
from chok.protocol.client_config import ChannelConfig


@dataclass(frozen=True)
class ChannelSession:
    user: str
    profile_name: str
    creds: Credentials
    config: ChannelConfig
    live_batch_ms: int = 0  # live frames fetched in batches (hosted plans); 0: at once
    #: A private channel (protocol.md, section 10): nothing is sent in the clear.
    private: bool = False
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
        settings = {
            "live": live_batch_settings(self.live_batch_ms),
            "replay": REPLAY_READER_SETTINGS,
        }.get(purpose)
        extra = {**(settings or {}), **(extra or {})}
        return PartitionReader(
            self.creds, self.user, self.audio_topic, self.config.audio_partition, purpose, extra
        )

    def metadata_reader(self, purpose: str) -> PartitionReader:
        return PartitionReader(
            self.creds, self.user, self.metadata_topic, self.config.metadata_partition, purpose
        )

    @cached_property
    def security(self) -> ChannelSecurity:
        """This person's signing key and trust on this channel (shared in the process)."""
        return security_for(self.creds, self.number, self.private)

    def refresh_keys(self) -> None:
        """Read the channel's new certificates, revocations and epoch keys."""
        self.security.refresh(lambda: self.metadata_reader("trust"))

    def producer(self) -> RecordProducer:
        """A producer that connects in the background (see RecordProducer.connect):
        making it never waits for the broker, and what it is given waits in
        librdkafka's queue, for as long as it takes, until the broker is there."""
        producer = RecordProducer(self.creds, OUTBOX_PRODUCER_SETTINGS)
        producer.warm_up(self.audio_topic)
        return producer


def open_session(
    profile: Profile,
    channel: int | None = None,
    live_batch_ms: int | None = None,
    display_name: str | None = None,
) -> ChannelSession:
    """A session on one of the profile's channels, live batching as the bundle says
    unless given; what an earlier chok left in this profile's outbox starts going
    out in the background (channel/resend.py). ``display_name``: the talker's,
    written into transmission records (chokName)."""
    batch = profile.config.live_batch_ms if live_batch_ms is None else live_batch_ms
    config = profile.channel(channel)
    private = config.number in profile.config.private_channels
    session = ChannelSession(
        profile.user, profile.name, profile.credentials, config, batch, private, display_name
    )
    resume_outbox(profile.name, profile.credentials)
    return session


def now_ms() -> int:
    return int(time.time() * 1000)
