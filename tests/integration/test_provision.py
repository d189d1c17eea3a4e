"""The admin's whole provisioning story on the real local broker, through the real CLI."""

from __future__ import annotations

import json
import shutil
import stat
import time
import zipfile
from pathlib import Path

import pytest
from confluent_kafka import Producer

from chok import pki
from chok.errors import AccessDeniedError
from chok.kafka.admin import Admin
from chok.protocol.client_config import parse_client_config
from tests.conftest import LocalCluster, assert_clean_error, run_chok
from tests.kafka_helpers import produce_one, read_from
from tests.provision_helpers import (
    denied,
    profile_creds,
    read_links,
    start_serve,
    unique,
)

pytestmark = pytest.mark.broker


@pytest.fixture
def second_admin(cluster: LocalCluster, tmp_path: Path) -> Path:
    """Another admin home on the same local broker, with a registry of its own.

    Tests that add channels use it: the session's registry must keep exactly
    channels 1 and 2, which other tests rely on.
    """
    home = tmp_path / "second-admin"
    shutil.copytree(
        cluster.home / "cluster",
        home / "cluster",
        ignore=shutil.ignore_patterns("users", "registry.json"),
    )
    (home / "broker").mkdir()
    for name in ("broker.json", "broker.pid", "started_at"):
        shutil.copy2(cluster.home / "broker" / name, home / "broker" / name)
    init = run_chok("admin", "init", home=home)
    assert init.code == 0, init.err
    return home


def _add(name: str, out: Path, *extra: str, home: Path | None = None) -> dict[str, object]:
    result = run_chok("admin", "add-user", name, "--out", str(out), "--json", *extra, home=home)
    assert result.code == 0, result.err
    info: dict[str, object] = json.loads(result.out)
    return info


def _join(bundle: Path, home: Path) -> None:
    result = run_chok("join", str(bundle), home=home)
    assert result.code == 0, result.err


def _users() -> dict[str, dict[str, object]]:
    result = run_chok("admin", "list-users", "--json")
    assert result.code == 0, result.err
    return {u["name"]: u for u in json.loads(result.out)}


def test_add_list_get_bundle_and_join(cluster: LocalCluster, tmp_path: Path) -> None:
    name = unique("nina")
    info = _add(name, tmp_path, "--channels", "1")
    bundle = Path(str(info["bundle"]))
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    listed = _users()[name]
    assert listed["channels"] == [1] and listed["revoked"] is False
    assert listed["created"] and listed["cert_expires"] and listed["generation"] == 1

    # get-bundle hands over the same identity again: no new certificate.
    again = run_chok("admin", "get-bundle", name, "--out", str(tmp_path / "again.chok"))
    assert again.code == 0, again.err
    with zipfile.ZipFile(bundle) as first, zipfile.ZipFile(tmp_path / "again.chok") as second:
        assert first.read("client.pem") == second.read("client.pem")
        assert first.read("client.key") == second.read("client.key")

    person = tmp_path / "nina-laptop"
    _join(bundle, person)
    creds = profile_creds(person, name)
    offset = produce_one(creds, "chok-audio-1", b"hi from nina")
    assert isinstance(offset, int), offset
    assert read_from(creds, "chok-audio-1", offset, name) == b"hi from nina"
    assert denied(produce_one(creds, "chok-audio-2", b"not mine"))


def test_rotation_retires_the_old_certificate(cluster: LocalCluster, tmp_path: Path) -> None:
    name = unique("otto")
    (tmp_path / "g1").mkdir()
    _add(name, tmp_path / "g1")
    old_home = tmp_path / "old"
    _join(tmp_path / "g1" / f"{name}.chok", old_home)
    old = profile_creds(old_home, name)
    assert isinstance(produce_one(old, "chok-audio-1", b"gen 1"), int)

    rotated = run_chok("admin", "rotate-user", name, "--out", str(tmp_path / "g2.chok"), "--json")
    assert rotated.code == 0, rotated.err
    assert json.loads(rotated.out)["generation"] == 2
    new_home = tmp_path / "new"
    _join(tmp_path / "g2.chok", new_home)
    new = profile_creds(new_home, name)
    assert pki.common_name(new.cert.read_bytes()) == f"{name}.2"
    assert isinstance(produce_one(new, "chok-audio-1", b"gen 2"), int)
    assert denied(produce_one(old, "chok-audio-1", b"old cert")), "the old certificate still works"

    # get-bundle --rotate is the same operation.
    third = run_chok("admin", "get-bundle", name, "--rotate", "--out", str(tmp_path / "g3.chok"))
    assert third.code == 0, third.err
    assert denied(produce_one(new, "chok-audio-1", b"gen 2 after rotation"))
    assert _users()[name]["generation"] == 3


