"""The client configuration file ``kafka_config.json`` (protocol.md, section 6)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chok.errors import BadBundleError, NotFoundError

from ._util import is_int, parse_decimal
from .topics import MAX_CHANNEL, audio_topic, is_channel_number, metadata_topic

CONFIG_FILE_NAME = "kafka_config.json"
DEFAULT_CA_ASSET = "ca.pem"
DEFAULT_CLIENT_KEY_ASSET = "client.key"
DEFAULT_CLIENT_CERT_ASSET = "client.pem"

EXTRA_USER = "chokUser"
EXTRA_VERSION = "chokVersion"
EXTRA_SECURITY_PROTOCOL = "chokSecurityProtocol"
#: Live frames fetched in batches of about this many ms of speech (hosted plans).
EXTRA_LIVE_BATCH_MS = "chokLiveBatchMs"
MAX_LIVE_BATCH_MS = 2000
DEFAULT_SECURITY_PROTOCOL = "SSL"

_ORIGINAL_KEYS = frozenset({"brokerUrl", "channels", "certificates"})
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
_HOST = re.compile(r"[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]")


def _fail(where: str, problem: str) -> BadBundleError:
    return BadBundleError(f"{CONFIG_FILE_NAME}: {where} {problem}")


def _check_str(where: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(where, f"must be a non-empty string, not {value!r}")
    return value


def _check_partition(where: str, value: object) -> int:
    if not is_int(value) or not 0 <= value <= MAX_CHANNEL:
        raise _fail(where, f"must be a partition number (0 or more), not {value!r}")
    return value


def _check_topic(where: str, value: object) -> str:
    if not isinstance(value, str) or not _TOPIC.fullmatch(value) or value in (".", ".."):
        raise _fail(where, f"must be a Kafka topic name (A-Z a-z 0-9 . _ -), not {value!r}")
    return value


def _check_asset(where: str, value: object) -> str:
    value = _check_str(where, value)
    if value in (".", "..") or any(c in value for c in "/\\\0") or len(value) > 255:
        raise _fail(where, f"must be a plain file name, not {value!r}")
    return value


def _check_broker_url(value: object) -> str:
    value = _check_str("brokerUrl", value)
    for address in value.split(","):
        host, colon, port = address.rpartition(":")
        number = parse_decimal(port, 65535)
        if not colon or not _HOST.fullmatch(host) or number is None or number < 1:
            raise _fail("brokerUrl", f"must be host:port (or several, separated by ','): {value!r}")
    return value


_CHANNEL_MEMBERS = (
    "channelNumber",
    "channelName",
    "audioTopic",
    "audioPartition",
    "metadataTopic",
    "metadataPartition",
)


def _check_channel(prefix: str, *values: object) -> None:
    number, name, audio, audio_partition, metadata, metadata_partition = values
    if not is_channel_number(number):
        raise _fail(prefix + "channelNumber", f"must be from 1 to {MAX_CHANNEL}, not {number!r}")
    _check_str(prefix + "channelName", name)
    _check_topic(prefix + "audioTopic", audio)
    _check_partition(prefix + "audioPartition", audio_partition)
    _check_topic(prefix + "metadataTopic", metadata)
    _check_partition(prefix + "metadataPartition", metadata_partition)


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """One entry of ``channels``: where a channel's two topics are."""

    number: int
    name: str
    audio_topic: str
    audio_partition: int
    metadata_topic: str
    metadata_partition: int

    def __post_init__(self) -> None:
        _check_channel(
            "",
            self.number,
            self.name,
            self.audio_topic,
            self.audio_partition,
            self.metadata_topic,
            self.metadata_partition,
        )

    @classmethod
    def standard(cls, number: int, name: str) -> ChannelConfig:
        """The standard topics of channel ``number``, partition 0."""
        return cls(number, name, audio_topic(number), 0, metadata_topic(number), 0)

    def to_json_obj(self) -> dict[str, Any]:
        return {
            "channelNumber": self.number,
            "channelName": self.name,
            "audioTopic": self.audio_topic,
            "audioPartition": self.audio_partition,
            "metadataTopic": self.metadata_topic,
            "metadataPartition": self.metadata_partition,
        }


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """The content of ``kafka_config.json``; ``extras`` holds unknown top-level members."""

    broker_url: str
    channels: Sequence[ChannelConfig]
    ca_asset: str = DEFAULT_CA_ASSET
    client_key_asset: str = DEFAULT_CLIENT_KEY_ASSET
    client_cert_asset: str = DEFAULT_CLIENT_CERT_ASSET
    extras: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _check_broker_url(self.broker_url)
        channels = tuple(self.channels)
        if not channels or not all(isinstance(c, ChannelConfig) for c in channels):
            raise _fail("channels", "must list at least one channel")
        numbers = [channel.number for channel in channels]
        for number in numbers:
            if numbers.count(number) > 1:
                raise _fail("channels", f"lists channel {number} twice")
        object.__setattr__(self, "channels", channels)
        _check_asset("certificates.caAssetName", self.ca_asset)
        _check_asset("certificates.clientKeyAssetName", self.client_key_asset)
        _check_asset("certificates.clientCertAssetName", self.client_cert_asset)
        extras = dict(self.extras)
        for name in extras:
            if not isinstance(name, str) or name in _ORIGINAL_KEYS:
                raise _fail("extras", f"cannot use the name {name!r}")
        try:
            json.dumps(extras)
        except (TypeError, ValueError) as error:
            raise _fail("extras", f"must hold JSON values only ({error})") from None
        object.__setattr__(self, "extras", extras)

    @property
    def user(self) -> str | None:
        """chok's ``chokUser`` (the original app compiles the name in instead)."""
        user = self.extras.get(EXTRA_USER)
        return user if isinstance(user, str) else None

    @property
    def security_protocol(self) -> str:
        protocol = self.extras.get(EXTRA_SECURITY_PROTOCOL)
        return protocol if isinstance(protocol, str) else DEFAULT_SECURITY_PROTOCOL

    @property
    def live_batch_ms(self) -> int:
        """``chokLiveBatchMs``: 0 (every frame at once) unless a whole number up to 2000."""
        value = self.extras.get(EXTRA_LIVE_BATCH_MS)
        if isinstance(value, int) and not isinstance(value, bool):
            return value if 0 <= value <= MAX_LIVE_BATCH_MS else 0
        return 0

    def channel(self, number: int) -> ChannelConfig:
        for channel in self.channels:
            if channel.number == number:
                return channel
        known = ", ".join(str(channel.number) for channel in self.channels)
        raise NotFoundError(f"channel {number} is not in this configuration (it has {known})")

    def to_json(self) -> bytes:
        """The file's bytes: 2-space indent, original members first, then sorted extras."""
        obj: dict[str, Any] = {
            "brokerUrl": self.broker_url,
            "channels": [channel.to_json_obj() for channel in self.channels],
            "certificates": {
                "caAssetName": self.ca_asset,
                "clientKeyAssetName": self.client_key_asset,
                "clientCertAssetName": self.client_cert_asset,
            },
        }
        for name in sorted(self.extras):
            obj[name] = self.extras[name]
        return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise _fail(repr(name), "appears twice")
        result[name] = value
    return result


