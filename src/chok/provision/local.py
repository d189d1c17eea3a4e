"""Provisioning on the embedded local broker: start it, create the channels.

The user commands (add-user, revoke-user, ...) are the same for every backend
and live in ``service.py``; ``add_user`` here is kept for callers that only
know the local broker (the test fixtures).
"""

from __future__ import annotations

from chok.broker import config as broker_config
from chok.broker import process
from chok.errors import ConfigError
from chok.kafka.admin import Admin
from chok.pki.cluster import cluster_files
from chok.protocol.bundle import Bundle
from chok.provision import registry, service
from chok.provision.backend import Progress
from chok.provision.changes import exclusive
from chok.provision.channels import (
    InitResult,
    check_backend,
    check_channel_count,
    create_channels,
)
from chok.provision.kafka_backend import KafkaAclBackend
from chok.provision.publish import upgrade


def admin_client() -> tuple[Admin, broker_config.BrokerSettings]:
    settings = broker_config.load_settings()
    if settings is None or not process.status().running:
        raise ConfigError("the local broker is not running", hint="start it with `chok admin init`")
    return Admin(process.admin_credentials(settings, cluster_files())), settings


@exclusive
def init(hosts: list[str], channel_count: int, progress: Progress) -> InitResult:
    """Start the broker if needed and create channels 1..channel_count."""
    check_channel_count(channel_count)
    reg = registry.load()
    check_backend(reg, "local")
    _, _, started = process.start(hosts=hosts, progress=progress)
    admin, settings = admin_client()
    files = cluster_files()
    backend = KafkaAclBackend(
        "local", admin, settings.bootstrap, (files.ca_cert, files.ca_key),
        replication=settings.replication,
    )  # fmt: skip
    reg.settings["server_ca"] = str(files.ca_cert)
    reg.backend, reg.bootstrap = "local", settings.bootstrap
    result = create_channels(reg, backend, channel_count)
    family_topics = upgrade(reg, backend)
    return InitResult(
        backend="local",
        bootstrap=settings.bootstrap,
        channels=result.channels,
        topics_created=result.topics_created + family_topics,
        broker_started=started,
        channels_fit=None,
        notes=[],
    )


def add_user(
    name: str, channels: list[int] | None, force: bool
) -> tuple[Bundle, registry.UserRecord]:
    return service.add_user(name, channels, force)
