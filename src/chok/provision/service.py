"""The admin's use cases, the same on every backend: people, channels, bundles.

Concurrency: every change holds the admin lock (``<CHOK_HOME>/.admin.lock``)
from reading the registry to writing it, so two admin commands at once run
one after the other and never lose each other's users.

Failure safety: the registry is saved only after the cluster accepted a
change, except for access that may have to be taken back, which is written
down first (as a pending revocation) and then carried out; every later
command retries a pending revocation. So an interrupted rotate or revoke
never leaves an old certificate working, and a new person exists entirely
(bundle written, access granted, listed) or not at all: the bundle is staged
before the cluster is touched, and a failure after that takes the new
certificate's access away again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, Protocol, TypeVar

from chok import pki
from chok.errors import ChokError, ConfigError, TopicMissingError, UsageError
from chok.home import locked
from chok.kafka.client import Credentials
from chok.kafka.records import Record
from chok.pki.cluster import ADMIN_PRINCIPAL, BROKER_PRINCIPAL, cluster_files
from chok.protocol.bundle import Bundle
from chok.protocol.client_config import (
    EXTRA_LIVE_BATCH_MS,
    EXTRA_PRIVATE_CHANNELS,
    ChannelConfig,
    ClientConfig,
)
from chok.protocol.names import validate_user_name
from chok.protocol.people import validate_display_name
from chok.provision import access, registry, trust, userkeys
from chok.provision.backend import Backend, open_backend
from chok.provision.family import access_record, profile_record, removed_record

RESERVED_NAMES = {ADMIN_PRINCIPAL, BROKER_PRINCIPAL, "ANONYMOUS", "user1", "avnadmin"}
MAX_CHANNELS = 50
MAX_CHANNEL_NAME = 64
LIVE_BATCH_SETTING = "live_batch_ms"

P = ParamSpec("P")
R = TypeVar("R")


def exclusive(change: Callable[P, R]) -> Callable[P, R]:
    """Run an admin change under the admin lock (reentrant: changes may nest)."""

    @functools.wraps(change)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with locked("admin"):
            return change(*args, **kwargs)

    return run


class BundleSink(Protocol):
    """Where a new person's bundle goes: staged before any change, then committed."""

    def stage(self, bundle: Bundle) -> None:
        """Write the bundle next to its final place (raise if that cannot be done)."""
        ...

    def commit(self) -> None:
        """Put the staged bundle in its final place."""
        ...

    def discard(self) -> None:
        """Remove what was staged or committed (the change did not happen)."""
        ...


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


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def check_channel_count(count: int) -> None:
    if not 1 <= count <= MAX_CHANNELS:
        raise UsageError(f"--channels must be between 1 and {MAX_CHANNELS}, not {count}")


def check_backend(reg: registry.Registry, wanted: str) -> None:
    if reg.channels and reg.backend != wanted:
        raise UsageError(
            f"this CHOK_HOME already provisions a {reg.backend} cluster",
            hint=f"use another CHOK_HOME for the {wanted} backend",
        )


def settle(reg: registry.Registry, backend: Backend) -> None:
    """Carry out revocations that an earlier, interrupted command left pending,
    then publish what trust needs: signed revocations of the certificates they
    retired, and private channels' keys for exactly their current members."""
    while reg.pending_revocations:
        backend.revoke(reg.pending_revocations[0])
        reg.pending_revocations.pop(0)
        registry.save(reg)
    trust.sync_all(reg, backend)


def _retire_certificate(reg: registry.Registry, cert_pem: bytes | None) -> None:
    """Remember to publish the revocation of a certificate (protocol.md 9.7)."""
    if cert_pem is None:
        return  # the admin's copy is gone: it was retired already
    fp = trust.cert_fingerprint(cert_pem)
    if fp not in reg.pending_cert_revocations:
        reg.pending_cert_revocations.append(fp)


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


def principal_of(record: registry.UserRecord) -> str:
    return record.principal or record.name


def _record(
    name: str, numbers: list[int], identity_cert: bytes, principal: str, generation: int
) -> registry.UserRecord:
    return registry.UserRecord(
        name=name,
        channels=numbers,
        created=_now(),
        cert_expires=pki.expiry(identity_cert).isoformat(timespec="seconds"),
        cert_serial=format(pki.load_cert(identity_cert).serial_number, "x"),
        generation=generation,
        principal=principal,
    )


