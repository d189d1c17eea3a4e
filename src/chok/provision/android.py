"""The files the original Android app's build takes, for one person.

Its Gradle build reads ``app/src/main/assets/`` (``kafka_config.json``,
``ca.pem``, ``client.pem``, ``client.key``) and compiles the person's name in
from the ``CHOK_USER_ID`` project property. The configuration is written
without chok's extra members: exactly the format that app was made with.
"""

from __future__ import annotations

from pathlib import Path

from chok.errors import UsageError
from chok.home import write_atomic, write_private
from chok.protocol.names import validate_user_name
from chok.provision import registry, userkeys
from chok.provision.bundles import client_config, server_ca_pem

GRADLE_PROPERTY = "CHOK_USER_ID"


def write_assets(name: str, directory: Path) -> tuple[list[Path], str, list[int]]:
    """Write the four asset files; return them, the Gradle property to build with,
    and the person's private channels, which the app cannot use and are left out."""
    reg = registry.load()
    record = reg.require_user(validate_user_name(name))
    if record.revoked:
        raise UsageError(f"{name} was revoked", hint=f"`chok admin add-user {name} --force` first")
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} is a file, not a directory")
    config = client_config(reg, record, chok=False)
    issued = userkeys.load(record.name)
    files = {
        config.ca_asset: server_ca_pem(reg),
        config.client_cert_asset: issued.cert_pem,
        "kafka_config.json": config.to_json(),
    }
    written = []
    for file_name, data in files.items():
        write_atomic(directory / file_name, data)
        written.append(directory / file_name)
    write_private(directory / config.client_key_asset, issued.key_pem)
    written.append(directory / config.client_key_asset)
    left_out = [n for n in record.channels if (c := reg.channel(n)) is not None and c.private]
    return written, f"-P{GRADLE_PROPERTY}={record.name}", left_out
