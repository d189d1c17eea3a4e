"""Provisioning pieces that need no broker: names, registry, configs, tokens, CAs."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from chok import pki
from chok.errors import ConfigError, UsageError
from chok.provision import access, aiven_backend, registry
from chok.provision.aiven_api import load_token
from chok.provision.kafka_backend import kafka_settings, read_client_config


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHOK_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_each_generation_has_its_own_principal() -> None:
    assert access.common_name("alice", 1) == "alice"
    assert access.common_name("alice", 2) == "alice.2"
    assert access.principal_for("alice.2") == "alice.2"
    assert access.principal_for("alice", "CN={cn},O=chok") == "CN=alice,O=chok"
    # No name contains a dot, so no generation of one person is another person.
    with pytest.raises(ValueError):
        access.common_name("alice", 0)


def test_names_too_long_for_a_certificate() -> None:
    access.check_provisionable("a" * 58)
    with pytest.raises(UsageError, match="at most 58"):
        access.check_provisionable("a" * 59)
    ca = pki.create_ca()
    assert pki.common_name(pki.issue(ca, access.common_name("a" * 58, 99999)).cert_pem)


def test_grants_are_exactly_the_channels_own_groups_and_the_family() -> None:
    grants = access.user_grants("bob.2", [3], "bob")
    topics = {(g.name, g.operation, g.prefixed) for g in grants if g.resource == "topic"}
    channel = {
        (t, op, False)
        for t in ("chok-audio-3", "chok-metadata-3")
        for op in ("READ", "WRITE", "DESCRIBE")
    }
    family = {
        ("chok-person-bob", "WRITE", False),  # their own, and nobody else's
        ("chok-person-", "READ", True),  # everyone's, by prefix
        ("chok-person-", "DESCRIBE", True),
        ("chok-access-bob", "READ", False),  # written by the admin only
        ("chok-access-bob", "DESCRIBE", False),
    }
    assert topics == channel | family
    groups = {g.name for g in grants if g.resource == "group"}
    assert groups == {"chok.bob.", "chat-group-", "timeline-"}
    assert {g.principal for g in grants} == {"bob.2"}
    assert not any(g.operation in ("ALL", "CREATE", "DELETE", "ALTER") for g in grants)


def test_registry_reads_older_files_and_ignores_unknown_members(home: Path) -> None:
    path = home / "cluster" / "registry.json"
    path.parent.mkdir(parents=True)
    old = {
        "backend": "local",
        "bootstrap": "localhost:1",
        "channels": [{"number": 1, "name": "Main"}],
        "users": [
            {"name": "ann", "channels": [1], "created": "x", "cert_expires": "y",
             "cert_serial": "z", "revoked": False, "from_the_future": 1}
        ],
        "unknown_top_level": True,
    }  # fmt: skip
    path.write_text(json.dumps(old))
    reg = registry.load()
    user = reg.require_user("ann")
    assert (user.generation, user.principal) == (1, "")
    assert reg.find_channel("main").number == 1 and reg.find_channel("1").name == "Main"
    with pytest.raises(Exception, match="no channel 'Garden'"):
        reg.find_channel("Garden")
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="damaged"):
        registry.load()


def test_client_config_in_both_formats(tmp_path: Path) -> None:
    props = tmp_path / "admin.properties"
    props.write_text(
        "# the admin's client\nbootstrap.servers = k1:9093,k2:9093\n"
        "security.protocol=SSL\nssl.ca.location=certs/ca.pem\n"
    )
    config = read_client_config(props)
    assert config["bootstrap.servers"] == "k1:9093,k2:9093"
    assert config["ssl.ca.location"] == str(tmp_path / "certs" / "ca.pem")
    js = tmp_path / "admin.json"
    js.write_text(json.dumps({"bootstrap.servers": "k:1", "security.protocol": "SSL"}))
    assert read_client_config(js)["security.protocol"] == "SSL"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "no such admin client configuration"),
        ("security.protocol=SSL\n", "bootstrap.servers"),
        ("bootstrap.servers\n", "line 1: expected key=value"),
        ("{broken", "not valid JSON"),
        ("[1, 2]", "expected key=value"),
    ],
)
def test_bad_client_configs(tmp_path: Path, content: str | None, words: str) -> None:
    path = tmp_path / "admin.properties"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UsageError, match=words):
        read_client_config(path)


def _rsa_ca(tmp_path: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "family RSA CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "rsa-ca.pem", tmp_path / "rsa-ca.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_an_admins_own_rsa_ca_signs_user_certificates(tmp_path: Path) -> None:
    cert_path, key_path = _rsa_ca(tmp_path)
    ca = pki.load(cert_path, key_path)
    assert pki.is_ca_pair(ca)
    leaf = pki.issue(ca, "alice")
    assert pki.signed_by(leaf.cert_pem, ca.cert_pem)
    other = pki.create_ca()
    assert not pki.is_ca_pair(pki.Issued(ca.cert_pem, other.key_pem))  # key of another CA
    assert not pki.is_ca_pair(leaf)  # a leaf is no CA


def test_kafka_settings_check_the_ca_pair_and_the_format(home: Path, tmp_path: Path) -> None:
    props = tmp_path / "admin.properties"
    props.write_text(f"bootstrap.servers=k:1\nssl.ca.location={tmp_path / 'server-ca.pem'}\n")
    cert_path, key_path = _rsa_ca(tmp_path)
    wrong_key = tmp_path / "other.key"
    wrong_key.write_bytes(pki.create_ca().key_pem)
    with pytest.raises(UsageError, match="not the private key"):
        kafka_settings(props, (cert_path, wrong_key), None, "{cn}", None)
    with pytest.raises(UsageError, match="must contain"):
        kafka_settings(props, (cert_path, key_path), None, "CN=x", None)
    settings, _, notes = kafka_settings(props, None, None, "{cn}", 3)
    assert settings["server_ca"] == str(tmp_path / "server-ca.pem")
    assert any("trust store" in n for n in notes)  # chok made a CA the cluster must trust
    assert "password" not in json.dumps(settings)
    props.write_text("bootstrap.servers=k:1\n")
    with pytest.raises(UsageError, match="--server-ca"):
        kafka_settings(props, None, None, "{cn}", None)


def test_token_from_the_environment_or_a_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIVEN_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="AIVEN_TOKEN"):
        load_token(None)
    monkeypatch.setenv("AIVEN_TOKEN", " tok-from-env \n")
    assert load_token(None) == "tok-from-env"
    token_file = tmp_path / "token"
    token_file.write_text("tok-from-file\n")
    os.chmod(token_file, 0o644)
    with pytest.raises(ConfigError, match="readable by other users"):
        load_token(token_file)
    os.chmod(token_file, 0o600)
    assert load_token(token_file) == "tok-from-file"
    with pytest.raises(ConfigError, match="cannot read"):
        load_token(tmp_path / "missing")


def test_free_plan_capacity() -> None:
    fit, note = aiven_backend.capacity_note("free-0")
    assert fit == 2 and "5 topics" in note and "58 listeners" in note
    assert aiven_backend.capacity_note("business-4")[0] is None
    assert aiven_backend.username("alice", 1) == "chok-alice"
    assert aiven_backend.username("alice", 3) == "chok-alice.3"
