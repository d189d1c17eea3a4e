"""Backends that speak Kafka's Admin API: the embedded broker and any cluster.

Both create topics and ACLs with an admin client and sign user certificates
with a CA the brokers trust. They differ only in where the admin credentials
and the CA come from:

- ``local``: the embedded broker's ``chok-admin`` certificate and chok's CA.
- ``kafka``: the admin's own client configuration file (librdkafka properties
  or JSON), and either chok's CA (which the admin adds to the brokers' trust
  store) or the admin's own (``--ca-cert/--ca-key``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chok import pki
from chok.errors import ChokError, KafkaError, UsageError
from chok.kafka.admin import Admin
from chok.kafka.handshake import nothing_listens
from chok.pki.cluster import ClusterFiles, cluster_files, ensure_ca
from chok.provision import access, registry
from chok.provision.backend import Identity, Progress
from chok.provision.changes import exclusive
from chok.provision.channels import (
    InitResult,
    check_backend,
    check_channel_count,
    create_channels,
)
from chok.provision.family import FamilyAdmin
from chok.provision.publish import upgrade
from chok.provision.topics import channel_topics

# librdkafka settings that name files: resolved against the config file's folder.
_PATH_KEYS = ("ssl.ca.location", "ssl.certificate.location", "ssl.key.location")
# Settings whose values must never be shown to anyone.
SECRET_KEYS = ("sasl.password", "ssl.key.password", "ssl.keystore.password", "ssl.key.pem")


class KafkaAclBackend:
    """Topics and ACLs through the Admin API; certificates from a CA."""

    def __init__(
        self,
        name: str,
        admin: Admin,
        bootstrap: str,
        ca_files: tuple[Path, Path],
        principal_format: str = access.DEFAULT_PRINCIPAL_FORMAT,
        replication: int = 1,
    ) -> None:
        self.name = name
        self.admin = admin
        self._bootstrap = bootstrap
        self._ca_files = ca_files
        self._format = principal_format
        self._replication = replication

    def bootstrap(self) -> str:
        return self._bootstrap

    def ensure_channel(self, number: int) -> list[str]:
        return self.admin.create_topics(channel_topics(number, self._replication))

    def issue(self, user: str, generation: int) -> Identity:
        ca = pki.load(*self._ca_files)
        cn = access.common_name(user, generation)
        return Identity(pki.issue(ca, cn), access.principal_for(cn, self._format))

    def grant(self, principal: str, user: str, channels: list[int]) -> None:
        self.admin.grant(access.user_grants(principal, channels, user))

    def deny(self, principal: str, user: str, channels: list[int]) -> None:
        grants = []
        for channel in channels:
            grants += access.channel_grants(principal, channel)
        self.admin.revoke(grants)

    def revoke(self, principal: str) -> None:
        self.admin.revoke_all(principal)

    def publisher(self) -> Admin | None:
        return self.admin

    def family(self) -> FamilyAdmin:
        return FamilyAdmin(self.admin, self._replication)


def open_local(reg: registry.Registry) -> KafkaAclBackend:
    # Imported here: provision.local imports this module.
    from chok.provision.local import admin_client

    admin, settings = admin_client()
    files = cluster_files()
    return KafkaAclBackend(
        "local", admin, settings.bootstrap, (files.ca_cert, files.ca_key),
        replication=settings.replication,
    )  # fmt: skip


def open_kafka(reg: registry.Registry) -> KafkaAclBackend:
    s = reg.settings
    config = read_client_config(Path(s["admin_config"]))
    return KafkaAclBackend(
        "kafka",
        Admin(None, raw=config),
        reg.bootstrap,
        (Path(s["ca_cert"]), Path(s["ca_key"])),
        s.get("principal_format", access.DEFAULT_PRINCIPAL_FORMAT),
        int(s.get("replication", 1)),
    )


def read_client_config(path: Path) -> dict[str, Any]:
    """A librdkafka client configuration: JSON object or ``key=value`` lines."""
    try:
        text = path.read_text()
    except FileNotFoundError as exc:
        raise UsageError(f"no such admin client configuration: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the admin client configuration {path}") from exc
    config: dict[str, Any]
    if text.lstrip().startswith("{"):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path} is not valid JSON ({exc.msg}, line {exc.lineno})") from exc
        if not isinstance(loaded, dict):
            raise UsageError(f"{path} must hold one JSON object of client settings")
        config = {str(k): str(v) for k, v in loaded.items()}
    else:
        config = {}
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith(("#", "!")):
                continue
            key, sep, value = line.partition("=")
            if not sep:
                raise UsageError(f"{path}, line {number}: expected key=value")
            config[key.strip()] = value.strip()
    if not config.get("bootstrap.servers"):
        raise UsageError(f"{path} does not say bootstrap.servers")
    for key in _PATH_KEYS:
        if key in config and not Path(config[key]).is_absolute():
            config[key] = str((path.parent / config[key]).resolve())
    return config


def kafka_settings(
    admin_config: Path,
    ca: tuple[Path, Path] | None,
    server_ca: Path | None,
    principal_format: str,
    replication: int | None,
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Validate the kafka backend's options; return (settings, client config, notes)."""
    admin_config = admin_config.resolve()
    config = read_client_config(admin_config)
    notes: list[str] = []
    if "{cn}" not in principal_format:
        raise UsageError("--principal-format must contain {cn}, e.g. 'CN={cn},O=chok'")
    if replication is not None and not 1 <= replication <= 10:
        raise UsageError(f"--replication must be between 1 and 10, not {replication}")
    if ca is None:
        files: ClusterFiles = cluster_files()
        fresh = not files.ca_cert.exists()
        ensure_ca(files)
        ca_cert, ca_key = files.ca_cert, files.ca_key
        if fresh:
            notes.append(
                f"created chok's CA {ca_cert}: add it to the brokers' client trust store "
                "(ssl.truststore) so they accept the people's certificates"
            )
    else:
        ca_cert, ca_key = (p.resolve() for p in ca)
        issued = pki.load(ca_cert, ca_key)
        if not pki.is_ca_pair(issued):
            raise UsageError(f"{ca_key} is not the private key of the CA in {ca_cert}")
    trust = server_ca or (Path(config["ssl.ca.location"]) if "ssl.ca.location" in config else None)
    if trust is None:
        raise UsageError(
            "which CA signed the brokers' certificates? give --server-ca FILE "
            "(the admin configuration has no ssl.ca.location)"
        )
    settings = {
        "admin_config": str(admin_config),
        "ca_cert": str(ca_cert),
        "ca_key": str(ca_key),
        "server_ca": str(trust.resolve()),
        "principal_format": principal_format,
        "replication": replication,
    }
    return settings, config, notes


