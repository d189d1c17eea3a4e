"""What a client needs to connect: a person's bundle and kafka_config.json,
the CA certificates in it, and the admin's own credentials.

Everything here is read from the registry and the admin's files; nothing
changes the cluster, so no admin lock is needed.
"""

from __future__ import annotations

from pathlib import Path

from chok import pki
from chok.errors import ConfigError, UsageError
from chok.kafka.client import Credentials
from chok.pki.cluster import cluster_files
from chok.protocol.bundle import Bundle
from chok.protocol.client_config import (
    EXTRA_LIVE_BATCH_MS,
    EXTRA_PRIVATE_CHANNELS,
    ChannelConfig,
    ClientConfig,
)
from chok.provision import registry, userkeys

LIVE_BATCH_SETTING = "live_batch_ms"


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