def test_revocation_is_immediate_and_explained(cluster: LocalCluster, tmp_path: Path) -> None:
    name = unique("rita")
    _add(name, tmp_path)
    person = tmp_path / "rita-phone"
    _join(tmp_path / f"{name}.chok", person)
    creds = profile_creds(person, name)
    # A client that is already connected and working when the admin revokes.
    errors: list[object] = []
    producer = Producer({**creds.librdkafka(), "message.timeout.ms": 10000})
    producer.produce(
        "chok-audio-1", b"before", partition=0, on_delivery=lambda e, m: errors.append(e)
    )
    producer.flush(15)
    assert errors == [None]

    revoked = run_chok("admin", "revoke-user", name, "--json")
    assert revoked.code == 0, revoked.err
    assert json.loads(revoked.out)["revoked"] is True

    began = time.monotonic()
    producer.produce(
        "chok-audio-1", b"after", partition=0, on_delivery=lambda e, m: errors.append(e)
    )
    producer.flush(15)
    assert len(errors) == 2 and denied(errors[1]), errors
    assert time.monotonic() - began < 12, "a revoked client must fail fast, not hang"
    with pytest.raises(AccessDeniedError, match="access revoked"):
        Admin(creds).verify_access(["chok-audio-1", "chok-metadata-1", "chok-audio-2"])

    assert _users()[name]["revoked"] is True
    line = assert_clean_error(run_chok("admin", "get-bundle", name), code=2)
    assert "revoked" in line
    assert not (cluster.home / "cluster" / "users" / name).exists()  # no key kept for nobody
    assert run_chok("admin", "revoke-user", name).code == 0  # idempotent

    # Letting them back in issues a new generation; the old one stays dead.
    back = run_chok("admin", "add-user", name, "--force", "--out", str(tmp_path / "back.chok"))
    assert back.code == 0, back.err
    assert denied(produce_one(creds, "chok-audio-1", b"old again"))
    _join(tmp_path / "back.chok", tmp_path / "back-home")
    assert isinstance(
        produce_one(profile_creds(tmp_path / "back-home", name), "chok-audio-1", b"ok"), int
    )


def test_member_check_names_a_single_lost_channel(cluster: LocalCluster, tmp_path: Path) -> None:
    name = unique("mo")
    _add(name, tmp_path)
    _join(tmp_path / f"{name}.chok", tmp_path / "h")
    creds = profile_creds(tmp_path / "h", name)
    Admin(creds).verify_access(["chok-audio-1", "chok-audio-2"])  # a member of both
    assert run_chok("admin", "deny", name, "2").code == 0
    with pytest.raises(AccessDeniedError, match="chok-audio-2: you are no longer a member"):
        Admin(creds).verify_access(["chok-audio-1", "chok-audio-2"])


def test_channels_grant_and_deny(second_admin: Path, tmp_path: Path) -> None:
    home = second_admin
    channel_name = unique("Garden")
    added = run_chok("admin", "add-channel", channel_name, "--json", home=home)
    assert added.code == 0, added.err
    number = json.loads(added.out)["number"]
    assert number == 3
    listing = {
        c["name"]: c
        for c in json.loads(run_chok("admin", "list-channels", "--json", home=home).out)
    }
    assert listing[channel_name]["members"] == []
    dup = assert_clean_error(
        run_chok("admin", "add-channel", channel_name.upper(), home=home), code=2
    )
    assert "already" in dup

    name = unique("gus")
    _add(name, tmp_path, "--channels", "1", home=home)
    _join(tmp_path / f"{name}.chok", tmp_path / "gus")
    creds = profile_creds(tmp_path / "gus", name)
    topic = f"chok-audio-{number}"
    assert denied(produce_one(creds, topic, b"not yet"))

    granted = run_chok("admin", "grant", name, channel_name, home=home)
    assert granted.code == 0, granted.err
    assert isinstance(produce_one(creds, topic, b"now a member"), int)
    refreshed = run_chok(
        "admin", "get-bundle", name, "--out", str(tmp_path / "fresh.chok"), home=home
    )
    assert refreshed.code == 0
    with zipfile.ZipFile(tmp_path / "fresh.chok") as zf:
        config = parse_client_config(zf.read("kafka_config.json"))
    assert [c.number for c in config.channels] == [1, number]
    listing = {
        c["name"]: c
        for c in json.loads(run_chok("admin", "list-channels", "--json", home=home).out)
    }
    assert listing[channel_name]["members"] == [name]

    assert run_chok("admin", "deny", name, str(number), home=home).code == 0
    assert denied(produce_one(creds, topic, b"gone again"))
    assert isinstance(produce_one(creds, "chok-audio-1", b"still in 1"), int)
    last = assert_clean_error(run_chok("admin", "deny", name, "1", home=home), code=2)
    assert "only channel" in last and "revoke-user" in last
    attic = run_chok("admin", "grant", name, "Attic", home=home)
    assert "no channel 'Attic'" in assert_clean_error(attic, code=9)
    ghost = run_chok("admin", "grant", "ghost", "1", home=home)
    assert "no user" in assert_clean_error(ghost, code=9)
    # The session's own registry still has exactly its two channels.
    assert len(json.loads(run_chok("admin", "list-channels", "--json").out)) == 2


