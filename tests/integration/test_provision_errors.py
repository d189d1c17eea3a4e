"""Bad input to the admin commands and to `join`: one clear line, the right exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import LocalCluster, assert_clean_error, run_chok
from tests.provision_helpers import unique


def _home_with_registry(tmp_path: Path, registry: dict[str, object] | str) -> Path:
    home = tmp_path / "home"
    (home / "cluster").mkdir(parents=True)
    text = registry if isinstance(registry, str) else json.dumps(registry)
    (home / "cluster" / "registry.json").write_text(text)
    return home


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["admin", "get-bundle", "ghost"], 9, "no user named 'ghost'"),
        (["admin", "revoke-user", "ghost"], 9, "no user named 'ghost'"),
        (["admin", "rotate-user", "ghost"], 9, "no user named 'ghost'"),
        (["admin", "android-assets", "ghost", "out"], 9, "no user named 'ghost'"),
        (["admin", "grant", "ghost", "1"], 9, "no user named 'ghost'"),
        (["admin", "serve"], 2, "nobody to serve"),
        (["admin", "serve", "--ttl", "soon"], 2, "not a duration"),
        (["admin", "serve", "--port", "70000"], 2, "--port"),
        (["admin", "add-channel", "12"], 2, "only digits"),
        (["admin", "add-channel", " "], 2, "channel name"),
        (["admin", "add-user", "a" * 59], 2, "at most 58"),
        (["admin", "add-user", "chok-admin"], 2, "reserved"),
        (["admin", "init", "--backend", "aiven"], 2, "--project"),
        (
            [
                "admin",
                "init",
                "--backend",
                "aiven",
                "--project",
                "p",
                "--service",
                "s",
                "--wait",
                "x",
            ],
            2,
            "not a duration",
        ),
        (
            ["admin", "init", "--host", "h", "--backend", "kafka", "--admin-config", "a"],
            2,
            "--host",
        ),
        (["admin", "init", "--backend", "cloud"], 2, "cloud"),
        (["join", "http://127.0.0.1:9/bundle/AAAAAAAAAAAAAAAAAAAAAA"], 2, "secret part"),
        (["join", "http://127.0.0.1:9/other#x"], 2, "not a chok bundle link"),
        (["join", "-"], 2, "standard input"),
    ],
)
def test_admin_errors_without_a_cluster(
    tmp_path: Path, args: list[str], code: int, words: str
) -> None:
    result = run_chok(*args, home=tmp_path / "empty", input_text="")
    line = assert_clean_error(result, code=code)
    assert words in line, line


def test_commands_before_init(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    listed = run_chok("admin", "list-users", home=home)
    assert listed.code == 0 and "no users yet" in listed.out
    assert json.loads(run_chok("admin", "list-channels", "--json", home=home).out) == []
    line = assert_clean_error(run_chok("admin", "add-channel", "Garden", home=home), code=3)
    assert "chok admin init" in line


def test_a_stopped_local_broker_is_named(tmp_path: Path) -> None:
    home = _home_with_registry(
        tmp_path,
        {
            "backend": "local",
            "bootstrap": "localhost:1",
            "channels": [{"number": 1, "name": "Main"}],
        },
    )
    line = assert_clean_error(run_chok("admin", "add-user", "zed", home=home), code=3)
    assert "local broker is not running" in line
    assert not (home / "cluster" / "users" / "zed").exists()


def test_a_damaged_registry_is_reported(tmp_path: Path) -> None:
    home = _home_with_registry(tmp_path, "{half a file")
    line = assert_clean_error(run_chok("admin", "list-users", home=home), code=3)
    assert "damaged" in line


def test_join_of_a_path_through_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    line = assert_clean_error(run_chok("join", str(tmp_path / "file" / "a.chok")), code=2)
    assert "cannot read" in line


@pytest.mark.broker
def test_errors_about_existing_people(cluster: LocalCluster, tmp_path: Path) -> None:
    name = unique("err")
    assert run_chok("admin", "add-user", name, "--out", str(tmp_path)).code == 0
    (tmp_path / "a-file").write_text("not a directory")
    bad_dir = run_chok("admin", "android-assets", name, str(tmp_path / "a-file"))
    assert "is a file" in assert_clean_error(bad_dir, code=2)
    assert "no channel 9" in assert_clean_error(
        run_chok("admin", "add-user", unique("x"), "--channels", "9"), code=2
    )
    assert run_chok("admin", "revoke-user", name).code == 0
    assert "revoked" in assert_clean_error(run_chok("admin", "rotate-user", name), code=2)
    assert "revoked" in assert_clean_error(run_chok("admin", "grant", name, "2"), code=2)
    assert "revoked" in assert_clean_error(run_chok("admin", "android-assets", name, "x"), code=2)
    assert "revoked" in assert_clean_error(run_chok("admin", "serve", name), code=2)
