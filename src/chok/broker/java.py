"""Find the system JDK (>= 17) that runs the local broker."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from chok.errors import JavaNotFoundError

MIN_JAVA = 17
INSTALL_HINT = "install a JDK 17 or newer, e.g. `sudo apt install openjdk-17-jre-headless`"


def find_java() -> Path:
    """Return the java executable, or raise JavaNotFoundError saying what to install."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home) / "bin" / "java" if java_home else None
    if candidate is None or not candidate.exists():
        found = shutil.which("java")
        if found is None:
            raise JavaNotFoundError("no Java runtime found", hint=INSTALL_HINT)
        candidate = Path(found)
    version = java_major_version(candidate)
    if version < MIN_JAVA:
        raise JavaNotFoundError(
            f"Java {version} found at {candidate}, but Kafka 4 needs {MIN_JAVA}+",
            hint=INSTALL_HINT,
        )
    return candidate


def java_major_version(java: Path) -> int:
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as exc:
        raise JavaNotFoundError(f"cannot run {java}: {exc.strerror}", hint=INSTALL_HINT) from exc
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise JavaNotFoundError(f"cannot tell the version of {java}", hint=INSTALL_HINT)
    major = int(match.group(1))
    # Java 8 and older report "1.8.0_x".
    return int(match.group(2) or 0) if major == 1 else major
