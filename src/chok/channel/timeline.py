"""The timeline: every transmission of a channel with its reactions.

Reads the compacted metadata partition from the beginning to its high
watermark in batches, keeps the newest transmission record per start offset
and every reaction record, and folds them with the protocol's
``effective_reactions``. The audio partition's low watermark tells which
recordings retention has already removed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from chok.channel.session import ChannelSession, now_ms
from chok.errors import KafkaTimeoutError, NotFoundError, UsageError
from chok.kafka.stream import BEGINNING, PartitionReader
from chok.protocol.metadata import parse_metadata_record
from chok.protocol.reactions import ReactionRecord, effective_reactions
from chok.protocol.transmission import Transmission

BATCH = 5000
SINCE_CHOICES = {"1h": 3600, "6h": 6 * 3600, "24h": 24 * 3600, "7d": 7 * 86400, "all": None}


@dataclass(frozen=True)
class Entry:
    transmission: Transmission
    reactions: dict[str, list[str]]
    audio_available: bool

    @property
    def id(self) -> int:
        return self.transmission.start_offset


@dataclass
class _Fold:
    latest: dict[int, Transmission] = field(default_factory=dict)
    reactions: dict[int, list[ReactionRecord]] = field(default_factory=dict)
    first_offset: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Timeline:
    entries: list[Entry]  # newest first
    metadata_end: int  # the metadata high watermark this was read up to
    audio_low: int
    audio_high: int
    first_offsets: dict[int, int]  # start offset -> metadata offset of its first record

    def find(self, tx_id: int) -> Entry:
        for entry in self.entries:
            if entry.id == tx_id:
                return entry
        raise NotFoundError(f"no transmission {tx_id} on channel (see `chok timeline --since all`)")


def parse_since(value: str) -> int | None:
    if value not in SINCE_CHOICES:
        raise UsageError(f"--since takes one of {', '.join(SINCE_CHOICES)}, not '{value}'")
    return SINCE_CHOICES[value]


def load_timeline(
    session: ChannelSession, since_s: int | None = None, from_offset: int | None = None
) -> Timeline:
    reader = session.metadata_reader("timeline")
    try:
        low, high = reader.watermarks()
        audio_low, audio_high = reader.watermarks(
            topic=session.audio_topic, partition=session.config.audio_partition
        )
        newest: dict[bytes, tuple[int, bytes]] = {}
        first_offsets: dict[bytes, int] = {}
        if high > low:
            reader.assign(BEGINNING if from_offset is None else from_offset)
            _read_until(reader, high, newest, first_offsets)
    finally:
        reader.close()
    fold = _fold(session.number, newest, first_offsets)
    cutoff = None if since_s is None else now_ms() - since_s * 1000
    entries = [
        Entry(tx, _effective(tx, fold.reactions.get(start, [])), tx.start_offset >= audio_low)
        for start, tx in fold.latest.items()
        if cutoff is None or tx.timestamp_ms >= cutoff
    ]
    entries.sort(key=lambda e: (e.transmission.timestamp_ms, e.id), reverse=True)
    return Timeline(entries, high, audio_low, audio_high, fold.first_offset)


def _effective(tx: Transmission, records: list[ReactionRecord]) -> dict[str, list[str]]:
    return effective_reactions(tx.reactions, records)


def _read_until(
    reader: PartitionReader,
    high: int,
    newest: dict[bytes, tuple[int, bytes]],
    first_offsets: dict[bytes, int],
    timeout: float = 30.0,
) -> None:
    """Keep the newest value per key below ``high`` (what compaction keeps, so
    nothing is lost) and where each transmission key first appeared.

    The end-of-partition event also ends the read: compaction may have removed
    the records just below ``high``.
    """
    deadline = time.monotonic() + timeout
    position = -1
    while position + 1 < high and not reader.at_end:
        if time.monotonic() > deadline:
            raise KafkaTimeoutError(f"reading the timeline: stuck at offset {position}")
        for msg in reader.consume(BATCH, 0.5):
            position = msg.offset() or 0
            key, value = msg.key(), msg.value()
            if key is None:
                continue
            if value is None:
                newest.pop(key, None)  # a tombstone deletes the key
                continue
            newest[key] = (position, value)
            if key.startswith(b"msg-"):
                first_offsets.setdefault(key, position)


def _fold(
    channel: int, newest: dict[bytes, tuple[int, bytes]], first_offsets: dict[bytes, int]
) -> _Fold:
    fold = _Fold()
    # Reaction records in log order: effective_reactions lets the last one decide.
    for key, (_offset, value) in sorted(newest.items(), key=lambda item: item[1][0]):
        record = parse_metadata_record(key, value, channel=channel)
        if isinstance(record, Transmission):
            fold.latest[record.start_offset] = record
            fold.first_offset[record.start_offset] = first_offsets.get(key, _offset)
        elif isinstance(record, ReactionRecord):
            fold.reactions.setdefault(record.start_offset, []).append(record)
    return fold
