"""The timeline: every transmission of a channel with its reactions.

Reads the compacted metadata partition from the beginning to its high
watermark in batches, keeps the newest transmission record per start offset
and every reaction record, and folds them with the protocol's
``effective_reactions``. The audio partition's low watermark tells which
recordings retention has already removed.

On the way it takes in what the channel publishes for trust (certificates,
revocations, a private channel's epoch keys), opens sealed records, leaves
forged reactions out, and judges each transmission record (verified, unsigned
or forged) only when asked: checking 10,000 signatures costs a second, and a
timeline usually shows a few.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from chok.channel.incoming import open_reaction, open_transmission
from chok.channel.security import ChannelSecurity
from chok.channel.session import ChannelSession, now_ms
from chok.errors import KafkaTimeoutError, NotFoundError, UsageError
from chok.kafka.stream import BEGINNING, PartitionReader
from chok.pki.trust import FORGED, NOT_SIGNED, VERIFIED, Authenticity
from chok.protocol.metadata import parse_metadata_record
from chok.protocol.reactions import ReactionRecord, effective_reactions
from chok.protocol.sealed import SealedRecord, WrappedKey, parse_sealed_reaction_key
from chok.protocol.signing import CertRecord, Revocation
from chok.protocol.transmission import Transmission, parse_transmission_key

BATCH = 5000
SINCE_CHOICES = {"1h": 3600, "6h": 6 * 3600, "24h": 24 * 3600, "7d": 7 * 86400, "all": None}

Judge = Callable[["Entry"], Authenticity]
EpochOf = Callable[[int], "int | None"]


@dataclass(frozen=True)
class Entry:
    transmission: Transmission
    reactions: dict[str, list[str]]
    audio_available: bool  # still on the broker (retention has not removed it)
    archived: bool = False  # kept in this machine's family archive (channel.archive)
    #: On a private channel: the epoch its record was sealed under.
    epoch: int | None = None
    #: An earlier record of the same key that was signed, when the newest one is
    #: the original app's unsigned rewrite of it (protocol.md, section 9.3).
    signed_copy: Transmission | None = None
    judge: Judge | None = field(default=None, compare=False, repr=False)

    @property
    def id(self) -> int:
        return self.transmission.start_offset

    @property
    def signed(self) -> Transmission:
        """The record whose signature covers this transmission (for checking its audio)."""
        return self.signed_copy or self.transmission

    @property
    def authenticity(self) -> Authenticity:
        if self.judge is not None:
            return self.judge(self)
        if self.transmission.sig is None:
            return NOT_SIGNED
        return Authenticity(VERIFIED, "sent from here")


def _same_signed_members(a: Transmission, b: Transmission) -> bool:
    """True if an unsigned rewrite kept every member the signature covers."""
    fields = ("user_id", "channel", "start_offset", "end_offset", "timestamp_ms")
    return all(getattr(a, name) == getattr(b, name) for name in fields)


class Verdicts:
    """Judges entries on demand, once each (thread-safe: the app judges in a worker)."""

    def __init__(self, security: ChannelSecurity) -> None:
        self.security = security
        self._memo: dict[int, Authenticity] = {}
        self._lock = threading.Lock()

    def __call__(self, entry: Entry) -> Authenticity:
        with self._lock:
            found = self._memo.get(entry.id)
        if found is not None:
            return found
        verdict = self._judge(entry)
        if not verdict.provisional:  # a certificate learnt later may still verify it
            with self._lock:
                self._memo[entry.id] = verdict
        return verdict

    def _judge(self, entry: Entry) -> Authenticity:
        store = self.security.store
        copy = entry.signed_copy
        if copy is None:
            return store.transmission(entry.transmission)
        if not _same_signed_members(copy, entry.transmission):
            return Authenticity(FORGED, "its signed record was replaced by an unsigned one")
        return store.transmission(copy)


@dataclass
class Fold:
    """The newest record per key, folded as records arrive: what compaction
    keeps, so the result does not depend on whether the broker compacted yet.

    ``security`` (None: no keys, no verdicts, as in tests of the fold alone)
    takes in what the channel publishes for trust and opens sealed records.
    """

    channel: int
    security: ChannelSecurity | None = None
    latest: dict[int, Transmission] = field(default_factory=dict)
    sealed: dict[int, SealedRecord] = field(default_factory=dict)  # a private channel's
    signed: dict[int, Transmission] = field(default_factory=dict)
    reactions: dict[bytes, ReactionRecord | SealedRecord] = field(default_factory=dict)
    reaction_offset: dict[bytes, int] = field(default_factory=dict)
    first_offset: dict[int, int] = field(default_factory=dict)
    # Keys whose newest record removed them (what a cache must drop too).
    forgotten: set[int] = field(default_factory=set)
    dropped: set[bytes] = field(default_factory=set)

    def add(self, key: bytes, value: bytes | None, offset: int) -> None:
        record = parse_metadata_record(key, value, channel=self.channel)
        ids = parse_transmission_key(key)
        if isinstance(record, Transmission) and not record.deleted:
            self._keep_transmission(record.start_offset, record, offset)
        elif isinstance(record, SealedRecord) and ids is not None:
            self._keep_transmission(ids[1], record, offset)
        elif isinstance(record, ReactionRecord | SealedRecord):
            self.reactions.pop(key, None)  # re-insert: dict order = log order
            self.reactions[key] = record
            self.reaction_offset[key] = offset
            self.dropped.discard(key)
        elif isinstance(record, CertRecord | Revocation | WrappedKey):
            if self.security is not None:
                self.security.learn(record)
        else:
            # A tombstone, a deletion marker or a broken newest record replaces the key.
            self._forget(key)

    def _keep_transmission(
        self, start: int, record: Transmission | SealedRecord, offset: int
    ) -> None:
        self.latest.pop(start, None)
        self.sealed.pop(start, None)
        if isinstance(record, Transmission):
            self.latest[start] = record
            if record.sig is not None:
                self.signed[start] = record
        else:
            self.sealed[start] = record
        self.first_offset.setdefault(start, offset)
        self.forgotten.discard(start)

    def _forget(self, key: bytes) -> None:
        ids = parse_transmission_key(key)
        if ids is not None and ids[0] == self.channel:
            self.latest.pop(ids[1], None)
            self.sealed.pop(ids[1], None)
            self.signed.pop(ids[1], None)
            self.forgotten.add(ids[1])
        else:
            self.reactions.pop(key, None)
            self.dropped.add(key)

    def transmissions(self) -> dict[int, tuple[Transmission, int | None]]:
        """Each start offset's newest record, opened if sealed (with its epoch)."""
        opened: dict[int, tuple[Transmission, int | None]] = {
            start: (tx, None) for start, tx in self.latest.items()
        }
        if self.security is None:
            return opened
        for start, record in self.sealed.items():
            tx = open_transmission(self.security, record)
            if tx is not None and tx.start_offset == start:
                opened[start] = (tx, record.epoch)
        return opened

    def opened_reactions(
        self, epochs: dict[int, int | None] | None = None, epoch_of: EpochOf | None = None
    ) -> Iterator[tuple[bytes, ReactionRecord, int]]:
        """(key, record, metadata offset) of each reaction in log order, sealed ones
        opened (``epoch_of``: a transmission's epoch when it is not in ``epochs``,
        as for a cache's tail), forged ones left out."""
        security = self.security
        for key, record in self.reactions.items():
            if isinstance(record, SealedRecord):
                start = reaction_start(record)
                if security is None or start is None:
                    continue
                epoch = (epochs or {}).get(start)
                if epoch is None and epoch_of is not None:
                    epoch = epoch_of(start)
                opened = open_reaction(security, record, epoch)
                if opened is None:
                    continue
                record = opened
            offset = self.reaction_offset.get(key, 0)
            if security is not None and security.store.reaction(record, offset).forged:
                continue  # someone reacting in another's name
            yield key, record, offset

    def reactions_by_transmission(
        self, epochs: dict[int, int | None] | None = None
    ) -> dict[int, list[ReactionRecord]]:
        """Reaction records per transmission in log order, forged ones left out."""
        grouped: dict[int, list[ReactionRecord]] = {}
        for _key, record, _offset in self.opened_reactions(epochs):
            grouped.setdefault(record.start_offset, []).append(record)
        return grouped

    def entries(
        self, audio_low: int, cutoff_ms: int | None = None, judge: Judge | None = None
    ) -> list[Entry]:
        """The folded timeline, newest first (``cutoff_ms``: only what was said since)."""
        opened = self.transmissions()
        reactions = self.reactions_by_transmission({s: e for s, (_tx, e) in opened.items()})
        entries = [
            Entry(
                tx,
                _effective(tx, reactions.get(start)),
                start >= audio_low,
                epoch=epoch,
                signed_copy=_signed_copy(tx, self.signed.get(start)),
                judge=judge,
            )
            for start, (tx, epoch) in opened.items()
            if cutoff_ms is None or tx.timestamp_ms >= cutoff_ms
        ]
        entries.sort(key=lambda e: (e.transmission.timestamp_ms, e.id), reverse=True)
        return entries