def test_android_assets_are_the_original_apps_files(cluster: LocalCluster, tmp_path: Path) -> None:
    name = unique("andy")
    _add(name, tmp_path, "--channels", "1,2")
    assets = tmp_path / "app" / "src" / "main" / "assets"
    result = run_chok("admin", "android-assets", name, str(assets))
    assert result.code == 0, result.err
    assert f"-PCHOK_USER_ID={name}" in result.out
    assert sorted(p.name for p in assets.iterdir()) == [
        "ca.pem", "client.key", "client.pem", "kafka_config.json",
    ]  # fmt: skip
    raw = json.loads((assets / "kafka_config.json").read_text())
    assert set(raw) == {"brokerUrl", "channels", "certificates"}  # nothing the app lacks
    assert raw["brokerUrl"] == cluster.bootstrap
    assert raw["channels"][0] == {
        "channelNumber": 1, "channelName": "Main", "audioTopic": "chok-audio-1",
        "audioPartition": 0, "metadataTopic": "chok-metadata-1", "metadataPartition": 0,
    }  # fmt: skip
    assert stat.S_IMODE((assets / "client.key").stat().st_mode) == 0o600
    assert pki.signed_by((assets / "client.pem").read_bytes(), (assets / "ca.pem").read_bytes())


def test_serve_hands_each_bundle_over_once_by_link(cluster: LocalCluster, tmp_path: Path) -> None:
    names = [unique("sam"), unique("sue")]
    for name in names:
        _add(name, tmp_path)
    qr_dir = tmp_path / "qr"
    proc = start_serve(*names, "--host", "127.0.0.1", "--port", "0", "--ttl", "60s",
                       "--qr-dir", str(qr_dir))  # fmt: skip
    try:
        links = read_links(proc, 2)
        assert set(links) == set(names)
        images = sorted(p.name for p in qr_dir.iterdir())
        assert images == sorted(f"{n}-link.{k}" for n in names for k in ("png", "svg"))
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in qr_dir.iterdir())
        # One by argument, one by standard input (keeps the key out of `ps`).
        joined = run_chok("join", links[names[0]], home=tmp_path / names[0])
        assert joined.code == 0, joined.err
        piped = run_chok("join", "-", home=tmp_path / names[1], input_text=links[names[1]] + "\n")
        assert piped.code == 0, piped.err
        assert f"joined as {names[1]}" in piped.out
        proc.wait(timeout=30)  # stops by itself once every bundle was fetched
        out = proc.stdout.read() if proc.stdout else ""
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "done: 2 of 2 bundles fetched" in out
    assert list(qr_dir.iterdir()) == []  # the QR codes (which hold the keys) are gone
    creds = profile_creds(tmp_path / names[0], names[0])
    assert isinstance(produce_one(creds, "chok-metadata-1", b"joined by link"), int)
    again = assert_clean_error(run_chok("join", links[names[0]], home=tmp_path / "x"), code=2)
    assert "cannot reach" in again  # the server is gone; a late copy of the link is useless


def test_serve_stops_by_itself_when_links_expire(cluster: LocalCluster, tmp_path: Path) -> None:
    name = unique("eli")
    _add(name, tmp_path)
    proc = start_serve(name, "--host", "127.0.0.1", "--ttl", "3s", "--json")
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        while "chok join" not in line and line:
            line = proc.stderr.readline()
        link = line.split("'")[1]
        began = time.monotonic()
        proc.wait(timeout=30)
        assert time.monotonic() - began < 20
        summary = json.loads(proc.stdout.read() if proc.stdout else "")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert summary == [{"user": name, "state": "expired", "fetched_from": None}]
    assert link.split("#")[1] not in json.dumps(summary)
    late = run_chok("join", link, home=tmp_path / "late")
    assert_clean_error(late, code=2)
    assert not (tmp_path / "late" / "profiles" / name).exists()
