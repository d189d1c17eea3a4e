"""Where chok keeps its state: one directory, ``$CHOK_HOME`` or the user data dir.

Layout (everything chok writes lives below this root)::

    <home>/
      cluster/            the local cluster's CA, broker and admin certificates
      broker/             the local broker: config, data (KRaft log dirs), log, pid
      cluster/users/      the admin's 0600 copies of people's current keys
      profiles/<name>/    one joined bundle each (kafka_config.json + PEMs)
      state.json          which profile is the default, listening positions
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "chok"


def chok_home() -> Path:
    """Return chok's root directory, creating it (0700) when missing."""
    override = os.environ.get("CHOK_HOME")
    root = Path(override).expanduser() if override else Path(platformdirs.user_data_dir(APP_NAME))
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def subdir(*parts: str) -> Path:
    """Return (and create, 0700 at every level) a directory below chok's root."""
    path = chok_home()
    for part in parts:
        path = path / part
        path.mkdir(exist_ok=True, mode=0o700)  # mkdir(parents=True) would use the umask
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file readable by its owner only (0600), never briefly wider."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a file atomically so a crash never leaves half of it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)
