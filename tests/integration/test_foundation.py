"""The foundation against the real broker: mTLS, ACLs, persistence, provisioning."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest
from confluent_kafka import KafkaError

from chok import pki
from chok.kafka.client import Credentials
from chok.pki.cluster import cluster_files
from tests.conftest import LocalCluster, run_chok
from tests.kafka_helpers import produce_one, read_from
from tests.provision_helpers import handshake_refused

pytestmark = pytest.mark.broker


def test_member_can_produce_and_read_both_topics_of_each_channel(new_user) -> None:  # type: ignore[no-untyped-def]
    alice = new_user("alice")
    for channel in alice.config.channels:
        for topic in (channel.audio_topic, channel.metadata_topic):
            payload = f"hello {topic}".encode()
            offset = produce_one(alice.credentials, topic, payload)
            assert isinstance(offset, int), offset
            assert read_from(alice.credentials, topic, offset, alice.user) == payload


def test_member_of_channel_1_only_is_denied_channel_2(new_user) -> None:  # type: ignore[no-untyped-def]
    bob = new_user("bob", channels=[1])
    err = produce_one(bob.credentials, "chok-audio-2", b"x")
    assert isinstance(err, KafkaError)
    assert err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_principal_without_acls_is_refused(cluster: LocalCluster, tmp_path: Path) -> None:
    files = cluster_files()
    nobody = pki.issue(pki.load(files.ca_cert, files.ca_key), "nobody")
    nobody.save(tmp_path / "n.pem", tmp_path / "n.key")
    creds = Credentials(cluster.bootstrap, files.ca_cert, tmp_path / "n.pem", tmp_path / "n.key")
    err = produce_one(creds, "chok-audio-1", b"x")
    assert isinstance(err, KafkaError)
    assert err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    got = read_from(creds, "chok-audio-1", 0, "nobody", timeout=10)
    assert isinstance(got, KafkaError), got
    assert got.code() in (
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
    )


def test_client_without_certificate_is_refused_at_handshake(cluster: LocalCluster) -> None:
    files = cluster_files()
    creds = Credentials(
        cluster.bootstrap, files.ca_cert, Path("/nonexistent"), Path("/nonexistent")
    )
    conf_errors: list[KafkaError] = []
    from confluent_kafka import Producer

    conf = {
        **creds.librdkafka(),
        "error_cb": conf_errors.append,
        "message.timeout.ms": 8000,
    }
    del conf["ssl.certificate.location"], conf["ssl.key.location"]
    producer = Producer(conf)
    delivered: list[object] = []
    producer.produce(
        "chok-audio-1", b"x", partition=0, on_delivery=lambda e, m: delivered.append(e)
    )
    producer.flush(15)
    assert delivered and handshake_refused(delivered[0]), delivered
    assert any(e.code() in (KafkaError._SSL, KafkaError._TRANSPORT) for e in conf_errors), (
        conf_errors
    )


def test_certificate_from_another_ca_is_refused_at_handshake(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    rogue_ca = pki.create_ca("rogue CA")
    mallory = pki.issue(rogue_ca, "mallory")  # even a legitimate-looking name
    mallory.save(tmp_path / "m.pem", tmp_path / "m.key")
    creds = Credentials(
        cluster.bootstrap, cluster_files().ca_cert, tmp_path / "m.pem", tmp_path / "m.key"
    )
    err = produce_one(creds, "chok-audio-1", b"x", timeout=8)
    assert handshake_refused(err), err


def test_data_survives_broker_restart(cluster: LocalCluster, new_user) -> None:  # type: ignore[no-untyped-def]
    from chok.broker import process

    carol = new_user("carol")
    offset = produce_one(carol.credentials, "chok-metadata-1", b"remember me")
    assert isinstance(offset, int)
    assert process.stop()
    assert not process.status().running
    process.start(port=cluster.port)
    assert read_from(carol.credentials, "chok-metadata-1", offset, carol.user) == b"remember me"


def test_bundle_holds_original_app_files_and_key_is_private(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    result = run_chok("admin", "add-user", "dora", "--out", str(tmp_path))
    assert result.code == 0, result.err
    bundle = tmp_path / "dora.chok"
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    with zipfile.ZipFile(bundle) as zf:
        assert set(zf.namelist()) == {"kafka_config.json", "ca.pem", "client.pem", "client.key"}
        import json

        config = json.loads(zf.read("kafka_config.json"))
    assert config["brokerUrl"] == cluster.bootstrap
    assert config["certificates"] == {
        "caAssetName": "ca.pem",
        "clientKeyAssetName": "client.key",
        "clientCertAssetName": "client.pem",
    }
    assert [c["audioTopic"] for c in config["channels"]] == ["chok-audio-1", "chok-audio-2"]
    assert config["chokUser"] == "dora"

    joined = run_chok("join", str(bundle))
    assert joined.code == 0, joined.err
    profile_dir = cluster.home / "profiles" / "dora"
    assert stat.S_IMODE((profile_dir / "client.key").stat().st_mode) == 0o600
    who = run_chok("whoami", "--json")
    assert who.code == 0, who.err
    info = json.loads(who.out)
    assert info["user"] == "dora" and info["broker_reachable"] is True
    assert [c["name"] for c in info["channels"]] == ["Main", "Secondary"]


def test_profiles_side_by_side(cluster: LocalCluster, tmp_path: Path) -> None:
    import json

    for name in ("eve", "fred"):
        assert run_chok("admin", "add-user", name, "--out", str(tmp_path)).code == 0
        assert run_chok("join", str(tmp_path / f"{name}.chok")).code == 0
    assert json.loads(run_chok("whoami", "--json", "--offline").out)["user"] == "fred"
    picked = run_chok("--profile", "eve", "whoami", "--json", "--offline")
    assert json.loads(picked.out)["user"] == "eve"
    by_env = run_chok("whoami", "--json", "--offline", env={"CHOK_PROFILE": "eve"})
    assert json.loads(by_env.out)["user"] == "eve"


def test_private_keys_of_the_cluster_are_0600(cluster: LocalCluster) -> None:
    files = cluster_files()
    for key in (files.ca_key, files.broker_key, files.admin_key, files.broker_keystore):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
