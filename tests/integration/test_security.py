"""docs/security.md, row by row, against the real broker (mTLS + StandardAuthorizer).

Each test names the row of the access matrix or the threat it checks.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import stat
import time
import urllib.request
import uuid
import zipfile
from pathlib import Path

import pytest
from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from chok import pki
from chok.errors import AccessDeniedError, BadBundleError, ChokError
from chok.kafka.admin import Admin, TopicSpec
from chok.kafka.client import Credentials
from chok.pki.cluster import cluster_files
from chok.provision import access, handover, service
from chok.provision.local import admin_client
from tests.conftest import LocalCluster, run_chok
from tests.kafka_helpers import produce_one, read_from
from tests.provision_helpers import (
    cmdline,
    denied,
    handshake_refused,
    key_fragments,
    profile_creds,
    read_links,
    read_until,
    start_serve,
    unique,
)

pytestmark = pytest.mark.broker


def _person(tmp_path: Path, prefix: str, channels: str = "1") -> tuple[str, Credentials]:
    name = unique(prefix)
    added = run_chok("admin", "add-user", name, "--channels", channels, "--out", str(tmp_path))
    assert added.code == 0, added.err
    home = tmp_path / f"{name}-home"
    assert run_chok("join", str(tmp_path / f"{name}.chok"), home=home).code == 0
    return name, profile_creds(home, name)


def _commit(creds: Credentials, group: str) -> object:
    """Commit an offset for a consumer group (OffsetCommit: READ on the group)."""
    client = AdminClient({**creds.librdkafka()})
    request = ConsumerGroupTopicPartitions(group, [TopicPartition("chok-audio-1", 0, 0)])
    future = client.alter_consumer_group_offsets([request], request_timeout=15)[group]
    try:
        future.result(timeout=20)
        return None
    except KafkaException as exc:
        return exc.args[0]


def _group_offsets(creds: Credentials, group: str) -> object:
    """Read a group's committed offsets (OffsetFetch): None or the error."""
    client = AdminClient({**creds.librdkafka()})
    request = ConsumerGroupTopicPartitions(group, [TopicPartition("chok-audio-1", 0)])
    future = client.list_consumer_group_offsets([request], request_timeout=15)[group]
    try:
        future.result(timeout=20)
        return None
    except KafkaException as exc:
        return exc.args[0]


def _read_refused(creds: Credentials, topic: str, user: str) -> bool:
    """True when the broker refuses to describe the topic and list its offsets,
    and no record arrives: this principal cannot read it."""
    if Admin(creds).topic_access([topic])[topic] != "denied":
        return False
    consumer = Consumer({**creds.librdkafka(), "group.id": f"{access.group_prefix(user)}t"})
    try:
        try:
            consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
            return False
        except KafkaException as exc:
            # The client could not even learn the partition: metadata was refused.
            refused = (KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError._UNKNOWN_PARTITION)
            if exc.args[0].code() not in refused:
                return False
        consumer.assign([TopicPartition(topic, 0, 0)])
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                return False
        return True
    finally:
        consumer.close()


# --- Row: a member reads and writes exactly their channels --------------------------