def _effective(tx: Transmission, records: list[ReactionRecord] | None) -> dict[str, list[str]]:
    if records:
        return effective_reactions(tx.reactions, records)
    # The same as effective_reactions(map, []): the map is kept in canonical form.
    return {emoji: list(names) for emoji, names in tx.reactions.items()} if tx.reactions else {}


def reaction_start(record: ReactionRecord | SealedRecord) -> int | None:
    """The start offset of the transmission a reaction record (sealed or not) is about."""
    if isinstance(record, ReactionRecord):
        return record.start_offset
    ids = parse_sealed_reaction_key(record.key)
    return None if ids is None else ids.start_offset


@dataclass(frozen=True)
class Timeline:
    entries: list[Entry]  # newest first
    metadata_end: int  # the metadata high watermark this was read up to
    audio_low: int
    audio_high: int
    first_offsets: dict[int, int]  # start offset -> metadata offset of its first record
    verdicts: Verdicts | None = None

    def find(self, tx_id: int) -> Entry:
        for entry in self.entries:
            if entry.id == tx_id:
                return entry
        raise NotFoundError(f"no transmission {tx_id} on channel (see `chok timeline --since all`)")

    def judge_all(self) -> None:
        """Judge every entry now (the app does it in a worker), then remember the
        signatures found valid for the next load."""
        for entry in self.entries:
            _ = entry.authenticity
        if self.verdicts is not None:
            self.verdicts.security.save()