def _checked_channels(
    reg: registry.Registry, channels: list[int] | None, fallback: list[int]
) -> list[int]:
    numbers = sorted(set(channels or fallback))
    unknown = [n for n in numbers if reg.channel(n) is None]
    if unknown:
        raise UsageError(
            f"no channel {unknown[0]}", hint="see `chok admin list-channels` or `add-channel`"
        )
    return numbers


@exclusive
def add_user(
    name: str,
    channels: list[int] | None,
    force: bool,
    sink: BundleSink | None = None,
    display_name: str | None = None,
) -> tuple[Bundle, registry.UserRecord]:
    """Give a new person a certificate and access; with force, start them afresh.

    With a ``sink``, the bundle is written there as part of the change: if it
    cannot be written, nobody was created. ``display_name``: what the family
    sees (kept from before when not given).
    """
    name = validate_user_name(name)
    if display_name is not None:
        display_name = validate_display_name(display_name)
    if name in RESERVED_NAMES:
        raise UsageError(f"'{name}' is reserved by chok: choose another name")
    access.check_provisionable(name)
    reg = registry.load()
    if not reg.channels:
        raise ConfigError("no channels yet", hint="run `chok admin init` first")
    existing = reg.user(name)
    if existing is not None and not force:
        raise UsageError(
            f"user '{name}' already exists",
            hint="use `--force` to issue a new certificate for them",
        )
    fallback = existing.channels if existing else [c.number for c in reg.channels]
    numbers = _checked_channels(reg, channels, fallback)
    backend = open_backend(reg)
    settle(reg, backend)
    generation = 1 if existing is None else existing.generation + 1
    shown_as = display_name or (existing.display_name if existing is not None else "")
    bundle, record = _issue(reg, backend, name, generation, numbers, existing, sink, shown_as)
    try:
        set_up_family(reg, backend, [record])
    except ChokError as exc:
        raise type(exc)(
            f"{name} was added, but their family topics are not ready: {exc.message}",
            hint="run `chok admin init` again: it sets them up",
        ) from exc
    return bundle, record


def _issue(
    reg: registry.Registry,
    backend: Backend,
    name: str,
    generation: int,
    numbers: list[int],
    previous: registry.UserRecord | None,
    sink: BundleSink | None,
    display_name: str = "",
) -> tuple[Bundle, registry.UserRecord]:
    """Issue a certificate generation, grant it, and retire the previous one."""
    identity = backend.issue(name, generation)  # on Aiven, a service user: undone below
    kept_key = userkeys.load_if_any(name)
    try:
        record = _record(name, numbers, identity.issued.cert_pem, identity.principal, generation)
        record.display_name = display_name
        if previous is not None:
            record.created = previous.created
            record.rotated_at = _now()
        bundle = bundle_for(reg, record, identity.issued)
        if sink is not None:
            sink.stage(bundle)
        # Written down before access exists: if this command dies from here
        # on, the next admin command takes that access away again.
        reg.pending_revocations.append(identity.principal)
        registry.save(reg)
        backend.grant(identity.principal, name, numbers)
        userkeys.save(name, identity.issued)
        if sink is not None:
            sink.commit()
        reg.pending_revocations.remove(identity.principal)
        if previous is not None and not previous.revoked:
            reg.pending_revocations.append(principal_of(previous))
            _retire_certificate(reg, kept_key.cert_pem if kept_key is not None else None)
        reg.put_user(record)
        registry.save(reg)
    except BaseException:
        if sink is not None:
            sink.discard()
        userkeys.restore(name, kept_key)
        _undo_grant(backend, identity.principal)
        raise
    try:
        settle(reg, backend)
    except ChokError as exc:
        raise type(exc)(
            f"{name}'s new certificate is ready (`chok admin get-bundle {name}`), "
            f"but the old one is not revoked yet: {exc.message}",
            hint="run the command again to retry the revocation",
        ) from exc
    return bundle, record


def _undo_grant(backend: Backend, principal: str) -> None:
    """Take a half-made person's access away again (best effort: what cannot be
    done now stays a pending revocation that the next admin command carries out)."""
    with contextlib.suppress(ChokError):
        backend.revoke(principal)
        reg = registry.load()
        if principal in reg.pending_revocations:
            reg.pending_revocations.remove(principal)
            registry.save(reg)


