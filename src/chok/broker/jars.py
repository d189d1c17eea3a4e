"""Kafka's jars from Maven Central, resolved once per machine and cached.

Maven resolves the small pom shipped with chok (pinned Kafka version, plus the
log4j2 SLF4J binding) and verifies every artifact's checksum (``-C``); the jars
are copied into the per-machine cache, so each CHOK_HOME shares them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import platformdirs

from chok.broker import KAFKA_VERSION
from chok.errors import BrokerError, EnvironmentError_

Progress = Callable[[str], None]
_READY_MARK = ".complete"


def cache_dir() -> Path:
    override = os.environ.get("CHOK_KAFKA_CACHE")
    base = Path(override) if override else Path(platformdirs.user_cache_dir("chok"))
    return base / f"kafka-{KAFKA_VERSION}"


def installed_libs() -> Path | None:
    libs = cache_dir() / "libs"
    return libs if (libs / _READY_MARK).exists() else None


def ensure_kafka_jars(progress: Progress | None = None) -> Path:
    """Return the directory holding Kafka's jars, downloading them the first time."""
    libs = installed_libs()
    if libs is not None:
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise EnvironmentError_(
            "Maven is needed once to download Kafka from Maven Central",
            hint="install it, e.g. `sudo apt install maven`",
        )
    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _line: None)
    say(f"downloading Apache Kafka {KAFKA_VERSION} from Maven Central (once per machine)...")
    with tempfile.TemporaryDirectory(dir=target) as work:
        pom = Path(work) / "pom.xml"
        pom.write_bytes(resources.files("chok.broker").joinpath("pom.xml").read_bytes())
        staging = Path(work) / "libs"
        _run_maven(mvn, pom, staging, say)
        (staging / _READY_MARK).write_text(KAFKA_VERSION)
        final = target / "libs"
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    say(f"Kafka {KAFKA_VERSION} cached in {target}")
    return target / "libs"


def _run_maven(mvn: str, pom: Path, out: Path, say: Progress) -> None:
    cmd = [
        mvn, "-B", "-C", "-f", str(pom),
        "dependency:copy-dependencies", f"-DoutputDirectory={out}",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    tail: list[str] = []
    downloaded = copied = 0
    for line in proc.stdout:
        tail = [*tail[-20:], line.rstrip()]
        if "] Downloaded from " in line or line.startswith("Downloaded from"):
            downloaded += 1
            if downloaded % 25 == 0:
                say(f"  {downloaded} files downloaded...")
        elif "Copying " in line:
            copied += 1
    if proc.wait() != 0:
        errors = [ln for ln in tail if "[ERROR]" in ln] or tail[-3:]
        detail = errors[0].replace("[ERROR]", "").strip() if errors else "unknown error"
        raise BrokerError(f"could not download Kafka from Maven Central: {detail}")
    say(f"  {copied} jars fetched and checksum-verified")