def test_member_reads_and_writes_their_channel_and_nothing_else(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    name, creds = _person(tmp_path, "mem")
    for topic in ("chok-audio-1", "chok-metadata-1"):
        offset = produce_one(creds, topic, b"mine")
        assert isinstance(offset, int), offset
        assert read_from(creds, topic, offset, name) == b"mine"
        assert not _read_refused(creds, topic, name)  # the check can tell a member
    for topic in ("chok-audio-2", "chok-metadata-2"):
        assert denied(produce_one(creds, topic, b"intrude")), topic
        assert _read_refused(creds, topic, name), topic


# --- Row: nobody but the admin changes topics or ACLs -------------------------------


def test_a_user_cannot_create_delete_or_reconfigure_topics_or_acls(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    name, creds = _person(tmp_path, "adm")
    user = Admin(creds, timeout=10)
    new_topic = f"chok-audio-{900 + uuid.uuid4().int % 99}"
    with pytest.raises(AccessDeniedError):
        user.create_topics([TopicSpec(new_topic, 1, 1, {})])
    with pytest.raises(AccessDeniedError):
        user.delete_topics(["chok-audio-1"])  # not even their own channel's
    with pytest.raises(AccessDeniedError):
        user.alter_topic_config("chok-audio-1", {"retention.ms": "1000"})
    with pytest.raises(AccessDeniedError):
        user.grant(access.channel_grants(name, 2))  # granting themselves channel 2
    with pytest.raises(AccessDeniedError):
        user.revoke_all("chok-admin")
    assert user.acls_of(name) == []  # they cannot even read the ACLs
    admin, _ = admin_client()
    assert "chok-audio-1" in admin.topics() and new_topic not in admin.topics()
    # Their grants are untouched: 12 for channels and groups, 5 for the family's topics.
    assert len(admin.acls_of(name)) == 12 + 5


# --- Row: a consumer group prefix belongs to one person -----------------------------


def test_a_user_cannot_use_another_users_groups(cluster: LocalCluster, tmp_path: Path) -> None:
    name, creds = _person(tmp_path, "grp")
    other, _ = _person(tmp_path, "oth")
    own = f"{access.group_prefix(name)}replay"
    assert _commit(creds, own) is None
    assert _group_offsets(creds, own) is None
    for group in (f"{access.group_prefix(other)}replay", "some-random-group"):
        for err in (_commit(creds, group), _group_offsets(creds, group)):
            assert denied(err), (group, err)


# --- Row: revoked and retired certificates get nothing ------------------------------


def test_revoked_user_is_refused_with_a_clear_error(cluster: LocalCluster, tmp_path: Path) -> None:
    name, creds = _person(tmp_path, "rev", "1,2")
    assert isinstance(produce_one(creds, "chok-audio-2", b"before"), int)
    service.revoke_user(name)
    topics = ["chok-audio-1", "chok-metadata-1", "chok-audio-2", "chok-metadata-2"]
    with pytest.raises(AccessDeniedError, match="access revoked") as caught:
        Admin(creds).verify_access(topics)
    assert caught.value.exit_code == 7 and "\n" not in str(caught.value)
    for topic in topics:
        assert denied(produce_one(creds, topic, b"after")), topic


def test_a_rotated_away_certificate_is_refused(cluster: LocalCluster, tmp_path: Path) -> None:
    name, old = _person(tmp_path, "rot")
    _, record = service.rotate_user(name)
    assert record.principal == f"{name}.2"
    admin, _ = admin_client()
    assert admin.acls_of(name) == []  # the old principal holds nothing
    assert denied(produce_one(old, "chok-audio-1", b"old"))
    with pytest.raises(AccessDeniedError, match="access revoked"):
        Admin(old).verify_access(["chok-audio-1", "chok-metadata-1"])


# --- Row: only this cluster's valid certificates pass the handshake -----------------


def _creds_for(issued: pki.Issued, cluster: LocalCluster, directory: Path) -> Credentials:
    issued.save(directory / "c.pem", directory / "c.key")
    return Credentials(
        cluster.bootstrap, cluster_files().ca_cert, directory / "c.pem", directory / "c.key"
    )


def test_a_certificate_from_another_ca_is_refused_at_the_handshake(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    rogue = pki.issue(pki.create_ca("rogue CA"), "chok-admin")  # even claiming the admin's name
    creds = _creds_for(rogue, cluster, tmp_path)
    assert handshake_refused(produce_one(creds, "chok-audio-1", b"x", timeout=8))
    with pytest.raises(ChokError):
        Admin(creds, timeout=8).ping(timeout=8)


def test_an_expired_certificate_is_refused_at_the_handshake(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    ca = pki.load(cluster_files().ca_cert, cluster_files().ca_key)
    cn = unique("expired")
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    expired = pki.issue(ca, cn, not_before=start, days=1)
    admin, _ = admin_client()
    admin.grant(access.user_grants(cn, [1]))  # ACLs allow it: only the expiry stops it
    creds = _creds_for(expired, cluster, tmp_path)
    assert handshake_refused(produce_one(creds, "chok-audio-1", b"x", timeout=8))
    (tmp_path / "fresh").mkdir()
    fresh = _creds_for(pki.issue(ca, cn), cluster, tmp_path / "fresh")
    assert isinstance(produce_one(fresh, "chok-audio-1", b"same name, valid"), int)


# --- Threat: someone watching the network during the hand-over ----------------------


def test_an_eavesdropper_gets_no_usable_key(cluster: LocalCluster, tmp_path: Path) -> None:
    name, other = unique("eve"), unique("ida")
    for person in (name, other):
        assert run_chok("admin", "add-user", person, "--out", str(tmp_path)).code == 0
    proc = start_serve(
        name, other, "--host", "127.0.0.1", "--ttl", "60s", "--qr-dir", str(tmp_path / "q")
    )
    try:
        link = read_links(proc, 2)[name]
        seen_on_the_wire = handover.parse_link(link).url  # the request line: no fragment
        assert "#" not in seen_on_the_wire
        key_part = link.split("#")[1]
        assert key_part not in cmdline(proc.pid)
        # The eavesdropper replays the request first and gets the ciphertext.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(seen_on_the_wire, timeout=10) as response:
            stolen = response.read()
        assert b"PRIVATE KEY" not in stolen and b"BEGIN CERTIFICATE" not in stolen
        assert not zipfile.is_zipfile(io.BytesIO(stolen))
        guess = handover.parse_link(f"{seen_on_the_wire}#{'A' * 43}")
        with pytest.raises(BadBundleError, match="could not be decrypted"):
            handover.open_sealed(stolen, guess)
        # The real person's join then fails loudly, so the admin knows to re-issue.
        late = run_chok("join", link, home=tmp_path / "victim")
        assert late.code == 2 and "already used" in late.err
        fetched = read_until(proc, "bundle fetched by")
        assert fetched.startswith(f"{name}: bundle fetched by 127.0.0.1"), fetched
    finally:
        proc.kill()
        proc.wait(timeout=10)
    # It was the real bundle: with the link's key (which never crossed the wire) it opens.
    opened = handover.open_sealed(stolen, handover.parse_link(link))
    assert zipfile.ZipFile(io.BytesIO(opened)).read("client.key").startswith(b"-----BEGIN")


# --- Threat: secrets lying around --------------------------------------------------


def test_private_keys_are_readable_by_their_owner_only(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    name, creds = _person(tmp_path, "perm")
    files = cluster_files()
    keys = [files.ca_key, files.broker_key, files.admin_key, files.broker_keystore]
    keys += [cluster.home / "cluster" / "users" / name / "client.key", creds.key]
    keys += [tmp_path / f"{name}.chok"]
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    for directory in (
        cluster.home / "cluster" / "users",
        cluster.home / "cluster" / "users" / name,
    ):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory


def test_no_secret_in_logs_json_or_registry(cluster: LocalCluster, tmp_path: Path) -> None:
    name, creds = _person(tmp_path, "leak", "1,2")
    outputs = [
        run_chok("admin", "list-users", "--json"),
        run_chok("admin", "get-bundle", name, "--json", "--out", str(tmp_path / "b.chok")),
        run_chok("admin", "rotate-user", name, "--json", "--out", str(tmp_path / "c.chok")),
        run_chok("admin", "list-channels", "--json"),
        run_chok("admin", "init", "--json"),
        run_chok("whoami", "--json", home=creds.key.parent.parent.parent),
    ]
    assert all(o.code == 0 for o in outputs), [o.err for o in outputs]
    home = cluster.home
    key_files = [*home.glob("cluster/*.key"), *home.glob("cluster/users/*/client.key")]
    secrets = key_fragments([p.read_bytes() for p in key_files] + [creds.key.read_bytes()])
    assert len(secrets) >= 8
    logs = [p for p in (home / "broker" / "logs").iterdir() if p.is_file()]
    assert logs, "the broker wrote no log to check"
    texts = {str(p): p.read_text(errors="replace") for p in logs}
    texts["registry.json"] = (home / "cluster" / "registry.json").read_text()
    texts.update({f"output {i}": o.out + o.err for i, o in enumerate(outputs)})
    for where, text in texts.items():
        assert "PRIVATE KEY" not in text, where
        for secret in secrets:
            assert secret not in text, f"a private key leaked into {where}"
    for record in json.loads(outputs[0].out):
        assert set(record) <= {
            "name", "channels", "created", "cert_expires", "cert_serial", "revoked",
            "generation", "principal", "revoked_at", "rotated_at", "display_name",
        }  # fmt: skip
