"""Bad input to each foundation command: one clear line, a non-zero exit, no traceback."""

from __future__ import annotations

import io
import json
import os
import socket
import zipfile
from pathlib import Path

import pytest

from tests.conftest import LocalCluster, assert_clean_error, free_port_pair, run_chok


def test_version_and_help_everywhere() -> None:
    assert run_chok("--version").out.startswith("chok")
    for args in (
        ["--help"],
        ["broker", "--help"],
        ["broker", "start", "--help"],
        ["admin", "init", "--help"],
        ["admin", "add-user", "--help"],
        ["join", "--help"],
        ["whoami", "--help"],
    ):
        result = run_chok(*args)
        assert result.code == 0 and "Usage:" in result.out, (args, result)


def test_unknown_command_is_a_usage_error() -> None:
    line = assert_clean_error(run_chok("frobnicate"), code=2)
    assert "frobnicate" in line


def test_whoami_without_profile(tmp_path: Path) -> None:
    line = assert_clean_error(run_chok("whoami", home=tmp_path), code=3)
    assert "chok join" in line


def test_unknown_profile(tmp_path: Path) -> None:
    line = assert_clean_error(run_chok("--profile", "ghost", "whoami", home=tmp_path), code=3)
    assert "ghost" in line


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "no such file"),
        (b"not a zip at all", "not a zip"),
        ("missing-member", "lacks client.key"),
        ("bad-json", "kafka_config.json"),
    ],
)
def test_join_bad_bundles(tmp_path: Path, content: object, words: str) -> None:
    path = tmp_path / "x.chok"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content in ("missing-member", "bad-json"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("kafka_config.json", "{not json" if content == "bad-json" else "{}")
            zf.writestr("ca.pem", "-----BEGIN CERTIFICATE-----\n")
            zf.writestr("client.pem", "-----BEGIN CERTIFICATE-----\n")
            if content == "bad-json":
                zf.writestr("client.key", "-----BEGIN PRIVATE KEY-----\n")
        path.write_bytes(buf.getvalue())
    line = assert_clean_error(run_chok("join", str(path), home=tmp_path / "home"), code=2)
    assert words in line, line


@pytest.mark.broker
@pytest.mark.parametrize("name", ["al ice", "bob!", "", "x" * 65, "dan.o", "ü"])
def test_add_user_rejects_bad_names(cluster: LocalCluster, name: str, tmp_path: Path) -> None:
    line = assert_clean_error(run_chok("admin", "add-user", name, "--out", str(tmp_path)), code=2)
    assert "name" in line


@pytest.mark.broker
def test_add_user_refuses_duplicate_unless_forced(cluster: LocalCluster, tmp_path: Path) -> None:
    assert run_chok("admin", "add-user", "gina", "--out", str(tmp_path)).code == 0
    first = (tmp_path / "gina.chok").read_bytes()
    line = assert_clean_error(run_chok("admin", "add-user", "gina", "--out", str(tmp_path)), code=2)
    assert "already exists" in line and "--force" in line
    assert (tmp_path / "gina.chok").read_bytes() == first  # nothing overwritten on failure
    assert run_chok("admin", "add-user", "gina", "--force", "--out", str(tmp_path)).code == 0
    assert (tmp_path / "gina.chok").read_bytes() != first


@pytest.mark.broker
def test_add_user_unknown_channel(cluster: LocalCluster, tmp_path: Path) -> None:
    line = assert_clean_error(run_chok("admin", "add-user", "hank", "--channels", "7"), code=2)
    assert "channel 7" in line
    assert_clean_error(run_chok("admin", "add-user", "hank", "--channels", "one"), code=2)


def test_init_bad_channel_count(tmp_path: Path) -> None:
    line = assert_clean_error(run_chok("admin", "init", "--channels", "0", home=tmp_path), code=2)
    assert "--channels" in line


def test_add_user_before_init(tmp_path: Path) -> None:
    line = assert_clean_error(run_chok("admin", "add-user", "ivy", home=tmp_path), code=3)
    assert "chok admin init" in line


def test_broker_start_on_busy_port(tmp_path: Path) -> None:
    port = free_port_pair()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        line = assert_clean_error(
            run_chok("broker", "start", "--port", str(port), home=tmp_path), code=5
        )
    assert f"port {port}" in line and "in use" in line


def test_broker_start_without_java(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path / "empty-bin"), "JAVA_HOME": str(tmp_path / "no-jdk")}
    line = assert_clean_error(run_chok("broker", "start", home=tmp_path, env=env), code=4)
    assert "Java" in line and "install" in line


def test_broker_start_with_corrupt_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "broker" / "data"
    data.mkdir(parents=True)
    (data / "chok-audio-1-0").mkdir()  # log dirs but no meta.properties
    port = free_port_pair()
    line = assert_clean_error(
        run_chok("broker", "start", "--port", str(port), home=tmp_path), code=5
    )
    assert "damaged" in line


def test_broker_bad_port(tmp_path: Path) -> None:
    assert_clean_error(run_chok("broker", "start", "--port", "80", home=tmp_path), code=5)
    assert_clean_error(run_chok("broker", "start", "--port", "abc", home=tmp_path), code=2)


def test_status_of_a_stopped_broker(tmp_path: Path) -> None:
    result = run_chok("broker", "status", "--json", home=tmp_path)
    assert result.code == 0
    assert json.loads(result.out)["running"] is False
    assert run_chok("broker", "stop", home=tmp_path).out.strip() == "broker was not running"
    assert os.path.isdir(tmp_path)