@exclusive
def rotate_user(name: str, sink: BundleSink | None = None) -> tuple[Bundle, registry.UserRecord]:
    """A new certificate (and principal) for a person; the old one stops working."""
    reg = registry.load()
    record = reg.require_user(validate_user_name(name))
    if record.revoked:
        raise UsageError(
            f"{name} was revoked", hint=f"to let them back in: `chok admin add-user {name} --force`"
        )
    return add_user(name, record.channels, force=True, sink=sink)


def get_bundle(
    name: str, rotate: bool = False, sink: BundleSink | None = None
) -> tuple[Bundle, registry.UserRecord]:
    """A person's bundle again, with their current certificate (or a new one)."""
    if rotate:
        return rotate_user(name, sink)
    reg = registry.load()
    record = reg.require_user(validate_user_name(name))
    if record.revoked:
        raise UsageError(
            f"{name} was revoked: their old bundle no longer works",
            hint=f"to let them back in: `chok admin add-user {name} --force`",
        )
    bundle = make_bundle(reg, record)
    if sink is not None:
        sink.stage(bundle)
        sink.commit()
    return bundle, record


@exclusive
def revoke_user(name: str) -> registry.UserRecord:
    """Take every access away from a person, at once."""
    reg = registry.load()
    record = reg.require_user(validate_user_name(name))
    backend = open_backend(reg)
    if not record.revoked:
        record.revoked, record.revoked_at = True, _now()
        # Written down before it is done: an interruption is retried later.
        reg.pending_revocations.append(principal_of(record))
        kept = userkeys.load_if_any(record.name)
        _retire_certificate(reg, kept.cert_pem if kept is not None else None)
        registry.save(reg)
    settle(reg, backend)
    userkeys.delete(record.name)
    family = backend.family()
    if family is not None:
        # A cluster not upgraded yet has no family topics: nothing to mark there.
        with contextlib.suppress(TopicMissingError):
            family.write([removed_record(record.name)])
    return record


def list_users() -> list[registry.UserRecord]:
    return sorted(registry.load().users, key=lambda u: u.name)


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


def _active_user(reg: registry.Registry, name: str) -> registry.UserRecord:
    record = reg.require_user(validate_user_name(name))
    if record.revoked:
        raise UsageError(f"{name} was revoked", hint=f"`chok admin add-user {name} --force` first")
    return record


@exclusive
def grant(name: str, channel_ref: str) -> tuple[registry.UserRecord, registry.ChannelRecord]:
    reg = registry.load()
    record = _active_user(reg, name)
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
    record = _active_user(reg, name)
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


def server_ca_pem(reg: registry.Registry) -> bytes:
    """The CA certificate people use to verify the brokers (no network needed)."""
    path = Path(reg.settings.get("server_ca") or cluster_files().ca_cert)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the cluster's CA certificate {path}") from exc


def client_config(reg: registry.Registry, record: registry.UserRecord, chok: bool) -> ClientConfig:
    """kafka_config.json for a person; without chok's extras for the original app."""
    channels, private = [], []
    for number in record.channels:
        channel = reg.channel(number)
        if channel is None or (channel.private and not chok):
            continue  # the original app cannot read a private channel
        channels.append(ChannelConfig.standard(number, channel.name))
        if channel.private:
            private.append(number)
    if not channels:
        why = " the Android app can use (the others are private)" if not chok else ""
        raise ConfigError(
            f"{record.name} belongs to no channel{why}", hint="`chok admin grant` one"
        )
    extras: dict[str, object] = {"chokUser": record.name, "chokVersion": 1} if chok else {}
    if private:
        extras[EXTRA_PRIVATE_CHANNELS] = private
    if chok and record.display_name:
        extras["chokDisplayName"] = record.display_name
    batch = int(reg.settings.get(LIVE_BATCH_SETTING) or 0)
    if chok and batch > 0:
        extras[EXTRA_LIVE_BATCH_MS] = batch
    return ClientConfig(broker_url=reg.bootstrap, channels=channels, extras=extras)


def set_live_batch(batch_ms: int) -> None:
    """Bundles made from now on fetch live frames in batches (0: at once)."""
    reg = registry.load()
    reg.settings[LIVE_BATCH_SETTING] = batch_ms
    registry.save(reg)


