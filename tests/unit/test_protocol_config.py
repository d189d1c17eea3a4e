"""The client configuration file kafka_config.json (docs/protocol.md, section 6)."""

from __future__ import annotations

import json

import pytest

from chok.errors import BadBundleError, NotFoundError, UsageError
from chok.protocol import ChannelConfig, ClientConfig, parse_client_config

ORIGINAL = b"""{
  "brokerUrl": "host:1234",
  "channels": [
    {"channelNumber": 1, "channelName": "Main",
     "audioTopic": "chok-audio-1", "audioPartition": 0,
     "metadataTopic": "chok-metadata-1", "metadataPartition": 0}
  ],
  "certificates": {"caAssetName": "ca.pem",
                   "clientKeyAssetName": "client.key",
                   "clientCertAssetName": "client.pem"}
}"""


def _config(**changes: object) -> bytes:
    obj = json.loads(ORIGINAL)
    for path, value in changes.items():
        target = obj
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is ...:
            del target[last]
        else:
            target[last] = value
    return json.dumps(obj).encode()


def test_original_file_parses() -> None:
    config = parse_client_config(ORIGINAL)
    assert config.broker_url == "host:1234"
    assert config.channels == (ChannelConfig.standard(1, "Main"),)
    assert (config.ca_asset, config.client_key_asset, config.client_cert_asset) == (
        "ca.pem",
        "client.key",
        "client.pem",
    )
    assert config.extras == {} and config.user is None and config.security_protocol == "SSL"
    assert config.channel(1).metadata_topic == "chok-metadata-1"
    with pytest.raises(NotFoundError, match="channel 2"):
        config.channel(2)


def test_round_trip_keeps_extras_and_ignores_nested_unknowns() -> None:
    data = _config(chokUser="ann", zzz={"a": [1, 2]}, channels__0__color="red")
    config = parse_client_config(data)
    assert config.user == "ann" and config.extras == {"chokUser": "ann", "zzz": {"a": [1, 2]}}
    again = parse_client_config(config.to_json())
    assert again == config and again.to_json() == config.to_json()
    assert config.to_json().endswith(b"}\n")
    assert list(json.loads(config.to_json())) == [
        "brokerUrl",
        "channels",
        "certificates",
        "chokUser",
        "zzz",
    ]


@pytest.mark.parametrize(
    "url", ["h:1", "a.b-c:65535", "a:1,b:2", "[::1]:9092", "10.0.0.1:9093,[fe80::1]:1"]
)
def test_valid_broker_urls(url: str) -> None:
    assert parse_client_config(_config(brokerUrl=url)).broker_url == url


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"brokerUrl": ...}, "brokerUrl is missing"),
        ({"brokerUrl": ""}, "brokerUrl"),
        ({"brokerUrl": "host"}, "brokerUrl"),
        ({"brokerUrl": "host:0"}, "brokerUrl"),
        ({"brokerUrl": "host:65536"}, "brokerUrl"),
        ({"brokerUrl": "host:1,"}, "brokerUrl"),
        ({"brokerUrl": "ho st:1"}, "brokerUrl"),
        ({"brokerUrl": 1234}, "brokerUrl"),
        ({"channels": ...}, "channels is missing"),
        ({"channels": []}, "channels"),
        ({"channels": {}}, "channels"),
        ({"channels": [1]}, r"channels\[0\]"),
        ({"channels__0__channelNumber": ...}, r"channels\[0\].channelNumber is missing"),
        ({"channels__0__channelNumber": 0}, r"channels\[0\].channelNumber"),
        ({"channels__0__channelNumber": "1"}, r"channels\[0\].channelNumber"),
        ({"channels__0__channelNumber": True}, r"channels\[0\].channelNumber"),
        ({"channels__0__channelName": ""}, r"channels\[0\].channelName"),
        ({"channels__0__audioTopic": "a b"}, r"channels\[0\].audioTopic"),
        ({"channels__0__audioTopic": ".."}, r"channels\[0\].audioTopic"),
        ({"channels__0__metadataTopic": "x" * 250}, r"channels\[0\].metadataTopic"),
        ({"channels__0__audioPartition": -1}, r"channels\[0\].audioPartition"),
        ({"channels__0__metadataPartition": 0.0}, r"channels\[0\].metadataPartition"),
        ({"certificates": ...}, "certificates is missing"),
        ({"certificates": "ca.pem"}, "certificates"),
        ({"certificates__caAssetName": ...}, "certificates.caAssetName is missing"),
        ({"certificates__caAssetName": "../ca.pem"}, "certificates.caAssetName"),
        ({"certificates__clientKeyAssetName": "/etc/key"}, "clientKeyAssetName"),
        ({"certificates__clientCertAssetName": ".."}, "clientCertAssetName"),
        ({"certificates__clientCertAssetName": 5}, "clientCertAssetName"),
    ],
)
def test_invalid_files_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(BadBundleError, match=field) as info:
        parse_client_config(_config(**changes))
    assert isinstance(info.value, UsageError)
    assert str(info.value).startswith("kafka_config.json: ")


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b"\xff\xfe", "not UTF-8"),
        (b"{" * 100_000, "not valid JSON|nested too deeply"),
        (ORIGINAL.replace(b"0}", b"NaN}", 1), "not valid JSON"),
        (ORIGINAL.replace(b'"brokerUrl"', b'"brokerUrl": "x:1", "brokerUrl"'), "twice"),
    ],
)
def test_unreadable_files(data: bytes, problem: str) -> None:
    with pytest.raises(BadBundleError, match=problem):
        parse_client_config(data)


def test_duplicate_channels_refused() -> None:
    channels = [ChannelConfig.standard(1, "A"), ChannelConfig.standard(1, "B")]
    with pytest.raises(BadBundleError, match="channel 1 twice"):
        ClientConfig("h:1", channels)


def test_extras_must_be_json_and_not_shadow() -> None:
    with pytest.raises(BadBundleError, match="extras"):
        ClientConfig("h:1", [ChannelConfig.standard(1, "A")], extras={"x": object()})
    with pytest.raises(BadBundleError, match="extras"):
        ClientConfig("h:1", [ChannelConfig.standard(1, "A")], extras={"channels": []})


def test_security_protocol_extra() -> None:
    config = ClientConfig(
        "h:1", [ChannelConfig.standard(3, "Ops")], extras={"chokSecurityProtocol": "SSL"}
    )
    assert config.security_protocol == "SSL" and config.channel(3).audio_topic == "chok-audio-3"
    assert parse_client_config(config.to_json().decode()) == config


@pytest.mark.parametrize(
    ("value", "expected"),
    [(240, 240), (0, 0), (2000, 2000), (2001, 0), (-1, 0), (True, 0), ("240", 0), (None, 0)],
)
def test_the_live_batch_extra_is_a_small_whole_number_or_off(value: object, expected: int) -> None:
    extra = {} if value is None else {"chokLiveBatchMs": value}
    assert parse_client_config(_config(**extra)).live_batch_ms == expected


def test_a_live_batch_asks_the_broker_to_wait_for_a_few_frames() -> None:
    from chok.kafka.stream import READER_SETTINGS, live_batch_settings

    assert live_batch_settings(0) == {}
    batch = live_batch_settings(240)
    assert batch["fetch.min.bytes"] == 4 * 200
    assert batch["fetch.wait.max.ms"] == READER_SETTINGS["fetch.wait.max.ms"]
    assert live_batch_settings(960)["fetch.wait.max.ms"] == 960
