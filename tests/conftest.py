"""Shared fixtures. The broker fixture starts a real Kafka broker (mTLS, ACLs)
in a throwaway CHOK_HOME on free ports, once per test session."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chok.broker.process import free_port_pair

# Every test runs in its own CHOK_HOME, never the developer's real one.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="chok-test-home-"))
os.environ["CHOK_HOME"] = str(_SESSION_HOME)
os.environ.pop("CHOK_PROFILE", None)

CHOK = [sys.executable, "-m", "chok"]


@dataclass
class RunResult:
    code: int
    out: str
    err: str


def run_chok(
    *args: str,
    home: Path | None = None,
    env: dict[str, str] | None = None,
    input_text: str | None = None,
    timeout: float = 180,
) -> RunResult:
    """Run the real `chok` command as a user would, in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    if home is not None:
        full_env["CHOK_HOME"] = str(home)
    proc = subprocess.run(
        [*CHOK, *args],
        capture_output=True,
        text=True,
        env=full_env,
        input=input_text,
        timeout=timeout,
        check=False,
    )
    return RunResult(proc.returncode, proc.stdout, proc.stderr)


def assert_clean_error(result: RunResult, code: int | None = None) -> str:
    """A failure must be one clear line on stderr, no traceback, non-zero exit."""
    assert result.code != 0, result
    if code is not None:
        assert result.code == code, result
    assert "Traceback" not in result.err, result.err
    lines = [ln for ln in result.err.strip().splitlines() if ln.startswith("chok: error:")]
    assert len(lines) == 1, result.err
    return lines[0]


@dataclass
class LocalCluster:
    home: Path
    port: int

    @property
    def bootstrap(self) -> str:
        return f"localhost:{self.port}"


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    """A real Kafka broker with mTLS and ACLs, channels 1 and 2 created."""
    from chok.broker import process
    from chok.provision import local

    port = free_port_pair()
    process.start(port=port)
    local.init([], 2, lambda _line: None)
    try:
        yield LocalCluster(_SESSION_HOME, port)
    finally:
        process.stop()


_user_counter = iter(range(1_000_000))


@pytest.fixture
def new_user(cluster: LocalCluster, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Factory: provision a fresh user and return their installed profile."""
    from chok import profiles
    from chok.protocol.bundle import read_bundle
    from chok.provision import local

    def make(prefix: str = "user", channels: list[int] | None = None) -> profiles.Profile:
        name = f"{prefix}{next(_user_counter)}"
        bundle, _ = local.add_user(name, channels, force=False)
        return profiles.install(read_bundle(bundle.to_zip()), name, force=True)

    return make


# -- the virtual sound device (scripts/virtual-sound) for the tests marked ``sound`` --
# They skip when it is not running, unless CHOK_REQUIRE_SOUND is set (CI sets
# it, so that a broken set-up fails the run instead of skipping it quietly).

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "virtual-sound"


def _virtual_sound_env() -> dict[str, str] | None:
    """The variables that point clients at the virtual device, or None if it is not running."""
    if not SCRIPT.exists():
        return None
    if subprocess.run([SCRIPT, "status"], capture_output=True).returncode != 0:
        return None
    lines = subprocess.run([SCRIPT, "env"], capture_output=True, text=True, check=True).stdout
    env = {}
    for line in lines.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        if value:
            env[name.strip()] = value.strip()
    return env


@pytest.fixture(scope="session")
def virtual_sound() -> Iterator[None]:
    env = _virtual_sound_env()
    if env is None:
        message = "the virtual sound device is not running: scripts/virtual-sound start"
        if os.environ.get("CHOK_REQUIRE_SOUND"):
            pytest.fail(message + " (CHOK_REQUIRE_SOUND is set)")
        pytest.skip(message)
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    if "sounddevice" in sys.modules:
        # PortAudio reads its devices once, at initialisation: make it look again
        # now that the variables point at the virtual device.
        sd = sys.modules["sounddevice"]
        sd._terminate()
        sd._initialize()
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
