"""The kafka backend against a real cluster the admin holds admin credentials for.

That cluster is the test broker itself: the admin's client settings name the
broker's chok-admin certificate, and provisioning runs in a separate
CHOK_HOME, so chok knows it only as "some Kafka cluster".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chok.errors import AccessDeniedError
from chok.kafka.admin import Admin
from chok.pki.cluster import cluster_files
from tests.conftest import LocalCluster, assert_clean_error, run_chok
from tests.kafka_helpers import produce_one
from tests.provision_helpers import denied, handshake_refused, profile_creds, unique

pytestmark = pytest.mark.broker


def _admin_config(cluster: LocalCluster, directory: Path, fmt: str = "properties") -> Path:
    files = cluster_files()
    settings = {
        "bootstrap.servers": f"127.0.0.1:{cluster.port}",
        "security.protocol": "SSL",
        "ssl.ca.location": str(files.ca_cert),
        "ssl.certificate.location": str(files.admin_cert),
        "ssl.key.location": str(files.admin_key),
        "ssl.endpoint.identification.algorithm": "https",
    }
    directory.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        path = directory / "admin.json"
        path.write_text(json.dumps(settings))
    else:
        path = directory / "admin.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    return path


def test_the_whole_story_through_the_admin_api(cluster: LocalCluster, tmp_path: Path) -> None:
    home = tmp_path / "kafka-admin"
    files = cluster_files()
    init = run_chok(
        "admin", "init", "--backend", "kafka",
        "--admin-config", str(_admin_config(cluster, tmp_path, "json")),
        "--ca-cert", str(files.ca_cert), "--ca-key", str(files.ca_key),
        "--user-bootstrap", cluster.bootstrap, "--json",
        home=home,
    )  # fmt: skip
    assert init.code == 0, init.err
    result = json.loads(init.out)
    assert result["backend"] == "kafka" and result["bootstrap"] == cluster.bootstrap
    assert [c["name"] for c in result["channels"]] == ["Main", "Secondary"]
    assert not any("WARNING" in n for n in result["notes"])  # the broker enforces ACLs

    channel = run_chok("admin", "add-channel", unique("Kitchen"), "--json", home=home)
    assert channel.code == 0, channel.err
    number = json.loads(channel.out)["number"]
    assert (
        f"chok-audio-{number}"
        in Admin(None, raw=json.loads((tmp_path / "admin.json").read_text())).topics()
    )

    name = unique("kim")
    added = run_chok(
        "admin", "add-user", name, "--channels", "1", "--out", str(tmp_path), home=home
    )
    assert added.code == 0, added.err
    person = tmp_path / "kim-laptop"
    assert run_chok("join", str(tmp_path / f"{name}.chok"), home=person).code == 0
    creds = profile_creds(person, name)
    assert isinstance(produce_one(creds, "chok-audio-1", b"via the kafka backend"), int)
    assert denied(produce_one(creds, "chok-audio-2", b"not a member"))
    topic = f"chok-audio-{number}"
    assert denied(produce_one(creds, topic, b"not yet"))
    assert run_chok("admin", "grant", name, str(number), home=home).code == 0
    assert isinstance(produce_one(creds, topic, b"granted"), int)
    assert run_chok("admin", "deny", name, str(number), home=home).code == 0
    assert denied(produce_one(creds, topic, b"denied again"))

    rotated = run_chok("admin", "rotate-user", name, "--out", str(tmp_path / "r.chok"), home=home)
    assert rotated.code == 0, rotated.err
    assert denied(produce_one(creds, "chok-audio-1", b"old generation"))
    assert run_chok("join", str(tmp_path / "r.chok"), "--force", home=person).code == 0
    assert isinstance(produce_one(profile_creds(person, name), "chok-audio-1", b"new"), int)

    assert run_chok("admin", "revoke-user", name, home=home).code == 0
    with pytest.raises(AccessDeniedError, match="access revoked"):
        Admin(profile_creds(person, name)).verify_access(["chok-audio-1", "chok-metadata-1"])

    users = json.loads(run_chok("admin", "list-users", "--json", home=home).out)
    assert [(u["name"], u["revoked"], u["generation"]) for u in users] == [(name, True, 2)]
    # The session's own (local) registry never heard of this person.
    local_users = json.loads(run_chok("admin", "list-users", "--json").out)
    assert name not in {u["name"] for u in local_users}


def test_a_ca_the_cluster_does_not_trust_is_reported_and_refused(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    home = tmp_path / "own-ca-admin"
    init = run_chok(
        "admin", "init", "--backend", "kafka",
        "--admin-config", str(_admin_config(cluster, tmp_path)),
        "--user-bootstrap", cluster.bootstrap,
        home=home,
    )  # fmt: skip
    assert init.code == 0, init.err
    assert "add it to the brokers' client trust store" in init.out
    name = unique("una")
    assert run_chok("admin", "add-user", name, "--out", str(tmp_path), home=home).code == 0
    assert run_chok("join", str(tmp_path / f"{name}.chok"), home=tmp_path / "p").code == 0
    creds = profile_creds(tmp_path / "p", name)
    # chok's new CA is not in the broker's trust store: the handshake fails.
    assert handshake_refused(produce_one(creds, "chok-audio-1", b"x", timeout=8))


def test_bad_kafka_backend_input(cluster: LocalCluster, tmp_path: Path) -> None:
    home = tmp_path / "h"
    line = assert_clean_error(run_chok("admin", "init", "--backend", "kafka", home=home), code=2)
    assert "--admin-config" in line
    missing = run_chok(
        "admin", "init", "--backend", "kafka", "--admin-config", str(tmp_path / "nope"), home=home
    )
    assert "no such admin client configuration" in assert_clean_error(missing, code=2)
    half = run_chok(
        "admin", "init", "--backend", "kafka", "--admin-config",
        str(_admin_config(cluster, tmp_path)), "--ca-cert", "x.pem", home=home,
    )  # fmt: skip
    assert "--ca-key" in assert_clean_error(half, code=2)
    wrong = run_chok("admin", "init", "--project", "p", home=home)
    assert "--project is for --backend aiven" in assert_clean_error(wrong, code=2)
    dead = tmp_path / "dead.properties"
    dead.write_text(
        f"bootstrap.servers=127.0.0.1:1\nsecurity.protocol=SSL\n"
        f"ssl.ca.location={cluster_files().ca_cert}\n"
    )
    unreachable = run_chok(
        "admin", "init", "--backend", "kafka", "--admin-config", str(dead), home=home
    )
    line = assert_clean_error(unreachable, code=6)
    # Said at once (a plain connection is refused), not after librdkafka's 20 s.
    assert "cannot reach the cluster at 127.0.0.1:1 (connection refused)" in line, line
    # Nothing was half set up by the failures above.
    assert not (home / "cluster" / "registry.json").exists()
    # A local home refuses to become a kafka one.
    other = run_chok(
        "admin",
        "init",
        "--backend",
        "kafka",
        "--admin-config",
        str(_admin_config(cluster, tmp_path)),
    )
    assert "already provisions a local cluster" in assert_clean_error(other, code=2)
