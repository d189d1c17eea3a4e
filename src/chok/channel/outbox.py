"""The outbox: what was said, kept on disk until the broker has it (store and forward).

One append-only file per transmission under ``$CHOK_HOME/outbox/<profile>/``,
with a lock file beside it. The process that talks holds the lock while it
sends; a process that dies (or is closed) releases it, and the next chok that
opens a session on that profile claims the file and sends what is left.

Each record of the file is ``<u32 length><u32 crc32><type><payload>``
(little-endian): a torn tail after a power cut fails its check and is cut off.

    M  meta (JSON: talker, transmission id, topics, frame duration, created)
    F  frame: u32 seq + the record's value, appended as it is captured
    A  acknowledged: u32 seq + u64 offset of that frame in the audio partition
    E  released: u32 frames + u32 duration ms + u64 release time (ms)
    e  the end-of-transmission record's u64 offset
    R  the transmission record was acknowledged (the file is then removed)

Writes go to the operating system at once (a killed process loses nothing);
``sync`` fsyncs them, which the sender does at most every SYNC_INTERVAL_S.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import threading
import zlib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import filelock

from chok.errors import EnvironmentError_
from chok.home import chok_home, subdir

MAGIC = b"CHOKOUT1\n"
SYNC_INTERVAL_S = 0.15
_HEAD = struct.Struct("<II")
_SEQ = struct.Struct("<I")
_ACK = struct.Struct("<IQ")
_END = struct.Struct("<IIQ")
_OFFSET = struct.Struct("<Q")


@dataclass(frozen=True)
class OutboxMeta:
    """Where one transmission goes and whose it is (enough to send it from any process)."""

    profile: str
    talker: str
    tx_id: str
    channel: int
    audio_topic: str
    audio_partition: int
    metadata_topic: str
    metadata_partition: int
    frame_ms: int
    created_ms: int
    # A private channel's transmission (protocol.md 10.3): its salt (hex) and the
    # epoch its frames are sealed under; "" and 0 on an open channel.
    salt: str = ""
    epoch: int = 0
    display_name: str | None = None  # the talker's, for the transmission record (chokName)


@dataclass(frozen=True)
class OutboxEnd:
    frames: int  # last seq + 1, left-out silence included
    duration_ms: int
    released_ms: int  # the transmission record's timestamp


class OutboxEntry:
    """One transmission on disk, owned (locked) by this process until finished or left."""

    def __init__(self, path: Path, lock: filelock.BaseFileLock, meta: OutboxMeta) -> None:
        self.path = path
        self.meta = meta
        self._lock = lock
        self._mutex = threading.Lock()
        self._fd: int | None = None
        self._dirty = False
        self.frames: dict[int, bytes] = {}  # seq -> value, in seq order
        self.acks: dict[int, int] = {}  # seq -> offset
        self.end: OutboxEnd | None = None
        self.end_offset: int | None = None
        self.record_sent = False

    # -- writing (the talking thread and the delivery reports) ------------------

    def add_frame(self, seq: int, value: bytes) -> None:
        with self._mutex:
            self.frames[seq] = value
            self._append(b"F" + _SEQ.pack(seq) + value)

    def ack_frame(self, seq: int, offset: int) -> None:
        with self._mutex:
            if seq in self.acks:
                return  # a resend after a crash: the first copy's offset stays
            self.acks[seq] = offset
            self._append(b"A" + _ACK.pack(seq, offset))

    def close_transmission(self, end: OutboxEnd) -> None:
        with self._mutex:
            self.end = end
            self._append(b"E" + _END.pack(end.frames, end.duration_ms, end.released_ms))
        self.sync()  # a release is worth its own fsync

    def ack_end(self, offset: int) -> None:
        with self._mutex:
            self.end_offset = offset
            self._append(b"e" + _OFFSET.pack(offset))

    def ack_record(self) -> None:
        with self._mutex:
            self.record_sent = True
            self._append(b"R")

    def sync(self) -> None:
        """fsync what was written since the last sync."""
        with self._mutex:
            if self._fd is not None and self._dirty:
                os.fsync(self._fd)
                self._dirty = False

    # -- what is left to do ------------------------------------------------------

    def unacked(self) -> list[int]:
        with self._mutex:
            return [seq for seq in self.frames if seq not in self.acks]

    def offsets(self) -> tuple[int, int] | None:
        with self._mutex:
            if not self.acks:
                return None
            return min(self.acks.values()), max(self.acks.values())

    @property
    def bytes_said(self) -> int:
        with self._mutex:
            return sum(len(value) for value in self.frames.values())

    # -- the end of the entry ------------------------------------------------------

    def finish(self) -> None:
        """Sent: remove the file, then let go of the lock."""
        with self._mutex:
            self._close_fd()
            self.path.unlink(missing_ok=True)
        self._release()

    def leave(self) -> None:
        """Not sent (yet): keep the file for the next chok on this profile."""
        self.sync()
        with self._mutex:
            self._close_fd()
        self._release()

    def _release(self) -> None:
        with contextlib.suppress(OSError):
            self._lock.release()
        if not self.path.exists():
            Path(self._lock.lock_file).unlink(missing_ok=True)

    def _close_fd(self) -> None:
        if self._fd is not None:
            if self._dirty:
                os.fsync(self._fd)
                self._dirty = False
            os.close(self._fd)
            self._fd = None

    # -- the file ------------------------------------------------------------------

    def _append(self, body: bytes) -> None:
        if self._fd is None:
            raise RuntimeError("outbox entry already closed")
        try:
            os.write(self._fd, _HEAD.pack(len(body), zlib.crc32(body)) + body)
        except OSError as exc:
            raise _cannot_write(self.path, exc) from exc
        self._dirty = True

    def _create(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        os.write(self._fd, MAGIC)
        self._append(b"M" + json.dumps(asdict(self.meta)).encode())
        os.fsync(self._fd)

    def _reopen(self, good_length: int) -> None:
        """Cut off a torn tail and append after the last good record."""
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        os.truncate(self.path, good_length)

    def _apply(self, kind: bytes, payload: bytes) -> None:
        if kind == b"F":
            (seq,) = _SEQ.unpack_from(payload)
            self.frames[seq] = payload[_SEQ.size :]
        elif kind == b"A":
            seq, offset = _ACK.unpack(payload)
            self.acks.setdefault(seq, offset)
        elif kind == b"E":
            self.end = OutboxEnd(*_END.unpack(payload))
        elif kind == b"e":
            (self.end_offset,) = _OFFSET.unpack(payload)
        elif kind == b"R":
            self.record_sent = True


def _cannot_write(path: Path, exc: OSError) -> EnvironmentError_:
    return EnvironmentError_(
        f"cannot keep what you say in the outbox {path.parent}: {exc.strerror or exc}",
        hint="free some disk space, or check CHOK_HOME's permissions",
    )


def _records(data: bytes) -> tuple[list[tuple[bytes, bytes]], int]:
    """The intact records of a file and the length up to the last of them."""
    if not data.startswith(MAGIC):
        return [], 0
    position, found = len(MAGIC), []
    while position + _HEAD.size <= len(data):
        length, crc = _HEAD.unpack_from(data, position)
        body = data[position + _HEAD.size : position + _HEAD.size + length]
        if length == 0 or len(body) < length or zlib.crc32(body) != crc:
            break
        found.append((body[:1], body[1:]))
        position += _HEAD.size + length
    return found, position


class Outbox:
    """One profile's outbox directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def for_profile(cls, profile: str) -> Outbox:
        return cls(subdir("outbox", profile))

    @classmethod
    def left_for(cls, profile: str) -> Outbox | None:
        """The profile's outbox if an earlier chok made one, without creating it
        (a read-only home must not fail a command that only reads)."""
        root = chok_home() / "outbox" / profile
        return cls(root) if root.is_dir() else None

    def create(self, meta: OutboxMeta) -> OutboxEntry:
        """A new entry for a transmission that starts now, locked by this process."""
        name = f"{meta.created_ms}-{meta.channel}-{meta.tx_id}.out"
        path = self.root / name
        lock = filelock.FileLock(str(path) + ".lock", thread_local=False)
        lock.acquire(timeout=0)  # a new name: nobody else holds it
        entry = OutboxEntry(path, lock, meta)
        try:
            entry._create()
        except OSError as exc:
            lock.release()
            raise _cannot_write(path, exc) from exc
        except BaseException:
            lock.release()
            raise
        return entry

    def pending(self) -> list[Path]:
        """Entries on disk, oldest first (whoever holds them)."""
        return sorted(self.root.glob("*.out"))

    def claim(self, path: Path) -> OutboxEntry | None:
        """Take over an entry nobody holds (its process died or left it); None if held."""
        lock = filelock.FileLock(str(path) + ".lock", thread_local=False)
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            return None
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # sent and removed meanwhile
            lock.release()
            return None
        records, good = _records(data)
        if not records or records[0][0] != b"M":
            path.unlink(missing_ok=True)  # died before its first fsync: nothing was said
            lock.release()
            return None
        raw = json.loads(records[0][1])
        known = {f.name for f in fields(OutboxMeta)}  # an older or newer chok's entry
        entry = OutboxEntry(path, lock, OutboxMeta(**{k: v for k, v in raw.items() if k in known}))
        for kind, payload in records[1:]:
            entry._apply(kind, payload)
        entry._reopen(good)
        return entry

    def claim_all(self) -> list[OutboxEntry]:
        claimed = (self.claim(path) for path in self.pending())
        return [entry for entry in claimed if entry is not None]
