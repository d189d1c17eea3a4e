"""Helpers for the provisioning and security tests (real broker, real certificates)."""

from __future__ import annotations

import base64
import itertools
import re
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError

from chok.kafka.client import Credentials
from chok.protocol.client_config import parse_client_config
from tests.conftest import CHOK

_names = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}{next(_names)}x{int(time.time() * 1000) % 100000}"


def profile_creds(home: Path, profile: str) -> Credentials:
    """The credentials of a profile joined in another CHOK_HOME (a person's machine)."""
    path = home / "profiles" / profile
    config = parse_client_config((path / "kafka_config.json").read_bytes())
    return Credentials(
        config.broker_url,
        path / config.ca_asset,
        path / config.client_cert_asset,
        path / config.client_key_asset,
    )


def bundle_creds(directory: Path, bootstrap: str, ca: Path) -> Credentials:
    return Credentials(bootstrap, ca, directory / "client.pem", directory / "client.key")


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a condition until it holds; fail after the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)  # poll interval


def denied(result: object) -> bool:
    return isinstance(result, KafkaError) and result.code() in (
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    )


def handshake_refused(result: object) -> bool:
    return isinstance(result, KafkaError) and result.code() in (
        KafkaError._SSL,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._AUTHENTICATION,
        KafkaError._MSG_TIMED_OUT,
    )


def key_fragments(pems: Iterable[bytes]) -> list[str]:
    """Distinctive pieces of private keys: any of them in a log is a leak."""
    pieces = []
    for pem in pems:
        body = b"".join(ln for ln in pem.splitlines() if ln and not ln.startswith(b"-----"))
        raw = base64.b64decode(body)
        pieces.append(body[16:48].decode())  # a stretch of the PEM text
        pieces.append(raw[-32:].hex())  # the key bytes as hex, another way to leak them
    return pieces


LINK = re.compile(r"chok join '(http://[^']+)'")


def start_serve(*args: str, home: Path | None = None) -> subprocess.Popen[str]:
    import os

    env = dict(os.environ)
    if home is not None:
        env["CHOK_HOME"] = str(home)
    return subprocess.Popen(
        [*CHOK, "admin", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def read_links(proc: subprocess.Popen[str], count: int, timeout: float = 30) -> dict[str, str]:
    """Read serve's stdout until it printed `count` links; name -> link."""
    assert proc.stdout is not None
    links: dict[str, str] = {}
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while len(links) < count:
        if time.monotonic() > deadline or proc.poll() is not None:
            raise AssertionError(f"serve printed no links in time: {lines}")
        line = proc.stdout.readline()
        lines.append(line)
        found = LINK.search(line)
        if found:
            links[line.split(":", 1)[0].strip()] = found.group(1)
    return links


def read_until(proc: subprocess.Popen[str], text: str) -> str:
    """Read serve's stdout line by line until a line holds text (or it ends)."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    while line and text not in line:
        line = proc.stdout.readline()
    return line


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def all_text(*parts: Any) -> str:
    return "\n".join(str(p) for p in parts)
