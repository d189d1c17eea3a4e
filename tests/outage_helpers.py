"""A broker of its own for tests that kill, stop or pause it.

The session's shared broker (tests/conftest.py) serves every other test, so
outage tests start a SEPARATE broker in a CHOK_HOME of their own, provision it
with the real `chok admin` commands, and drive it with signals.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from chok.broker.process import free_port_pair
from chok.protocol.audio import AudioFrame, EndOfTransmission, parse_audio_record
from chok.protocol.bundle import CONFIG_NAME
from chok.protocol.client_config import parse_client_config
from tests.conftest import CHOK, RunResult, run_chok


@dataclass
class SeparateBroker:
    home: Path
    port: int = field(default_factory=free_port_pair)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CHOK_HOME": str(self.home)}

    def chok(self, *args: str, timeout: float = 180) -> RunResult:
        return run_chok(*args, home=self.home, timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*CHOK, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=self.env,
        )  # fmt: skip

    def start(self) -> float:
        """Start (or restart) the broker; return the seconds it took."""
        began = time.monotonic()
        result = self.chok("broker", "start", "--port", str(self.port))
        assert result.code == 0, result
        return time.monotonic() - began

    def init(self, channels: int = 1) -> None:
        self.start()
        result = self.chok("admin", "init", "--channels", str(channels))
        assert result.code == 0, result

    def add_user(self, prefix: str, channels: str | None = None) -> str:
        """A new member (of ``channels``, "1,2", else of all) joined on this home."""
        name = f"{prefix}{uuid.uuid4().hex[:6]}"
        bundle = self.home / f"{name}.chok"
        chosen = ("--channels", channels) if channels else ()
        made = self.chok("admin", "add-user", name, "--out", str(bundle), *chosen)
        assert made.code == 0, made
        joined = self.chok("join", str(bundle), "--name", name)
        assert joined.code == 0, joined
        return name

    def pid(self) -> int:
        return int((self.home / "broker" / "broker.pid").read_text())

    def kill(self) -> None:
        """kill -9: no clean shutdown, as when the machine's power goes."""
        pid = self.pid()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for the process to be gone
        (self.home / "broker" / "broker.pid").unlink(missing_ok=True)

    def pause(self) -> None:
        os.kill(self.pid(), signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid(), signal.SIGCONT)

    def stop(self) -> None:
        self.chok("broker", "stop")

    def credentials(self, profile: str) -> dict[str, Any]:
        base = self.home / "profiles" / profile
        config = parse_client_config((base / CONFIG_NAME).read_bytes())
        return {
            "bootstrap.servers": config.broker_url,
            "security.protocol": "SSL",
            "ssl.ca.location": str(base / config.ca_asset),
            "ssl.certificate.location": str(base / config.client_cert_asset),
            "ssl.key.location": str(base / config.client_key_asset),
        }


def audio_records(
    broker: SeparateBroker, profile: str, topic: str = "chok-audio-1", timeout: float = 30
) -> Iterator[tuple[int, AudioFrame | EndOfTransmission]]:
    """Every parsed record of the audio partition, from offset 0 to its end."""
    conf = {
        **broker.credentials(profile),
        "group.id": f"chok.{profile}.test-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
    }
    consumer = Consumer(conf)
    try:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=timeout)
        consumer.assign([TopicPartition(topic, 0, 0)])
        deadline = time.monotonic() + timeout
        position = 0
        while position < high and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            position = (msg.offset() or 0) + 1
            parsed = parse_audio_record(msg.key(), msg.value(), msg.headers())
            if parsed is not None:
                yield msg.offset() or 0, parsed
        assert position >= high, f"read the audio topic up to {position} of {high}"
    finally:
        consumer.close()


class Lines:
    """A process's output lines, read on a thread (so waiting never blocks on a pipe)."""

    def __init__(self, stream: object) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, predicate: Callable[[str], bool], timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if predicate(line):
                    return line
            time.sleep(0.05)  # polling the lines read so far for the condition
        raise AssertionError(f"{what}: not seen in {timeout:.0f} s; lines: {self.lines[-8:]}")

    def join(self) -> list[str]:
        self._thread.join(30)
        return self.lines


def json_lines(lines: list[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in lines if line.startswith("{")]
