"""The local database of one profile: the timeline cache and the family archive.

One SQLite file per profile, ``<CHOK_HOME>/archive/<profile>/chok.sqlite``
(WAL, so the app and a command can use it at once). It keeps, per channel,
the newest transmission record of every transmission with its effective
reactions, every reaction record, how far the metadata partition was read,
and which recordings were archived as Opus files beside it; and per person
of the family, their display name, presence and heard ranges (``family.py``).

Everything here is a copy of what the broker holds (or held: archived
recordings outlive retention), so a damaged file is simply started afresh.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chok.channel.timeline import Entry, Judge
from chok.errors import ChokError, StorageError
from chok.home import chok_home, make_dir, subdir
from chok.profiles import Profile
from chok.protocol._util import loads_object
from chok.protocol.signing import signature_fields
from chok.protocol.transmission import (
    Transmission,
    parse_transmission_value,
    unchecked_transmission,
)

SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS info (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS position (
    channel INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL, synced_ms INTEGER NOT NULL,
    audio_low INTEGER NOT NULL, audio_high INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tx (
    channel INTEGER NOT NULL, start_offset INTEGER NOT NULL, first_meta INTEGER NOT NULL,
    user_id TEXT NOT NULL, timestamp_ms INTEGER NOT NULL, end_offset INTEGER NOT NULL,
    message_count INTEGER NOT NULL, tx_id TEXT, frames INTEGER, duration_ms INTEGER,
    frame_ms INTEGER, map_from_reactions INTEGER NOT NULL, display_name TEXT,
    map TEXT NOT NULL, reactions TEXT NOT NULL, epoch INTEGER, sig TEXT, signed_copy BLOB,
    PRIMARY KEY (channel, start_offset)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tx_time ON tx (channel, timestamp_ms);
CREATE TABLE IF NOT EXISTS reaction (
    channel INTEGER NOT NULL, key BLOB NOT NULL, start_offset INTEGER NOT NULL,
    meta_offset INTEGER NOT NULL, user TEXT NOT NULL, emoji TEXT NOT NULL,
    is_on INTEGER NOT NULL, ts INTEGER NOT NULL,
    PRIMARY KEY (channel, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS reaction_tx ON reaction (channel, start_offset, meta_offset);
CREATE TABLE IF NOT EXISTS audio (
    channel INTEGER NOT NULL, start_offset INTEGER NOT NULL, path TEXT NOT NULL,
    frames INTEGER NOT NULL, bytes INTEGER NOT NULL, saved_ms INTEGER NOT NULL,
    PRIMARY KEY (channel, start_offset)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS person (
    user TEXT PRIMARY KEY, display_name TEXT, state TEXT, seen_ms INTEGER,
    heartbeat_ms INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS person_position (
    user TEXT PRIMARY KEY, next_offset INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS heard (
    user TEXT NOT NULL, channel INTEGER NOT NULL, block INTEGER NOT NULL, ranges TEXT NOT NULL,
    PRIMARY KEY (user, channel, block)) WITHOUT ROWID;
"""

TX_COLUMNS = (
    "channel, start_offset, first_meta, user_id, timestamp_ms, end_offset, message_count, "
    "tx_id, frames, duration_ms, frame_ms, map_from_reactions, display_name, map, reactions, "
    "epoch, sig, signed_copy"
)
_READ = (
    "SELECT tx.user_id, tx.channel, tx.start_offset, tx.end_offset, tx.timestamp_ms, "
    "tx.message_count, tx.map, tx.tx_id, tx.frames, tx.duration_ms, tx.frame_ms, "
    "tx.map_from_reactions, tx.display_name, tx.reactions, audio.path, tx.epoch, tx.sig, "
    "tx.signed_copy FROM tx "
    "LEFT JOIN audio ON audio.channel=tx.channel AND audio.start_offset=tx.start_offset "
)
_new = object.__new__
_EMPTY = "{}"


@dataclass(frozen=True)
class Position:
    next_offset: int
    synced_ms: int
    audio_low: int
    audio_high: int


def _identity(profile: Profile) -> str:
    return f"{profile.user}@{profile.config.broker_url}"


def store_path(profile: str) -> Path:
    return subdir("archive", profile) / "chok.sqlite"


def reactions_json(reactions: dict[str, list[str]] | dict[str, tuple[str, ...]]) -> str:
    if not reactions:
        return _EMPTY
    return json.dumps({k: list(v) for k, v in reactions.items()}, ensure_ascii=False)


def _loads(text: str) -> Any:
    return {} if text == _EMPTY else json.loads(text)


def tx_row(
    tx: Transmission,
    first_meta: int,
    effective: dict[str, list[str]],
    epoch: int | None = None,
    signed_copy: Transmission | None = None,
) -> tuple[Any, ...]:
    """A transmission as the tx table keeps it: the record as parsed (opened, on a
    private channel, with its epoch), its signature members, and the earlier
    signed record when this one is the original app's unsigned rewrite of it."""
    sig = json.dumps(tx.sig.to_json_obj()) if tx.sig is not None else None
    copy = signed_copy.to_value() if signed_copy is not None else None
    return (
        tx.channel, tx.start_offset, first_meta, tx.user_id, tx.timestamp_ms, tx.end_offset,
        tx.message_count, tx.tx_id, tx.chok_frames, tx.chok_duration_ms, tx.chok_frame_ms,
        int(tx.map_from_reactions), tx.display_name, reactions_json(tx.reactions),
        reactions_json(effective), epoch, sig, copy,
    )  # fmt: skip