def _reject_constant(name: str) -> Any:
    raise _fail("content", f"is not valid JSON ({name} is not a number)")


def _member(obj: Mapping[str, Any], where: str, name: str) -> Any:
    if name not in obj:
        raise _fail(where + name, "is missing")
    return obj[name]


def _parse_channel(index: int, raw: object) -> ChannelConfig:
    where = f"channels[{index}]"
    if not isinstance(raw, dict):
        raise _fail(where, "must be an object")
    prefix = where + "."
    values = [_member(raw, prefix, name) for name in _CHANNEL_MEMBERS]
    _check_channel(prefix, *values)
    return ChannelConfig(*values)


def parse_client_config(data: bytes | str) -> ClientConfig:
    """Read ``kafka_config.json``; raise BadBundleError naming the member at fault."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        obj = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise _fail("content", "is not UTF-8 text") from None
    except RecursionError:
        raise _fail("content", "is nested too deeply") from None
    except ValueError as error:
        raise _fail("content", f"is not valid JSON ({error})") from None
    if not isinstance(obj, dict):
        raise _fail("content", "must be a JSON object")
    channels = _member(obj, "", "channels")
    if not isinstance(channels, list):
        raise _fail("channels", "must be a list")
    certificates = _member(obj, "", "certificates")
    if not isinstance(certificates, dict):
        raise _fail("certificates", "must be an object")
    return ClientConfig(
        broker_url=_member(obj, "", "brokerUrl"),
        channels=[_parse_channel(index, raw) for index, raw in enumerate(channels)],
        ca_asset=_member(certificates, "certificates.", "caAssetName"),
        client_key_asset=_member(certificates, "certificates.", "clientKeyAssetName"),
        client_cert_asset=_member(certificates, "certificates.", "clientCertAssetName"),
        extras={name: value for name, value in obj.items() if name not in _ORIGINAL_KEYS},
    )
