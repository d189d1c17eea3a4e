"""chok's own state files survive races, crashes and damage (issue 9, item 3).

Real files, real processes: the races are run with threads and with
separate interpreters writing into one CHOK_HOME.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from chok import home, pki, profiles
from chok.errors import ConfigError, ProfileNotFoundError
from chok.protocol.bundle import Bundle
from chok.protocol.client_config import ChannelConfig, ClientConfig


@pytest.fixture
def chok_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "home"
    monkeypatch.setenv("CHOK_HOME", str(root))
    return root


def make_bundle(user: str, broker: str = "localhost:9093") -> Bundle:
    ca = pki.create_ca()
    issued = pki.issue(ca, user)
    config = ClientConfig(
        broker_url=broker,
        channels=[ChannelConfig.standard(1, "Main")],
        extras={"chokUser": user, "chokVersion": 1},
    )
    return Bundle(config, ca.cert_pem, issued.cert_pem, issued.key_pem)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if "tmp" in p.name or p.name.startswith("."))


def test_parallel_atomic_writes_of_one_file_never_fail(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        try:
            for round_ in range(40):
                home.write_atomic(target, f"{number}-{round_}".encode(), mode=0o600)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    number, round_ = target.read_text().split("-")
    assert 0 <= int(number) < 8 and round_ == "39"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary left
    assert target.stat().st_mode & 0o777 == 0o600


def test_atomic_writes_sync_the_file_and_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Recording which descriptors are flushed is all a test can see of fsync.
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    home.write_private(tmp_path / "key.pem", b"secret")
    assert len(synced) == 2
    assert Path(synced[0]).parent == tmp_path and synced[1] == str(tmp_path)


_REMEMBER = """
import sys
from chok import profiles
worker = sys.argv[1]
for n in range(15):
    profiles.remember("p", f"{worker}-{n}", n)
"""


def test_concurrent_remember_keeps_every_key(chok_home: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", _REMEMBER, str(w)], stderr=subprocess.PIPE)
        for w in range(8)
    ]
    failures = [p.stderr.read().decode() for p in procs if p.wait() != 0 and p.stderr]
    assert failures == []
    stored = json.loads((chok_home / "state.json").read_text())["profiles"]["p"]
    assert len(stored) == 8 * 15


def test_a_damaged_state_file_without_backup_is_an_error_saying_what_to_do(
    chok_home: Path,
) -> None:
    chok_home.mkdir()
    (chok_home / "state.json").write_text('{"default": "ali')
    with pytest.raises(ConfigError) as caught:
        profiles.default_name()
    message = str(caught.value)
    assert "state.json" in message and "damaged" in message and "mv " in message
    assert "\n" not in message


def test_a_damaged_state_file_is_restored_from_the_last_good_copy(
    chok_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    profiles.install(make_bundle("alice"), None, force=False)
    profiles.remember("alice", "audio_position_1", 42)
    state = chok_home / "state.json"
    state.write_bytes(b"\x00" * 10)  # a crash of the disk, not of chok
    assert profiles.default_name() == "alice"
    assert profiles.recall("alice", "audio_position_1") == 42
    assert "restored the last good copy" in caplog.text
    assert json.loads(state.read_text())["default"] == "alice"
    assert list(chok_home.glob("state.json.damaged*"))  # kept for a post-mortem


def test_reinstalling_a_profile_never_lets_it_vanish(chok_home: Path) -> None:
    profiles.install(make_bundle("alice"), None, force=False)
    stop = threading.Event()
    missing: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                profiles.load("alice")
            except ProfileNotFoundError as exc:
                missing.append(str(exc))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(30):
            profiles.install(make_bundle("alice"), None, force=True)
    finally:
        stop.set()
        thread.join()
    assert missing == []
    assert leftovers(chok_home / "profiles") == []


def test_an_interrupted_profile_swap_is_recovered(chok_home: Path) -> None:
    first = profiles.install(make_bundle("alice"), None, force=False)
    # As if chok died between "move the old one aside" and "move the new one in".
    aside = first.path.with_name(".alice.old")
    first.path.rename(aside)
    (first.path.parent / ".alice.new-x1y2").mkdir()
    assert profiles.names() == ["alice"]
    assert profiles.load("alice").user == "alice"
    assert leftovers(chok_home / "profiles") == []


def test_the_cli_restores_a_damaged_state_file_with_one_warning(chok_home: Path) -> None:
    from tests.conftest import run_chok

    profiles.install(make_bundle("alice"), None, force=False)
    (chok_home / "state.json").write_text("{garbage")
    result = run_chok("profiles", home=chok_home)
    assert (result.code, result.out) == (0, "* alice\n"), result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chok: warning: "), result.err
    assert "restored the last good copy" in lines[0]
