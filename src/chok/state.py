"""``<CHOK_HOME>/state.json``: small values chok remembers between runs.

Which profile is the default, where listening stopped, the app's settings.
Every change is a locked read-modify-write (two commands at once never lose
each other's keys) written atomically (home.write_atomic), and each write
also refreshes ``state.json.bak``. A damaged state.json (a crashed disk, a
hand edit) is never read as empty: it is restored from that copy, with a
warning, or reported as a ConfigError that says what to do.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from chok.errors import ConfigError, StorageError, storage_error
from chok.home import home_path, locked, write_atomic

LOG = logging.getLogger("chok.state")
_LOCK = "state"
State = dict[str, Any]


def path() -> Path:
    return home_path() / "state.json"


def backup_path() -> Path:
    return home_path() / "state.json.bak"


def read() -> State:
    """The current state ({} when chok has none yet)."""
    data = _read_bytes(path())
    if data is None:
        return {}
    state = _parse(data)
    return state if state is not None else _restore()


def update(change: Callable[[State], None]) -> State:
    """Apply ``change`` to the state under the lock and write the result."""
    with locked(_LOCK):
        state = read()
        change(state)
        encoded = json.dumps(state, indent=2, ensure_ascii=False).encode()
        write_atomic(path(), encoded, mode=0o600)
        write_atomic(backup_path(), encoded, mode=0o600)
    return state


def _read_bytes(file: Path) -> bytes | None:
    try:
        return file.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise storage_error(exc, f"read {file}") from exc


def _parse(data: bytes) -> State | None:
    try:
        state = json.loads(data)
    except ValueError:  # bad JSON or bad UTF-8
        return None
    return state if isinstance(state, dict) else None


def _restore() -> State:
    """state.json is damaged: go back to the last good copy, or say what to do."""
    damaged = path()
    saved = _parse(_read_bytes(backup_path()) or b"")
    if saved is None:
        raise ConfigError(
            f"{damaged} is damaged and there is no good copy of it",
            hint=f"move it aside to start afresh: `mv {damaged} {damaged}.damaged` "
            "(your profiles stay; the default profile and listening positions are forgotten)",
        )
    kept = damaged.with_name(f"state.json.damaged-{dt.datetime.now():%Y%m%d-%H%M%S}")
    # On a read-only home the copy is still used; it just cannot be put back.
    with suppress(StorageError), locked(_LOCK):
        data = _read_bytes(damaged)
        if data is not None and _parse(data) is None:
            with suppress(OSError):
                os.replace(damaged, kept)
            write_atomic(damaged, json.dumps(saved, indent=2).encode(), mode=0o600)
            LOG.warning(f"{damaged} was damaged: restored the last good copy (kept {kept.name})")
    return saved
