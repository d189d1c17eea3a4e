"""Where chok keeps its state: one directory, ``$CHOK_HOME`` or the user data dir.

Layout (everything chok writes lives below this root)::

    <home>/
      cluster/            the local cluster's CA, broker and admin certificates
      broker/             the local broker: config, data (KRaft log dirs), log, pid
      cluster/users/      the admin's 0600 copies of people's current keys
      profiles/<name>/    one joined bundle each (kafka_config.json + PEMs)
      state.json          which profile is the default, listening positions
      state.json.bak      the last good copy of state.json
      .<what>.lock        locks that serialise read-modify-write of one piece of state

Every file is written whole or not at all: a unique temporary file in the
same folder, flushed to the disk, renamed over the old one, and the folder
flushed too, so a crash, a full disk or two chok commands at once never leave
half a file or lose a whole one. A folder chok cannot write (read-only, full,
not permitted) is a one-line ``StorageError``, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import filelock
import platformdirs

from chok.errors import ChokError, StorageError, UsageError, storage_error

APP_NAME = "chok"
# Long enough for a queue of admin commands that each talk to the cluster.
LOCK_WAIT_S = 120.0


def home_path() -> Path:
    """chok's root directory, whether or not it exists yet."""
    override = os.environ.get("CHOK_HOME")
    return Path(override).expanduser() if override else Path(platformdirs.user_data_dir(APP_NAME))


def chok_home() -> Path:
    """Return chok's root directory, creating it (0700) when missing."""
    root = home_path()
    make_dir(root, parents=True)
    return root


def make_dir(path: Path, *, parents: bool = False) -> None:
    """mkdir 0700 (existing is fine); an unwritable place is a StorageError."""
    try:
        path.mkdir(parents=parents, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise storage_error(exc, f"create the folder {path}") from exc


def subdir(*parts: str) -> Path:
    """Return (and create, 0700 at every level) a directory below chok's root."""
    path = chok_home()
    for part in parts:
        path = path / part
        make_dir(path)  # one level at a time: mkdir(parents=True) would use the umask
    return path


def check_writable(path: Path, action: str) -> None:
    """Say now, before any work, when no file can be written at ``path``:
    its folder is missing (UsageError), or read-only or not ours (StorageError).
    A full disk cannot be told in advance: writers stage and rename instead."""
    folder = path.parent
    if path.is_dir():
        raise UsageError(f"cannot {action} {path}: that is a folder")
    if not folder.is_dir():
        raise UsageError(f"cannot {action} {path}: the folder {folder} does not exist")
    writable_folder(folder, f"{action} {path}")


def writable_folder(folder: Path, action: str) -> None:
    """StorageError unless files can be created in the (existing) ``folder``."""
    if os.statvfs(folder).f_flag & os.ST_RDONLY:
        raise StorageError(f"cannot {action}: the file system is read-only")
    if not os.access(folder, os.W_OK):
        raise StorageError(f"cannot {action}: permission denied")


def sync_dir(directory: Path) -> None:
    """Flush a folder's entries (a rename into it) to the disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file readable by its owner only (0600), never briefly wider."""
    write_atomic(path, data, mode=0o600)


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a file whole or not at all, even with other writers of the same file."""
    StagedFile(path, data, mode).commit()


class StagedFile:
    """A file written in full and flushed next to its final place; ``commit``
    renames it there (and flushes the folder), ``discard`` removes it.

    Staging first makes a full, read-only or missing folder fail before any
    other change was made, so a caller can stage, make its change, and commit.
    """

    def __init__(self, path: Path, data: bytes, mode: int = 0o644) -> None:
        self.path = path
        make_dir(path.parent, parents=True)
        try:
            # mkstemp creates it 0600, so a secret is never readable by others.
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        except OSError as exc:
            raise storage_error(exc, f"write {path}") from exc
        self._tmp: Path | None = Path(tmp)
        try:
            with os.fdopen(fd, "wb") as out:
                os.fchmod(out.fileno(), mode)
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        except BaseException as exc:
            self.discard()
            if isinstance(exc, OSError):
                raise storage_error(exc, f"write {path}") from exc
            raise

    def commit(self) -> None:
        if self._tmp is None:
            raise RuntimeError(f"{self.path} was already committed or discarded")
        try:
            os.replace(self._tmp, self.path)
            self._tmp = None
            sync_dir(self.path.parent)
        except OSError as exc:
            self.discard()
            raise storage_error(exc, f"write {self.path}") from exc

    def discard(self) -> None:
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.unlink()
            self._tmp = None


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary name next to ``path`` for a writer that needs a file name (an
    encoder, a muxer); renamed to ``path`` if the block succeeds, else removed."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise storage_error(exc, f"write {path}") from exc
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
        sync_dir(path.parent)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise storage_error(exc, f"write {path}") from exc
        raise


@contextlib.contextmanager
def locked(name: str, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """Hold ``<home>/.<name>.lock`` (between processes and threads) for a change."""
    path = chok_home() / f".{name}.lock"
    # One instance per file (is_singleton): a thread that holds it may take it again.
    lock = filelock.FileLock(path, mode=0o600, is_singleton=True)
    try:
        lock.acquire(timeout=wait_s)
    except filelock.Timeout as exc:
        raise ChokError(
            f"another chok command has been changing {name} for {wait_s:.0f} s",
            hint="wait for it to finish, then try again",
        ) from exc
    except OSError as exc:
        raise storage_error(exc, f"take the {name} lock in {path.parent}") from exc
    try:
        yield
    finally:
        lock.release()