@exclusive
def init(
    *,
    admin_config: Path,
    ca: tuple[Path, Path] | None,
    server_ca: Path | None,
    user_bootstrap: str | None,
    principal_format: str,
    replication: int | None,
    channel_count: int,
    progress: Progress,
) -> InitResult:
    """Provision channels on a cluster the admin runs, through its Admin API."""
    check_channel_count(channel_count)
    reg = registry.load()
    check_backend(reg, "kafka")
    settings, config, notes = kafka_settings(
        admin_config, ca, server_ca, principal_format, replication
    )
    admin = Admin(None, raw=config)
    bootstrap = str(config["bootstrap.servers"])
    progress(f"connecting to {bootstrap} with the admin's credentials...")
    why = nothing_listens(bootstrap)
    if why is not None:
        raise KafkaError(
            f"cannot reach the cluster at {bootstrap} ({why})",
            hint=f"check bootstrap.servers in {admin_config}",
        )
    brokers = admin.ping(timeout=20)
    replication = replication or min(3, brokers)
    settings["replication"] = replication
    if replication > brokers:
        raise UsageError(
            f"--replication {replication} needs {replication} brokers; the cluster has {brokers}"
        )
    notes += _authorizer_notes(admin)
    bootstrap = user_bootstrap or str(config["bootstrap.servers"])
    reg.backend, reg.bootstrap, reg.settings = "kafka", bootstrap, settings
    backend = KafkaAclBackend(
        "kafka",
        admin,
        bootstrap,
        (Path(settings["ca_cert"]), Path(settings["ca_key"])),
        principal_format,
        replication,
    )
    result = create_channels(reg, backend, channel_count)
    created = result.topics_created + upgrade(reg, backend)
    return InitResult("kafka", bootstrap, result.channels, created, False, None, notes)


def _authorizer_notes(admin: Admin) -> list[str]:
    """Warn when the cluster would not enforce the ACLs chok writes."""
    try:
        found = admin.broker_settings(["authorizer.class.name", "allow.everyone.if.no.acl.found"])
    except ChokError:
        return ["could not read the brokers' authorizer settings: make sure ACLs are enforced"]
    notes = []
    if not found.get("authorizer.class.name"):
        notes.append(
            "WARNING: the cluster has no authorizer: ACLs are ignored, anyone may use any topic"
        )
    if found.get("allow.everyone.if.no.acl.found", "false").lower() == "true":
        notes.append(
            "WARNING: allow.everyone.if.no.acl.found=true: a revoked certificate keeps "
            "access to topics that have no ACL at all"
        )
    return notes