def _entry(row: tuple[Any, ...], audio_low: int, judge: Judge | None) -> Entry:
    """A row read back (trusted: chok wrote it after parsing the record)."""
    (user_id, channel, start, end, ts, count, raw_map, tx_id, frames, duration, frame_ms,
     map_flag, name, reactions, archived, epoch, sig, copy) = row  # fmt: skip
    raw = {} if raw_map == _EMPTY else {k: tuple(v) for k, v in json.loads(raw_map).items()}
    signature = signature_fields(json.loads(sig), with_frames=True) if sig else None
    tx = unchecked_transmission(
        user_id, channel, start, end, ts, count, raw, tx_id, frames, duration, frame_ms,
        map_flag == 1, name, None, signature,
    )  # fmt: skip
    effective = {} if reactions == _EMPTY else json.loads(reactions)
    signed = _signed_copy(copy) if copy is not None else None
    return Entry(
        tx, effective, start >= audio_low, archived is not None, epoch, signed, judge
    )  # fmt: skip


def _signed_copy(value: bytes) -> Transmission | None:
    obj = loads_object(value)
    return parse_transmission_value(obj) if obj is not None else None


class Store:
    """One profile's database. Safe to share between threads (one connection, a lock)."""

    def __init__(self, path: Path | None, identity: str) -> None:
        """A Store in the file ``path``; None: in memory (nothing kept)."""
        self.path = path
        self.persistent = path is not None
        self._lock = threading.RLock()
        self._db = self._open(path, identity) if path is not None else self._memory()

    @classmethod
    def for_profile(cls, profile: Profile) -> Store:
        """The Store of a joined profile (started afresh if the profile now
        names another person or cluster). A home where it cannot be written
        (read-only, full) gets one in memory: everything works, nothing is kept."""
        try:
            return cls(store_path(profile.name), _identity(profile))
        except ChokError:
            return cls(None, _identity(profile))

    def _memory(self) -> sqlite3.Connection:
        db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        db.executescript(_SCHEMA)
        return db

    @classmethod
    def existing(cls, profile: Profile) -> Store | None:
        """The profile's Store if there is one already: a command that only reads
        it (its channels, its name) creates nothing."""
        path = chok_home() / "archive" / profile.name / "chok.sqlite"
        return cls(path, _identity(profile)) if path.is_file() else None

    def _open(self, path: Path, identity: str) -> sqlite3.Connection:
        try:
            db = self._connect(path)
            found = dict(db.execute("SELECT name, value FROM info").fetchall())
        except sqlite3.DatabaseError:
            found = {}  # damaged, or not a database: it is only a copy, start afresh
            db = None
        wanted = {"schema": str(SCHEMA_VERSION), "identity": identity}
        if db is None or (found and found != wanted):
            if db is not None:
                db.close()
            for suffix in ("", "-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
            db = self._connect(path)
        with db:
            db.executemany("INSERT OR REPLACE INTO info VALUES (?, ?)", wanted.items())
        return db

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        make_dir(path.parent)
        path.touch(mode=0o600, exist_ok=True)
        try:
            db = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"cannot open chok's local database {path} ({exc})") from exc
        return db

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: other processes wait their turn)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- the timeline cache ------------------------------------------------------

    def position(self, channel: int) -> Position | None:
        rows = self.query(
            "SELECT next_offset, synced_ms, audio_low, audio_high FROM position WHERE channel=?",
            (channel,),
        )
        return Position(*rows[0]) if rows else None

    def entries(
        self,
        channel: int,
        since_ms: int | None = None,
        limit: int | None = None,
        judge: Judge | None = None,
    ) -> list[Entry]:
        """The cached timeline, newest first (``limit``: only the first screen)."""
        sql = _READ + "WHERE tx.channel=?"
        args: list[Any] = [channel]
        if since_ms is not None:
            sql += " AND tx.timestamp_ms>=?"
            args.append(since_ms)
        sql += " ORDER BY tx.timestamp_ms DESC, tx.start_offset DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return self._entries(channel, sql, args, judge)

    def entries_at(
        self, channel: int, starts: Iterable[int], judge: Judge | None = None
    ) -> list[Entry]:
        wanted = sorted(set(starts))
        marks = ",".join("?" * len(wanted))
        sql = _READ + f"WHERE tx.channel=? AND tx.start_offset IN ({marks})"
        return self._entries(channel, sql, [channel, *wanted], judge) if wanted else []

    def entry(self, channel: int, start_offset: int) -> Entry | None:
        found = self.entries_at(channel, [start_offset])
        return found[0] if found else None

    def _entries(
        self, channel: int, sql: str, args: list[Any], judge: Judge | None = None
    ) -> list[Entry]:
        position = self.position(channel)
        audio_low = position.audio_low if position is not None else 0
        return [_entry(row, audio_low, judge) for row in self.query(sql, args)]

    def epoch(self, channel: int, start_offset: int) -> int | None:
        """The epoch a private channel's transmission was sealed under, if known."""
        rows = self.query(
            "SELECT epoch FROM tx WHERE channel=? AND start_offset=?", (channel, start_offset)
        )
        return rows[0][0] if rows else None

    def first_offset(self, channel: int, start_offset: int) -> int | None:
        """Where the metadata partition holds a transmission's first record, if known."""
        rows = self.query(
            "SELECT first_meta FROM tx WHERE channel=? AND start_offset=?", (channel, start_offset)
        )
        return int(rows[0][0]) if rows else None

    def first_offsets(self, channel: int) -> dict[int, int]:
        rows = self.query("SELECT start_offset, first_meta FROM tx WHERE channel=?", (channel,))
        return {int(start): int(first) for start, first in rows}
