"""Small real filesystems for tests: a tmpfs that a test fills or makes read-only.

Mounting needs root (CI runs as root); elsewhere the tests that need one skip.
Every mount is undone when the test ends.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class SmallDisk:
    path: Path

    def read_only(self) -> None:
        _mount("-o", "remount,ro", str(self.path))

    def writable(self) -> None:
        _mount("-o", "remount,rw", str(self.path))

    def fill(self, leave: int = 0) -> None:
        """Take all free space (but ``leave`` bytes) with a file named .ballast."""
        ballast = self.path / ".ballast"
        fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            while os.write(fd, b"\0" * 1024):
                pass
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
        finally:
            os.close(fd)
        if leave:
            os.truncate(ballast, max(0, ballast.stat().st_size - leave))

    def entries(self) -> set[str]:
        """What is on the disk besides the ballast (to see leftovers)."""
        return {str(p.relative_to(self.path)) for p in self.path.rglob("*")} - {".ballast"}


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def can_mount() -> bool:
    return os.geteuid() == 0


@contextlib.contextmanager
def small_disk(where: Path, size: str = "64k") -> Iterator[SmallDisk]:
    if not can_mount():
        pytest.skip("mounting a small tmpfs needs root")
    where.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where))
    try:
        yield SmallDisk(where)
    finally:
        result = subprocess.run(["umount", str(where)], capture_output=True, check=False)
        if result.returncode != 0:  # still busy: detach it now, freed when released
            subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)
