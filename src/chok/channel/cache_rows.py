"""The SQL of the timeline cache: a folded read of a channel's metadata
partition written as rows of the Store, inside the caller's write transaction.

It exists apart from ``cache`` (which decides what to read from the broker,
and when) so that what a read changes in the database is in one place: a full
read replaces the channel's rows, a tail changes the transmissions and
reactions it touched and folds their effective reactions again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chok.channel.store import TX_COLUMNS, reactions_json, tx_row
from chok.channel.timeline import Fold, _effective, _signed_copy
from chok.protocol.reactions import ReactionRecord, effective_reactions, parse_reaction_key
from chok.protocol.sealed import parse_sealed_reaction_key
from chok.protocol.transmission import Transmission

Row = tuple[Any, ...]

_CHUNK = 500
_MARKS = ",".join("?" * 18)
_UPSERT_TX = (
    f"INSERT INTO tx ({TX_COLUMNS}) VALUES ({_MARKS}) "
    "ON CONFLICT (channel, start_offset) DO UPDATE SET user_id=excluded.user_id, "
    "timestamp_ms=excluded.timestamp_ms, end_offset=excluded.end_offset, "
    "message_count=excluded.message_count, tx_id=excluded.tx_id, frames=excluded.frames, "
    "duration_ms=excluded.duration_ms, frame_ms=excluded.frame_ms, "
    "map_from_reactions=excluded.map_from_reactions, display_name=excluded.display_name, "
    "map=excluded.map, epoch=excluded.epoch, sig=excluded.sig, signed_copy=excluded.signed_copy"
)
_INSERT_REACTION = "INSERT OR REPLACE INTO reaction VALUES (?,?,?,?,?,?,?,?)"


@dataclass(frozen=True)
class Folded:
    """What the cache writes of a fold: transmissions opened (with their epoch on
    a private channel) and reactions opened and checked, in log order."""

    transmissions: dict[int, tuple[Transmission, int | None]]
    reactions: list[tuple[bytes, ReactionRecord, int]]


def full_rows(channel: int, fold: Fold, folded: Folded) -> tuple[list[Row], list[Row]]:
    """A full read's transmission and reaction rows, made before the write
    transaction (other processes wait while it is open)."""
    grouped: dict[int, list[ReactionRecord]] = {}
    for _key, record, _offset in folded.reactions:
        grouped.setdefault(record.start_offset, []).append(record)
    rows = [
        tx_row(
            tx, fold.first_offset.get(start, 0), _effective(tx, grouped.get(start)), epoch,
            _signed_copy(tx, fold.signed.get(start)),
        )
        for start, (tx, epoch) in folded.transmissions.items()
    ]  # fmt: skip
    reactions = [
        _reaction_row(channel, key, record, offset) for key, record, offset in folded.reactions
    ]
    return rows, reactions


def replace_rows(
    db: sqlite3.Connection, channel: int, rows: list[Row], reactions: list[Row]
) -> None:
    """The channel's cached timeline replaced by a full read's rows, but for
    the transmissions archived (``TimelineCache.save_full`` says why)."""
    db.execute(
        "DELETE FROM tx WHERE channel=? AND start_offset NOT IN "
        "(SELECT start_offset FROM audio WHERE channel=?)",
        (channel, channel),
    )
    db.execute("DELETE FROM reaction WHERE channel=?", (channel,))
    db.executemany(f"INSERT OR REPLACE INTO tx ({TX_COLUMNS}) VALUES ({_MARKS})", rows)
    db.executemany(_INSERT_REACTION, reactions)


def write_tail(db: sqlite3.Connection, channel: int, fold: Fold, folded: Folded) -> list[str]:
    """A tail's changes written; the paths of the archived recordings it took
    away (the caller removes the files once the transaction is committed)."""
    gone_files = _delete_forgotten(db, channel, sorted(fold.forgotten))
    db.executemany(
        _UPSERT_TX,
        [
            tx_row(tx, fold.first_offset[s], {}, epoch, _signed_copy(tx, fold.signed.get(s)))
            for s, (tx, epoch) in folded.transmissions.items()
        ],
    )
    db.executemany(
        "DELETE FROM reaction WHERE channel=? AND key=?",
        [(channel, key) for key in fold.dropped],
    )
    db.executemany(
        _INSERT_REACTION,
        [_reaction_row(channel, key, record, offset) for key, record, offset in folded.reactions],
    )
    _refold_reactions(db, channel, touched(fold, folded))
    return gone_files


def set_position(
    db: sqlite3.Connection, channel: int, high: int, audio_low: int, audio_high: int
) -> None:
    db.execute(
        "INSERT OR REPLACE INTO position VALUES (?,?,?,?,?)",
        (channel, high, int(time.time() * 1000), audio_low, audio_high),
    )


def touched(fold: Fold, folded: Folded) -> set[int]:
    """Start offsets whose effective reactions may have changed."""
    starts = set(folded.transmissions)
    starts.update(record.start_offset for _key, record, _offset in folded.reactions)
    for key in fold.dropped:
        parsed = parse_reaction_key(key)
        sealed = parse_sealed_reaction_key(key) if parsed is None else None
        if parsed is not None:
            starts.add(parsed[1])
        elif sealed is not None:  # a private channel's reaction taken away
            starts.add(sealed.start_offset)
    return starts


def _delete_forgotten(db: sqlite3.Connection, channel: int, gone: list[int]) -> list[str]:
    """Transmissions whose newest record removed them, gone with their archived audio."""
    gone_files: list[str] = []
    for chunk in _chunks(gone):
        marks_sql = ",".join("?" * len(chunk))
        where = f"channel=? AND start_offset IN ({marks_sql})"
        gone_files += [p for (p,) in db.execute(f"SELECT path FROM audio WHERE {where}",
                                                (channel, *chunk))]  # fmt: skip
        db.execute(f"DELETE FROM audio WHERE {where}", (channel, *chunk))
        db.execute(f"DELETE FROM tx WHERE {where}", (channel, *chunk))
    return gone_files


def _chunks(items: list[int]) -> Iterable[list[int]]:
    for index in range(0, len(items), _CHUNK):
        yield items[index : index + _CHUNK]


def _reaction_row(channel: int, key: bytes, record: ReactionRecord, offset: int) -> Row:
    return (
        channel, key, record.start_offset, offset, record.user, record.emoji,
        int(record.on), record.timestamp_ms,
    )  # fmt: skip


def _refold_reactions(db: sqlite3.Connection, channel: int, starts: set[int]) -> None:
    """Recompute the effective reactions of these transmissions from the database."""
    for chunk in _chunks(sorted(starts)):
        marks = ",".join("?" * len(chunk))
        maps = dict(
            db.execute(
                f"SELECT start_offset, map FROM tx WHERE channel=? AND start_offset IN ({marks})",
                (channel, *chunk),
            ).fetchall()
        )
        records: dict[int, list[ReactionRecord]] = {}
        for start, user, emoji, is_on, ts in db.execute(
            "SELECT start_offset, user, emoji, is_on, ts FROM reaction WHERE channel=? "
            f"AND start_offset IN ({marks}) ORDER BY meta_offset",
            (channel, *chunk),
        ):
            records.setdefault(start, []).append(
                ReactionRecord(channel, start, user, emoji, bool(is_on), ts)
            )
        updates = [
            (reactions_json(effective_reactions(json.loads(raw), records.get(start, ()))),
             channel, start)
            for start, raw in maps.items()
        ]  # fmt: skip
        db.executemany("UPDATE tx SET reactions=? WHERE channel=? AND start_offset=?", updates)
