"""What a profile remembers between runs about a channel's trust, so that
nothing is read or checked twice:

- ``verified.sqlite3``: digests of signatures already found valid (checking an
  ECDSA signature costs ~0.1 ms; 10,000 of them would add a second to every
  timeline load);
- ``trust-<n>.json`` (0600): the channel's published certificates, the
  admin's revocations, the epoch keys of a private channel already unwrapped,
  and how far the metadata partition was read for them.

Both live in the profile's directory, beside its private key, which can
recover everything in them anyway (the epoch keys are wrapped for that key).
A damaged or missing file is simply rebuilt from the topic.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chok.errors import ChokError
from chok.home import write_private

_SCHEMA = "CREATE TABLE IF NOT EXISTS verified (digest BLOB PRIMARY KEY)"


class VerifiedCache:
    """A set of signature digests, loaded at once, written back in batches."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._known: set[bytes] = set()
        self._new: list[bytes] = []
        self._lock = threading.Lock()
        if path is not None:
            self._load(path)

    def _connect(self, path: Path) -> sqlite3.Connection:
        connection = sqlite3.connect(path, timeout=5)
        connection.execute(_SCHEMA)
        return connection

    def _load(self, path: Path) -> None:
        """Read it without creating or changing it (a command that fails changes nothing)."""
        if not path.exists():
            return
        try:
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
            try:
                rows = connection.execute("SELECT digest FROM verified").fetchall()
            finally:
                connection.close()
        except sqlite3.Error:
            return  # a damaged cache only costs time: signatures are checked again
        self._known = {row[0] for row in rows if isinstance(row[0], bytes)}

    def __contains__(self, key: bytes) -> bool:
        with self._lock:
            return key in self._known

    def add(self, key: bytes) -> None:
        with self._lock:
            if key not in self._known:
                self._known.add(key)
                self._new.append(key)

    def __len__(self) -> int:
        with self._lock:
            return len(self._known)

    def clear(self) -> None:
        """Forget every signature (benchmarks measure the first check this way)."""
        with self._lock:
            self._known.clear()
            self._new.clear()
        if self.path is not None:
            with contextlib.suppress(sqlite3.Error), self._connect(self.path) as connection:
                connection.execute("DELETE FROM verified")

    def flush(self) -> None:
        with self._lock:
            new, self._new = self._new, []
        if not new or self.path is None:
            return
        try:
            with self._connect(self.path) as connection:
                connection.executemany(
                    "INSERT OR IGNORE INTO verified VALUES (?)", [(k,) for k in new]
                )
        except sqlite3.Error:
            pass  # checked again next time


@dataclass
class ChannelTrustFile:
    """The JSON file of one channel's certificates, revocations and epoch keys."""

    path: Path | None
    position: int = 0
    certs: dict[str, str] = field(default_factory=dict)  # fingerprint -> DER hex
    revocations: dict[str, str] = field(default_factory=dict)  # fingerprint -> record JSON
    epochs: dict[int, str] = field(default_factory=dict)  # epoch -> key hex

    @classmethod
    def load(cls, path: Path | None) -> ChannelTrustFile:
        loaded = cls(path)
        if path is None:
            return loaded
        try:
            raw: Any = json.loads(path.read_text())
            loaded.position = int(raw.get("position", 0))
            loaded.certs = {str(k): str(v) for k, v in raw.get("certs", {}).items()}
            loaded.revocations = {str(k): str(v) for k, v in raw.get("revocations", {}).items()}
            loaded.epochs = {int(k): str(v) for k, v in raw.get("epochs", {}).items()}
        except (OSError, ValueError, TypeError, AttributeError):
            return cls(path)  # missing or damaged: read the topic again
        return loaded

    def save(self) -> None:
        if self.path is None:
            return
        data = {
            "position": self.position,
            "certs": self.certs,
            "revocations": self.revocations,
            "epochs": {str(k): v for k, v in sorted(self.epochs.items())},
        }
        with contextlib.suppress(OSError, ChokError):  # only a cache (a read-only home...)
            write_private(self.path, json.dumps(data, indent=1).encode())
