"""Provisioning on the embedded local broker: channels, users, their bundles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from chok.broker import config as broker_config
from chok.broker import process
from chok.errors import ConfigError, UsageError
from chok.kafka.admin import Admin
from chok.protocol.client_config import ChannelConfig, ClientConfig
from chok.protocol.names import validate_user_name
from chok.provision import access, pki, registry
from chok.provision.bundle import Bundle
from chok.provision.cluster import ADMIN_PRINCIPAL, BROKER_PRINCIPAL, cluster_files, ensure_ca
from chok.provision.topics import channel_topics

Progress = Callable[[str], None]
RESERVED_NAMES = {ADMIN_PRINCIPAL, BROKER_PRINCIPAL, "ANONYMOUS", "user1"}


@dataclass(frozen=True)
class InitResult:
    bootstrap: str
    channels: list[registry.ChannelRecord]
    topics_created: list[str]
    broker_started: bool


def admin_client() -> tuple[Admin, broker_config.BrokerSettings]:
    settings = broker_config.load_settings()
    if settings is None or not process.status().running:
        raise ConfigError("the local broker is not running", hint="start it with `chok admin init`")
    return Admin(process.admin_credentials(settings, cluster_files())), settings


def init(hosts: list[str], channel_count: int, progress: Progress) -> InitResult:
    if not 1 <= channel_count <= 50:
        raise UsageError(f"--channels must be between 1 and 50, not {channel_count}")
    _, _, started = process.start(hosts=hosts, progress=progress)
    admin, settings = admin_client()
    reg = registry.load()
    created: list[str] = []
    for number in range(1, channel_count + 1):
        created += admin.create_topics(channel_topics(number))
        if reg.channel(number) is None:
            name = registry.DEFAULT_CHANNEL_NAMES.get(number, f"Channel {number}")
            reg.channels.append(registry.ChannelRecord(number, name))
    reg.backend, reg.bootstrap = "local", settings.bootstrap
    registry.save(reg)
    return InitResult(
        settings.bootstrap, sorted(reg.channels, key=lambda c: c.number), created, started
    )


def add_user(
    name: str, channels: list[int] | None, force: bool
) -> tuple[Bundle, registry.UserRecord]:
    name = validate_user_name(name)
    if name in RESERVED_NAMES:
        raise UsageError(f"'{name}' is reserved by chok: choose another name")
    reg = registry.load()
    if not reg.channels:
        raise ConfigError("no channels yet", hint="run `chok admin init` first")
    existing = reg.user(name)
    if existing is not None and not force:
        raise UsageError(
            f"user '{name}' already exists",
            hint="use `--force` to issue a new certificate for them",
        )
    numbers = channels or [c.number for c in reg.channels]
    unknown = [n for n in numbers if reg.channel(n) is None]
    if unknown:
        raise UsageError(f"no channel {unknown[0]}: see `chok admin init --channels N`")
    admin, settings = admin_client()
    issued = pki.issue(ensure_ca(cluster_files()), name)
    admin.grant(access.user_grants(name, numbers))
    record = registry.UserRecord(
        name=name,
        channels=numbers,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        cert_expires=pki.expiry(issued.cert_pem).isoformat(timespec="seconds"),
        cert_serial=format(issued.cert.serial_number, "x"),
    )
    reg.put_user(record)
    registry.save(reg)
    return _bundle(reg, settings.bootstrap, name, numbers, issued), record


def _bundle(
    reg: registry.Registry, bootstrap: str, user: str, numbers: list[int], issued: pki.Issued
) -> Bundle:
    channels = []
    for number in numbers:
        record = reg.channel(number)
        assert record is not None
        channels.append(ChannelConfig.standard(number, record.name))
    config = ClientConfig(
        broker_url=bootstrap,
        channels=channels,
        extras={"chokUser": user, "chokVersion": 1},
    )
    ca_pem = cluster_files().ca_cert.read_bytes()
    return Bundle(config, ca_pem, issued.cert_pem, issued.key_pem)
