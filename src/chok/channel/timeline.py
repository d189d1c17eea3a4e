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
from chok.protocol.transmission import Transmission, parse_transmission_key

BATCH = 5000
SINCE_CHOICES = {"1h": 3600, "6h": 6 * 3600, "24h": 24 * 3600, "7d": 7 * 86400, "all": None}


@dataclass(frozen=True)
class Entry:
    transmission: Transmission
    reactions: dict[str, list[str]]
    audio_available: bool  # still on the broker (retention has not removed it)
    archived: bool = False  # kept in this machine's family archive (channel.archive)

    @property
    def id(self) -> int:
        return self.transmission.start_offset


@dataclass
class Fold:
    """The newest record per key, folded as records arrive: what compaction
    keeps, so the result does not depend on whether the broker compacted yet."""

    channel: int
    latest: dict[int, Transmission] = field(default_factory=dict)
    reactions: dict[bytes, ReactionRecord] = field(default_factory=dict)
    reaction_offset: dict[bytes, int] = field(default_factory=dict)
    first_offset: dict[int, int] = field(default_factory=dict)
    # Keys whose newest record removed them (what a cache must drop too).
    forgotten: set[int] = field(default_factory=set)
    dropped: set[bytes] = field(default_factory=set)

    def add(self, key: bytes, value: bytes | None, offset: int) -> None:
        record = parse_metadata_record(key, value, channel=self.channel)
        if isinstance(record, Transmission) and not record.deleted:
            self.latest[record.start_offset] = record
            self.first_offset.setdefault(record.start_offset, offset)
            self.forgotten.discard(record.start_offset)
        elif isinstance(record, ReactionRecord):
            self.reactions.pop(key, None)  # re-insert: dict order = log order
            self.reactions[key] = record
            self.reaction_offset[key] = offset
            self.dropped.discard(key)
        else:
            # A tombstone, a deletion marker or a broken newest record replaces the key.
            self._forget(key)

    def _forget(self, key: bytes) -> None:
        ids = parse_transmission_key(key)
        if ids is not None and ids[0] == self.channel:
            self.latest.pop(ids[1], None)
            self.forgotten.add(ids[1])
        else:
            self.reactions.pop(key, None)
            self.dropped.add(key)

    def reactions_by_transmission(self) -> dict[int, list[ReactionRecord]]:
        grouped: dict[int, list[ReactionRecord]] = {}
        for record in self.reactions.values():
            grouped.setdefault(record.start_offset, []).append(record)
        return grouped


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
    fold = Fold(session.number)
    try:
        low, high = reader.watermarks()
        audio_low, audio_high = reader.watermarks(
            topic=session.audio_topic, partition=session.config.audio_partition
        )
        if high > low:
            reader.assign(BEGINNING if from_offset is None else from_offset)
            _read_until(reader, high, fold, start=max(low, from_offset or 0))
    finally:
        reader.close()
    cutoff = None if since_s is None else now_ms() - since_s * 1000
    reactions = fold.reactions_by_transmission()
    entries = [
        Entry(tx, effective_reactions(tx.reactions, reactions.get(start, [])), start >= audio_low)
        for start, tx in fold.latest.items()
        if cutoff is None or tx.timestamp_ms >= cutoff
    ]
    entries.sort(key=lambda e: (e.transmission.timestamp_ms, e.id), reverse=True)
    return Timeline(entries, high, audio_low, audio_high, fold.first_offset)


def _read_until(
    reader: PartitionReader, high: int, fold: Fold, timeout: float = 30.0, start: int = 0
) -> None:
    """Fold every record below ``high`` batch by batch, while librdkafka
    fetches the next batch on its own thread.

    The end-of-partition event also ends the read: compaction may have removed
    the records just below ``high``.
    """
    deadline = time.monotonic() + timeout
    position = start - 1
    while position + 1 < high and not reader.at_end:
        if time.monotonic() > deadline:
            raise KafkaTimeoutError(f"reading the timeline: stuck at offset {position}")
        # Ask for no more than is left: librdkafka answers a batch only once it is
        # full or the wait is over, and the last batch is never full.
        left = min(BATCH, max(1, high - position - 1))
        for msg in reader.consume(left, 0.1):
            position = msg.offset() or 0
            key = msg.key()
            if key is not None:
                fold.add(key, msg.value(), position)
