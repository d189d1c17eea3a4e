"""A person's bundle: one zip with everything a client needs to join.

Members (the original app's asset names, so the same files build its APK):
``kafka_config.json``, ``ca.pem``, ``client.pem``, ``client.key``.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass

from chok.errors import BadBundleError
from chok.protocol.client_config import ClientConfig, parse_client_config

CONFIG_NAME = "kafka_config.json"
MEMBERS = (CONFIG_NAME, "ca.pem", "client.pem", "client.key")
MAX_MEMBER_BYTES = 1 << 20
# Besides BadZipFile: bad offsets (ValueError), bad deflate data (zlib.error),
# cut data (EOFError), encryption (RuntimeError), other methods or versions
# (NotImplementedError), member names that are not UTF-8 (UnicodeDecodeError).
_DAMAGED_ZIP = (ValueError, zlib.error, EOFError, RuntimeError, NotImplementedError, OSError)
# A fixed timestamp keeps a bundle's bytes a function of its contents.
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Bundle:
    config: ClientConfig
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    @property
    def user(self) -> str | None:
        value = self.config.extras.get("chokUser")
        return value if isinstance(value, str) else None

    def to_zip(self) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in zip(
                MEMBERS,
                (self.config.to_json(), self.ca_pem, self.cert_pem, self.key_pem),
                strict=True,
            ):
                info = zipfile.ZipInfo(name, _ZIP_TIME)
                info.external_attr = 0o600 << 16
                zf.writestr(info, data, zipfile.ZIP_DEFLATED)
        return buf.getvalue()


def read_bundle(data: bytes, source: str = "bundle") -> Bundle:
    """Parse a bundle zip; raise BadBundleError saying what is wrong."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            parts = {name: _member(zf, name, source) for name in MEMBERS}
    except zipfile.BadZipFile as exc:
        raise BadBundleError(f"{source} is not a chok bundle (not a zip file)") from exc
    except _DAMAGED_ZIP as exc:  # what zipfile raises for broken or unusual members
        raise BadBundleError(f"{source} is damaged: a file inside it cannot be read") from exc
    for name in ("ca.pem", "client.pem"):
        if b"-----BEGIN CERTIFICATE-----" not in parts[name]:
            raise BadBundleError(f"{source}: {name} is not a PEM certificate")
    if b"PRIVATE KEY-----" not in parts["client.key"]:
        raise BadBundleError(f"{source}: client.key is not a PEM private key")
    config = parse_client_config(parts[CONFIG_NAME])
    return Bundle(config, parts["ca.pem"], parts["client.pem"], parts["client.key"])


def _member(zf: zipfile.ZipFile, name: str, source: str) -> bytes:
    try:
        info = zf.getinfo(name)
    except KeyError as exc:
        raise BadBundleError(f"{source} lacks {name}: it is not a complete chok bundle") from exc
    if info.file_size > MAX_MEMBER_BYTES:
        raise BadBundleError(f"{source}: {name} is implausibly large")
    return zf.read(name)