def bundle_ca_pem(reg: registry.Registry) -> bytes:
    """ca.pem of a chok bundle: the CA that issued people's certificates first,
    then the brokers' CA when that is another one (kafka backend with chok's CA).

    librdkafka trusts every certificate in the file; chok checks on joining
    that the person's certificate comes from the first.
    """
    server = server_ca_pem(reg)
    issuer_path = reg.settings.get("ca_cert")
    if not issuer_path:
        return server
    try:
        issuer = Path(issuer_path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the CA certificate {issuer_path}") from exc
    return server if issuer.strip() in server else issuer.rstrip() + b"\n" + server


def make_bundle(reg: registry.Registry, record: registry.UserRecord) -> Bundle:
    return bundle_for(reg, record, userkeys.load(record.name))


def bundle_for(reg: registry.Registry, record: registry.UserRecord, issued: pki.Issued) -> Bundle:
    config = client_config(reg, record, chok=True)
    return Bundle(config, bundle_ca_pem(reg), issued.cert_pem, issued.key_pem)


# -- the family's topics (provision.family) -------------------------------------------


def _channel_configs(reg: registry.Registry, record: registry.UserRecord) -> list[ChannelConfig]:
    return [
        ChannelConfig.standard(number, channel.name)
        for number in record.channels
        if (channel := reg.channel(number)) is not None
    ]


def _access_record(reg: registry.Registry, record: registry.UserRecord) -> Record:
    configs = _channel_configs(reg, record)
    private = [c.number for c in configs if (ch := reg.channel(c.number)) and ch.private]
    return access_record(record.name, configs, private)


def publish_access(reg: registry.Registry, backend: Backend, record: registry.UserRecord) -> None:
    """Tell a person which channels they may use now (read by their chok).

    On a cluster not upgraded yet (no family topics) the person learns it from
    a new bundle, as before: `chok admin init` upgrades it."""
    family = backend.family()
    if family is not None:
        with contextlib.suppress(TopicMissingError):
            family.write([_access_record(reg, record)])


def set_up_family(
    reg: registry.Registry, backend: Backend, records: list[registry.UserRecord]
) -> list[str]:
    """Each person's two family topics, their access record and their display
    name; returns the topics created. Does nothing where the backend cannot."""
    family = backend.family()
    if family is None or not records:
        return []
    created = family.ensure_topics(r.name for r in records)
    writes = [_access_record(reg, r) for r in records]
    writes += [profile_record(r.name, r.display_name) for r in records if r.display_name]
    family.write(writes, created=created)
    return created


def upgrade(reg: registry.Registry, backend: Backend) -> list[str]:
    """Bring a cluster provisioned by an older chok up to date (re-running
    `chok admin init` does it): family topics and ACLs for every active person,
    and the metadata topics' compaction settings for deletion."""
    family = backend.family()
    if family is None:
        return []
    active = [u for u in reg.users if not u.revoked]
    for record in active:
        backend.grant(principal_of(record), record.name, [])
    family.upgrade_channels(c.number for c in reg.channels)
    return set_up_family(reg, backend, active)


@exclusive
def set_display_name(name: str, display_name: str) -> registry.UserRecord:
    """The admin names a person for the family (they may change it themselves)."""
    reg = registry.load()
    record = _active_user(reg, name)
    record.display_name = validate_display_name(display_name)
    backend = open_backend(reg)
    family = backend.family()
    if family is not None:
        family.write([profile_record(record.name, record.display_name)])
    registry.save(reg)
    return record


def admin_credentials() -> Credentials:
    """The admin's own mTLS identity, to read and write channel records as the admin."""
    reg = registry.load()
    if reg.backend == "local":
        from chok.broker import config as broker_config
        from chok.broker import process

        settings = broker_config.load_settings()
        if settings is None:
            raise ConfigError("no local broker here", hint="run `chok admin init` first")
        return process.admin_credentials(settings, cluster_files())
    if reg.backend == "kafka":
        from chok.provision.kafka_backend import read_client_config

        conf = read_client_config(Path(reg.settings["admin_config"]))
        files = [conf.get(f"ssl.{k}.location") for k in ("ca", "certificate", "key")]
        if str(conf.get("security.protocol", "")).upper() == "SSL" and all(files):
            ca, cert, key = (Path(str(f)) for f in files)
            return Credentials(str(conf["bootstrap.servers"]), ca, cert, key)
        raise UsageError("this needs an mTLS admin configuration (ssl.*.location files)")
    raise UsageError(f"this is not available on the {reg.backend} backend")
