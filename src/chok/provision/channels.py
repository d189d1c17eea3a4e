"""The admin's use cases about channels: creating them at init, adding one,
and granting or denying one to a person (the rules of every change are in
provision.changes)."""

from __future__ import annotations

from dataclasses import dataclass

from chok.errors import UsageError
from chok.provision import registry, trust
from chok.provision.backend import Backend, open_backend
from chok.provision.changes import active_user, exclusive, principal_of, settle
from chok.provision.publish import publish_access

MAX_CHANNELS = 50
MAX_CHANNEL_NAME = 64


@dataclass(frozen=True)
class InitResult:
    backend: str
    bootstrap: str
    channels: list[registry.ChannelRecord]
    topics_created: list[str]
    broker_started: bool
    channels_fit: int | None
    notes: list[str]


@dataclass(frozen=True)
class ChannelsResult:
    channels: list[registry.ChannelRecord]
    topics_created: list[str]


def check_channel_count(count: int) -> None:
    if not 1 <= count <= MAX_CHANNELS:
        raise UsageError(f"--channels must be between 1 and {MAX_CHANNELS}, not {count}")


def check_backend(reg: registry.Registry, wanted: str) -> None:
    if reg.channels and reg.backend != wanted:
        raise UsageError(
            f"this CHOK_HOME already provisions a {reg.backend} cluster",
            hint=f"use another CHOK_HOME for the {wanted} backend",
        )


def create_channels(reg: registry.Registry, backend: Backend, count: int) -> ChannelsResult:
    """Make sure channels 1..count exist (topics and names); keep existing ones."""
    settle(reg, backend)
    created: list[str] = []
    for number in range(1, count + 1):
        created += backend.ensure_channel(number)
        if reg.channel(number) is None:
            name = registry.DEFAULT_CHANNEL_NAMES.get(number, f"Channel {number}")
            reg.channels.append(registry.ChannelRecord(number, name))
            # Saved per channel: a later failure keeps what was already made.
            registry.save(reg)
    registry.save(reg)
    return ChannelsResult(sorted(reg.channels, key=lambda c: c.number), created)


def list_channels() -> list[tuple[registry.ChannelRecord, list[str]]]:
    """Each channel with the names of its (not revoked) members."""
    reg = registry.load()
    result = []
    for channel in sorted(reg.channels, key=lambda c: c.number):
        members = sorted(
            u.name for u in reg.users if channel.number in u.channels and not u.revoked
        )
        result.append((channel, members))
    return result


@exclusive
def add_channel(name: str, private: bool = False) -> tuple[registry.ChannelRecord, list[str]]:
    """A new channel with the next free number; nobody is a member yet.

    A private channel gets its first epoch key at once (protocol.md, 10.1).
    """
    name = name.strip()
    if not name or len(name) > MAX_CHANNEL_NAME or not name.isprintable():
        raise UsageError(f"a channel name is 1 to {MAX_CHANNEL_NAME} printable characters")
    if name.isdigit():
        raise UsageError("a channel name cannot be only digits (those are channel numbers)")
    reg = registry.load()
    if any(c.name.lower() == name.lower() for c in reg.channels):
        raise UsageError(f"there is already a channel named '{name}'")
    backend = open_backend(reg)
    if private and backend.publisher() is None:
        raise UsageError(
            f"private channels are not available on {backend.name}: Aiven issues every "
            "person's key, so it could read them",
            hint="use the local or kafka backend (see docs/security.md)",
        )
    settle(reg, backend)
    number = reg.next_channel_number()
    created = backend.ensure_channel(number)
    channel = registry.ChannelRecord(number, name, private)
    reg.channels.append(channel)
    registry.save(reg)
    if private:
        trust.sync_private_channel(reg, backend, number)
    return channel, created


@exclusive
def grant(name: str, channel_ref: str) -> tuple[registry.UserRecord, registry.ChannelRecord]:
    reg = registry.load()
    record = active_user(reg, name)
    channel = reg.find_channel(channel_ref)
    backend = open_backend(reg)
    settle(reg, backend)
    backend.grant(principal_of(record), record.name, [channel.number])
    record.channels = sorted({*record.channels, channel.number})
    registry.save(reg)
    settle(reg, backend)  # a private channel: the new member gets its keys
    publish_access(reg, backend, record)
    return record, channel


@exclusive
def deny(name: str, channel_ref: str) -> tuple[registry.UserRecord, registry.ChannelRecord]:
    reg = registry.load()
    record = active_user(reg, name)
    channel = reg.find_channel(channel_ref)
    if record.channels == [channel.number]:
        raise UsageError(
            f"channel {channel.number} is {name}'s only channel",
            hint=f"to shut them out entirely: `chok admin revoke-user {name}`",
        )
    backend = open_backend(reg)
    settle(reg, backend)
    backend.deny(principal_of(record), record.name, [channel.number])
    record.channels = [n for n in record.channels if n != channel.number]
    registry.save(reg)
    settle(reg, backend)  # a private channel: a new epoch without them
    publish_access(reg, backend, record)
    return record, channel