def parse_since(value: str) -> int | None:
    if value not in SINCE_CHOICES:
        raise UsageError(f"--since takes one of {', '.join(SINCE_CHOICES)}, not '{value}'")
    return SINCE_CHOICES[value]


def load_timeline(
    session: ChannelSession, since_s: int | None = None, from_offset: int | None = None
) -> Timeline:
    reader = session.metadata_reader("timeline")
    security = session.security
    fold = Fold(session.number, security)
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
    if from_offset is None:
        security.read_up_to(high)
    cutoff = None if since_s is None else now_ms() - since_s * 1000
    verdicts = Verdicts(security)
    entries = fold.entries(audio_low, cutoff, verdicts)
    return Timeline(entries, high, audio_low, audio_high, fold.first_offset, verdicts)


def _signed_copy(latest: Transmission, signed: Transmission | None) -> Transmission | None:
    return signed if latest.sig is None and signed is not None else None


def tail_batch(remaining: int) -> tuple[int, float]:
    """How many records to ask librdkafka for, and how long to wait for them.

    ``consume(n, t)`` returns only when n records came or t passed (the
    end-of-partition event does not end it): asking 5,000 when one is left
    cost half a second on every load whose record count was not a multiple
    of 5,000 (a signed timeline has one certificate record more). Near the
    end, ask for what is left, briefly: compaction may have removed some.
    """
    if remaining > BATCH:
        return BATCH, 0.5
    return max(1, remaining), 0.05


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
        for msg in reader.consume(*tail_batch(high - position - 1)):
            position = msg.offset() or 0
            key = msg.key()
            if key is not None:
                fold.add(key, msg.value(), position)
