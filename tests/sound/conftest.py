"""The virtual sound device (scripts/virtual-sound) for the tests marked ``sound``.

They skip when it is not running, unless CHOK_REQUIRE_SOUND is set (CI sets
it, so that a broken set-up fails the run instead of skipping it quietly).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "virtual-sound"


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
