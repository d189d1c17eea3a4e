"""The admin's copy of each person's current certificate and private key.

``<CHOK_HOME>/cluster/users/<name>/client.pem`` and ``client.key`` (0600, in a
0700 directory). Keeping the key lets ``get-bundle`` and ``serve`` hand the
same identity over again without issuing a new certificate. The admin already
holds the CA key, which can mint any identity, so these copies add no power
an attacker on the admin's account would not have anyway (docs/security.md).
A revoked person's key is deleted: nothing can use it any more.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from pathlib import Path

from chok import pki
from chok.errors import ChokError, ConfigError, storage_error
from chok.home import subdir


def _dir(name: str) -> Path:
    # Each level is made (and kept) 0700: mkdir(parents=True) would give the
    # intermediate "users" folder the umask's looser mode.
    for path in (subdir("cluster", "users"), subdir("cluster", "users", name)):
        if stat.S_IMODE(path.stat().st_mode) != 0o700:
            try:
                os.chmod(path, 0o700)
            except OSError as exc:
                raise storage_error(exc, f"make {path} private") from exc
    return subdir("cluster", "users", name)


def save(name: str, issued: pki.Issued) -> None:
    directory = _dir(name)
    issued.save(directory / "client.pem", directory / "client.key")


def load(name: str) -> pki.Issued:
    directory = _dir(name)
    try:
        return pki.Issued(
            (directory / "client.pem").read_bytes(), (directory / "client.key").read_bytes()
        )
    except FileNotFoundError as exc:
        raise ConfigError(
            f"the admin's copy of {name}'s key is missing ({exc.filename})",
            hint=f"issue a new one with `chok admin rotate-user {name}`",
        ) from exc


def load_if_any(name: str) -> pki.Issued | None:
    """The current copy, or None when there is none (a new person)."""
    try:
        return load(name)
    except ConfigError:
        return None


def restore(name: str, kept: pki.Issued | None) -> None:
    """Put back what ``load_if_any`` returned before a change that failed."""
    if kept is None:
        delete(name)
    else:
        with contextlib.suppress(ChokError):
            save(name, kept)


def delete(name: str) -> None:
    directory = subdir("cluster", "users")
    shutil.rmtree(directory / name, ignore_errors=True)
