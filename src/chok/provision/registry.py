"""The admin's records of channels and users, kept as JSON in ``<CHOK_HOME>/cluster/``.

Kafka holds the topics and ACLs; these files hold what Kafka cannot: channel
names, when a user was created, which channels they belong to, whether they
were revoked. Writes are atomic so a crash never leaves half a file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chok.errors import ConfigError
from chok.home import subdir, write_atomic

DEFAULT_CHANNEL_NAMES = {1: "Main", 2: "Secondary"}


@dataclass
class ChannelRecord:
    number: int
    name: str


@dataclass
class UserRecord:
    name: str
    channels: list[int]
    created: str
    cert_expires: str
    cert_serial: str
    revoked: bool = False


@dataclass
class Registry:
    backend: str = "local"
    bootstrap: str = ""
    channels: list[ChannelRecord] = field(default_factory=list)
    users: list[UserRecord] = field(default_factory=list)

    def channel(self, number: int) -> ChannelRecord | None:
        return next((c for c in self.channels if c.number == number), None)

    def user(self, name: str) -> UserRecord | None:
        return next((u for u in self.users if u.name == name), None)

    def put_user(self, record: UserRecord) -> None:
        self.users = [u for u in self.users if u.name != record.name] + [record]


def _path() -> Path:
    return subdir("cluster") / "registry.json"


def load() -> Registry:
    path = _path()
    if not path.exists():
        return Registry()
    try:
        raw: dict[str, Any] = json.loads(path.read_text())
        return Registry(
            backend=raw.get("backend", "local"),
            bootstrap=raw.get("bootstrap", ""),
            channels=[ChannelRecord(**c) for c in raw.get("channels", [])],
            users=[UserRecord(**u) for u in raw.get("users", [])],
        )
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path} is damaged ({exc}); restore it from a backup") from exc


def save(registry: Registry) -> None:
    write_atomic(_path(), json.dumps(asdict(registry), indent=2, ensure_ascii=False).encode())
