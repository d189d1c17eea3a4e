"""The timeline cache: a channel's timeline opens from the local database, and
only what is new on its metadata partition is read (the tail, never again the
whole partition).

Warm: the first screen comes from SQLite at once (``cached``); ``refresh``
then reads the records written since the last read, folds them like a full
read would (newest record per key, reactions in log order, tombstones and
deletion markers remove) and writes the changes in one transaction.

Cold (no cache yet, or a cache too old to trust): the whole partition is read
once (``read_full``), shown, and saved (``save_full``). "Too old": compaction
removes a tombstone ``delete.retention.ms`` after it cleaned it (24 h, set by
``chok admin init``), so a cache that was not refreshed for longer may have
missed a deletion; it is read in full again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from chok.channel.cache_rows import (
    Folded,
    full_rows,
    replace_rows,
    set_position,
    touched,
    write_tail,
)
from chok.channel.session import ChannelSession, now_ms
from chok.channel.store import Store
from chok.channel.timeline import Entry, Fold, Timeline, Verdicts, _read_until
from chok.kafka.stream import BEGINNING, PartitionReader

#: A cache not refreshed for this long is read in full again (below 24 h, see above).
FULL_READ_AFTER_MS = 20 * 3600 * 1000
#: A tail longer than this share of the partition is cheaper to read in full.
FULL_READ_SHARE = 0.5


@dataclass
class FullRead:
    """A whole metadata partition, folded (what a cold open reads)."""

    channel: int
    fold: Fold
    high: int
    audio_low: int
    audio_high: int
    verdicts: Verdicts | None = None

    def entries(self, since_ms: int | None = None) -> list[Entry]:
        return self.fold.entries(self.audio_low, since_ms, self.verdicts)

    def timeline(self, since_ms: int | None = None) -> Timeline:
        return Timeline(
            self.entries(since_ms), self.high, self.audio_low, self.audio_high,
            self.fold.first_offset, self.verdicts,
        )  # fmt: skip


@dataclass(frozen=True)
class Refresh:
    """What a refresh read: everything (``full``), or a tail that changed some
    transmissions (``changed``: read them again from the Store) and removed others."""

    full: FullRead | None = None
    changed: frozenset[int] = frozenset()
    removed: frozenset[int] = frozenset()
    audio_low: int = 0  # recordings below it are no longer on the broker

    @property
    def anything(self) -> bool:
        return self.full is not None or bool(self.changed or self.removed)


@dataclass(frozen=True)
class Watermarks:
    meta_low: int
    meta_high: int
    audio_low: int
    audio_high: int


class TimelineCache:
    """One channel's timeline, kept in a profile's Store."""

    def __init__(self, session: ChannelSession, store: Store) -> None:
        self.session = session
        self.store = store
        self.channel = session.number
        # Signatures are judged when an entry is shown (timeline.Verdicts); what the
        # channel publishes for trust is taken in as the partition is read.
        self.security = session.security
        self.verdicts = Verdicts(self.security)

    # -- no network ---------------------------------------------------------------

    def cached(self, since_s: int | None = None, limit: int | None = None) -> list[Entry]:
        """The timeline as last read, newest first (nothing is asked of the broker)."""
        return self.store.entries(self.channel, _cutoff(since_s), limit, self.verdicts)

    @property
    def warm(self) -> bool:
        return self.store.position(self.channel) is not None

    # -- reading the broker ------------------------------------------------------------

    def timeline(self, since_s: int | None = None) -> Timeline:
        """Bring the cache up to date and return the timeline (what `chok timeline` shows)."""
        full = self.refresh().full
        if full is not None:
            return full.timeline(_cutoff(since_s))
        position = self.store.position(self.channel)
        assert position is not None
        return Timeline(
            self.cached(since_s), position.next_offset, position.audio_low, position.audio_high,
            self.store.first_offsets(self.channel), self.verdicts,
        )  # fmt: skip

    def refresh(self) -> Refresh:
        """Read what is new (the tail, or everything when the cache cannot be
        trusted; then it is saved already) and say what changed."""
        reader = self.session.metadata_reader("timeline")
        try:
            marks = self._watermarks(reader)
            if self._needs_full_read(marks):
                full = self._read_all(reader, marks)
                self.save_full(full)
                return Refresh(full=full)
            return dataclasses.replace(self._read_tail(reader, marks), audio_low=marks.audio_low)
        finally:
            reader.close()

    def apply(self, entries: list[Entry], refresh: Refresh) -> list[Entry]:
        """A timeline held in memory (newest first) brought up to date by a refresh."""
        if refresh.full is not None:
            return refresh.full.entries()
        low = refresh.audio_low
        if any(e.audio_available != (e.id >= low) for e in entries):  # retention went by
            entries = [
                e if e.audio_available == (e.id >= low)
                else dataclasses.replace(e, audio_available=e.id >= low)
                for e in entries
            ]  # fmt: skip
        if not refresh.anything:
            return entries
        by_id = {e.id: e for e in entries}
        for start in refresh.removed:
            by_id.pop(start, None)
        for entry in self.store.entries_at(self.channel, refresh.changed, self.verdicts):
            by_id[entry.id] = entry
        return sorted(
            by_id.values(), key=lambda e: (e.transmission.timestamp_ms, e.id), reverse=True
        )

    def recent(self, records: int = 2000) -> list[Entry]:
        """A cold open's first screen: only the newest ``records`` records of the
        partition (newest transmissions, their reactions), before the full read."""
        reader = self.session.metadata_reader("timeline")
        try:
            marks = self._watermarks(reader)
            fold = Fold(self.channel, self.security)  # keys and certificates known so far
            start = max(marks.meta_low, marks.meta_high - records)
            if marks.meta_high > start:
                reader.assign(start)
                _read_until(reader, marks.meta_high, fold, start=start)
            return FullRead(self.channel, fold, marks.meta_high, marks.audio_low,
                            marks.audio_high, self.verdicts).entries()  # fmt: skip
        finally:
            reader.close()

    def read_full(self) -> FullRead:
        """The whole partition, folded; not saved yet (``save_full``)."""
        reader = self.session.metadata_reader("timeline")
        try:
            return self._read_all(reader, self._watermarks(reader))
        finally:
            reader.close()

    def _watermarks(self, reader: PartitionReader) -> Watermarks:
        low, high = reader.watermarks()
        audio_low, audio_high = reader.watermarks(
            topic=self.session.audio_topic, partition=self.session.config.audio_partition
        )
        return Watermarks(low, high, audio_low, audio_high)

    def _needs_full_read(self, marks: Watermarks) -> bool:
        position = self.store.position(self.channel)
        if position is None:
            return True
        if not marks.meta_low <= position.next_offset <= marks.meta_high:
            return True  # records below were deleted, or the topic was made anew
        if now_ms() - position.synced_ms > FULL_READ_AFTER_MS:
            return True  # a tombstone may have come and gone meanwhile
        tail = marks.meta_high - position.next_offset
        return tail > FULL_READ_SHARE * max(1, marks.meta_high - marks.meta_low)

    def _read_all(self, reader: PartitionReader, marks: Watermarks) -> FullRead:
        fold = Fold(self.channel, self.security)
        if marks.meta_high > marks.meta_low:
            reader.assign(BEGINNING)
            _read_until(reader, marks.meta_high, fold, start=marks.meta_low)
        self.security.read_up_to(marks.meta_high)
        return FullRead(
            self.channel, fold, marks.meta_high, marks.audio_low, marks.audio_high, self.verdicts
        )

    def _read_tail(self, reader: PartitionReader, marks: Watermarks) -> Refresh:
        changed: set[int] = set()
        removed: set[int] = set()
        for _attempt in range(3):
            position = self.store.position(self.channel)
            assert position is not None
            if self.security.known_up_to < position.next_offset:
                # Certificates and keys published before the tail (this profile's
                # trust file is older than its cache): take them in first.
                self.security.refresh(lambda: self.session.metadata_reader("trust"))
            fold = Fold(self.channel, self.security)
            if marks.meta_high > position.next_offset:
                reader.assign(position.next_offset)
                _read_until(reader, marks.meta_high, fold, start=position.next_offset)
            folded = self._resolve(fold)
            if self._apply(fold, folded, position.next_offset, marks):
                self._trust_saved(marks.meta_high)
                now = touched(fold, folded)
                return Refresh(
                    changed=frozenset(changed | now - fold.forgotten),
                    removed=frozenset(removed | fold.forgotten),
                )
            # Another process read meanwhile: what it saw changed too; read on from there.
            changed |= touched(fold, folded) - fold.forgotten
            removed |= fold.forgotten
            marks = self._watermarks(reader)
        return Refresh(changed=frozenset(changed), removed=frozenset(removed))

    # -- writing the cache -----------------------------------------------------------------

    def save_full(self, full: FullRead) -> None:
        """Replace the channel's cached timeline with a full read.

        Archived recordings missing from it stay (the archive outlives the
        broker: a broker that lost its data must not empty the archive).
        """
        folded = self._resolve(full.fold)
        rows, reactions = full_rows(full.channel, full.fold, folded)
        with self.store.write() as db:
            replace_rows(db, full.channel, rows, reactions)
            set_position(db, full.channel, full.high, full.audio_low, full.audio_high)
        self._trust_saved(full.high)

    def _trust_saved(self, high: int) -> None:
        """The certificates and keys read so far are kept beside the cache, so the
        next open judges its first screen without reading the partition again."""
        self.security.read_up_to(high)
        self.security.save_trust()

    def _resolve(self, fold: Fold) -> Folded:
        """A fold's records as the cache keeps them: sealed ones opened (a
        reaction's epoch is its transmission's, read before or now), forged
        reactions left out."""
        opened = fold.transmissions()
        epochs = {start: epoch for start, (_tx, epoch) in opened.items()}
        reactions = list(
            fold.opened_reactions(epochs, lambda start: self.store.epoch(self.channel, start))
        )
        return Folded(opened, reactions)

    def _apply(self, fold: Fold, folded: Folded, read_from: int, marks: Watermarks) -> bool:
        """Write a tail's changes; False if another process moved the position meanwhile."""
        channel = self.channel
        gone_files: list[str] = []
        with self.store.write() as db:
            row = db.execute("SELECT next_offset FROM position WHERE channel=?", (channel,))
            found = row.fetchone()
            if found is None or found[0] != read_from:
                return found is not None and found[0] >= marks.meta_high
            gone_files = write_tail(db, channel, fold, folded)
            set_position(db, channel, marks.meta_high, marks.audio_low, marks.audio_high)
        for path in gone_files:  # taken back by their talker: gone from the archive too
            Path(path).unlink(missing_ok=True)
        return True


def _cutoff(since_s: int | None) -> int | None:
    return None if since_s is None else now_ms() - since_s * 1000
