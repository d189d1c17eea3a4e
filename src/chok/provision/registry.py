"""The admin's records of channels and users, kept as JSON in ``<CHOK_HOME>/cluster/``.

The cluster holds the topics and ACLs; these files hold what it cannot:
which backend this home provisions (and its non-secret settings), channel
names, when a user was created, which channels they belong to, which
certificate generation is current, and whether they were revoked.
Writes are atomic so a crash never leaves half a file. No secret is ever
stored here (the Aiven token and the private keys live elsewhere).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from chok.errors import ConfigError, NotFoundError
from chok.home import subdir, write_atomic

DEFAULT_CHANNEL_NAMES = {1: "Main", 2: "Secondary"}
BACKENDS = ("local", "kafka", "aiven")


@dataclass
class ChannelRecord:
    number: int
    name: str
    #: End to end encrypted (protocol.md, section 10): only members hold its keys.
    private: bool = False


@dataclass
class UserRecord:
    name: str
    channels: list[int]
    created: str
    cert_expires: str
    cert_serial: str
    revoked: bool = False
    # Each rotation issues a certificate for a new principal (see access.py);
    # the generation says which one is current.
    generation: int = 1
    principal: str = ""
    revoked_at: str = ""
    rotated_at: str = ""
    # What the family sees instead of the user name (UTF-8, e.g. "Grandma Jo").
    display_name: str = ""


@dataclass
class Registry:
    backend: str = "local"
    bootstrap: str = ""
    channels: list[ChannelRecord] = field(default_factory=list)
    users: list[UserRecord] = field(default_factory=list)
    # Backend settings that are not secret (paths, project and service names).
    settings: dict[str, Any] = field(default_factory=dict)
    # Principals whose access must still be removed (a rotation or revocation
    # that was interrupted): retried by every later admin command.
    pending_revocations: list[str] = field(default_factory=list)
    # Fingerprints of revoked certificates whose signed revocation records are
    # not published on every channel yet (protocol.md, section 9.7).
    pending_cert_revocations: list[str] = field(default_factory=list)

    def channel(self, number: int) -> ChannelRecord | None:
        return next((c for c in self.channels if c.number == number), None)

    def find_channel(self, ref: str) -> ChannelRecord:
        """A channel by number or by (case-insensitive) name."""
        ref = ref.strip()
        if ref.isdigit():
            found = self.channel(int(ref))
        else:
            found = next((c for c in self.channels if c.name.lower() == ref.lower()), None)
        if found is None:
            have = ", ".join(f"{c.number} {c.name}" for c in self.channels) or "none"
            raise NotFoundError(f"no channel '{ref}' (channels: {have})")
        return found

    def user(self, name: str) -> UserRecord | None:
        return next((u for u in self.users if u.name == name), None)

    def require_user(self, name: str) -> UserRecord:
        record = self.user(name)
        if record is None:
            raise NotFoundError(f"no user named '{name}'", hint="see `chok admin list-users`")
        return record

    def put_user(self, record: UserRecord) -> None:
        self.users = [u for u in self.users if u.name != record.name] + [record]

    def next_channel_number(self) -> int:
        return max((c.number for c in self.channels), default=0) + 1


def _path() -> Path:
    return subdir("cluster") / "registry.json"


def _known(cls: type[Any], raw: dict[str, Any]) -> dict[str, Any]:
    # Ignore members a newer chok may have written rather than failing.
    names = {f.name for f in fields(cls)}
    return {key: value for key, value in raw.items() if key in names}


def load() -> Registry:
    path = _path()
    if not path.exists():
        return Registry()
    try:
        raw: dict[str, Any] = json.loads(path.read_text())
        return Registry(
            backend=raw.get("backend", "local"),
            bootstrap=raw.get("bootstrap", ""),
            channels=[ChannelRecord(**_known(ChannelRecord, c)) for c in raw.get("channels", [])],
            users=[UserRecord(**_known(UserRecord, u)) for u in raw.get("users", [])],
            settings=dict(raw.get("settings", {})),
            pending_revocations=list(raw.get("pending_revocations", [])),
            pending_cert_revocations=list(raw.get("pending_cert_revocations", [])),
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path} is damaged ({exc}); restore it from a backup") from exc


def save(registry: Registry) -> None:
    write_atomic(_path(), json.dumps(asdict(registry), indent=2, ensure_ascii=False).encode())
