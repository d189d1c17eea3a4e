"""The family archive: every recording of a person's channels, kept on this
machine after the broker's retention removed it.

``archive_channel`` brings the timeline cache up to date, then reads the
channel's audio partition once, in order, from the oldest recording not yet
archived, and writes each transmission to an Ogg/Opus file (its exact
packets; pauses left out on the wire are written as silence) beside the
Store: ``<CHOK_HOME>/archive/<profile>/audio/<channel>/<start>-<user>.opus``.
Gaps between recordings are skipped by seeking, not read.

Archived recordings stay playable, exportable and searchable by person and
date (``search``) when the broker no longer has them.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from chok.channel.cache import TimelineCache
from chok.channel.incoming import AudioReader, FrameCheck
from chok.channel.live import MAX_FILLED_GAP
from chok.channel.replay import replay_frames
from chok.channel.session import ChannelSession, now_ms
from chok.channel.store import Store
from chok.channel.timeline import Entry
from chok.codec import OpusDecoder, Pcm, read_ogg_opus_packets, write_ogg_opus
from chok.errors import KafkaTimeoutError, NotFoundError, StorageError
from chok.kafka.stream import PartitionReader, headers_of
from chok.protocol.audio import AudioFrame, SilenceRun, fill_gaps
from chok.protocol.transmission import Transmission

#: Offsets between two recordings that are read through rather than skipped.
SEEK_GAP = 2000
Progress = Callable[[int, int], None]  # archived so far, to archive in all


@dataclass
class ArchiveResult:
    archived: int = 0
    bytes: int = 0
    expired: int = 0  # recordings whose audio retention removed before archiving
    paths: list[Path] = field(default_factory=list)
    starts: list[tuple[int, int]] = field(default_factory=list)  # (channel, start offset)


@dataclass
class _Collector:
    tx: Transmission
    packets: list[bytes] = field(default_factory=list)
    next_seq: int = 0
    talker: str | None = None

    def feed(self, frame: AudioFrame) -> None:
        tx = self.tx
        if tx.tx_id is None:
            self.packets.append(frame.packet)  # the original app's way: the whole range
            return
        if frame.tx_id != tx.tx_id or frame.talker != tx.user_id or frame.seq is None:
            return
        if frame.seq < self.next_seq:
            return
        gap = fill_gaps(self.next_seq, frame)
        if len(gap) <= MAX_FILLED_GAP:
            self.packets.extend(f.packet for f in gap)
        self.packets.append(frame.packet)
        self.next_seq, self.talker = frame.seq + 1, frame.talker

    def finish(self) -> list[bytes]:
        tx = self.tx
        if self.talker is not None and tx.frames > self.next_seq:
            stop = min(tx.frames, self.next_seq + MAX_FILLED_GAP)
            run = SilenceRun(self.talker, tx.tx_id or "", tx.frame_ms, self.next_seq, stop)
            self.packets.extend(f.packet for f in run)
        return self.packets


def audio_dir(store: Store, channel: int) -> Path:
    if store.path is None:
        raise StorageError("cannot archive: chok's folder cannot be written here")
    path = store.path.parent / "audio" / str(channel)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _file_name(tx: Transmission) -> str:
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in tx.user_id)
    return f"{tx.start_offset}-{safe[:40] or 'unknown'}.opus"


def archive_channel(
    session: ChannelSession,
    store: Store,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> ArchiveResult:
    """Archive every recording of the channel not archived yet (and still on the broker)."""
    cache = TimelineCache(session, store)
    cache.refresh()
    position = store.position(session.number)
    assert position is not None
    todo = [e.transmission for e in cache.cached() if not e.archived]
    result = ArchiveResult()
    result.expired = sum(1 for tx in todo if tx.start_offset < position.audio_low)
    todo = [
        tx for tx in todo
        if position.audio_low <= tx.start_offset and tx.end_offset < position.audio_high
    ]  # fmt: skip
    todo.sort(key=lambda tx: tx.start_offset)
    if not todo:
        return result
    reader = session.audio_reader("archive")
    audio = AudioReader(session.security if session.private else None)  # opens sealed frames
    try:
        _read_in_order(reader, audio, todo, store, session.number, result, progress, stop)
    finally:
        reader.close()
    return result


def _read_in_order(
    reader: PartitionReader,
    audio: AudioReader,
    todo: list[Transmission],
    store: Store,
    channel: int,
    result: ArchiveResult,
    progress: Progress | None,
    stop: threading.Event | None,
    timeout: float = 30.0,
) -> None:
    waiting = list(reversed(todo))  # popped from the end: oldest first
    active: list[_Collector] = []
    reader.assign(waiting[-1].start_offset)
    deadline = time.monotonic() + timeout
    while (waiting or active) and not (stop is not None and stop.is_set()):
        if not active and waiting and reader.at_end:
            break  # the rest was never written (a record naming offsets beyond the end)
        batch = reader.consume(500, 0.2)
        if not batch:
            if time.monotonic() > deadline:
                raise KafkaTimeoutError("archiving: the broker stopped answering")
            continue
        deadline = time.monotonic() + timeout
        for msg in batch:
            offset = msg.offset() or 0
            while waiting and waiting[-1].start_offset <= offset:
                active.append(_Collector(waiting.pop()))
            received = audio.read(msg.key(), msg.value(), headers_of(msg))
            frame = received.record if received is not None else None
            for collector in active:
                if isinstance(frame, AudioFrame) and offset <= collector.tx.end_offset:
                    collector.feed(frame)
            for collector in [c for c in active if c.tx.end_offset <= offset]:
                active.remove(collector)
                _save(store, channel, collector, result)
                if progress is not None:
                    progress(result.archived, len(todo))
        if not active and waiting and waiting[-1].start_offset > offset + SEEK_GAP:
            reader.assign(waiting[-1].start_offset)  # skip what no recording holds


def _save(store: Store, channel: int, collector: _Collector, result: ArchiveResult) -> None:
    tx = collector.tx
    packets = collector.finish()
    if not packets:
        return
    path = audio_dir(store, channel) / _file_name(tx)
    write_ogg_opus(path, packets, tx.frame_ms)
    size = path.stat().st_size
    path.chmod(0o600)
    with store.write() as db:
        db.execute(
            "INSERT OR REPLACE INTO audio VALUES (?, ?, ?, ?, ?, ?)",
            (channel, tx.start_offset, str(path), len(packets), size, now_ms()),
        )
    result.archived += 1
    result.bytes += size
    result.paths.append(path)
    result.starts.append((channel, tx.start_offset))


# -- using the archive ------------------------------------------------------------------------


def archived_path(store: Store, channel: int, start_offset: int) -> Path | None:
    rows = store.query(
        "SELECT path FROM audio WHERE channel=? AND start_offset=?", (channel, start_offset)
    )
    if not rows or not Path(rows[0][0]).is_file():
        return None
    return Path(rows[0][0])


def archived_packets(store: Store, entry: Entry) -> list[bytes]:
    tx = entry.transmission
    path = archived_path(store, tx.channel, tx.start_offset)
    if path is None:
        raise NotFoundError(f"recording {tx.start_offset} is not in this machine's archive")
    return read_ogg_opus_packets(path)


def archived_pcm(store: Store, entry: Entry) -> list[Pcm]:
    decoder = OpusDecoder(entry.transmission.frame_ms)
    return [decoder.decode(packet) for packet in archived_packets(store, entry)]


@dataclass(frozen=True)
class Found:
    entry: Entry
    path: Path | None


def search(
    store: Store,
    channels: list[int],
    user: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    names: dict[str, str] | None = None,
) -> list[Found]:
    """Archived recordings (and those still only in the timeline cache), newest
    first, by person (user name or display name, any case) and date."""
    wanted = None if user is None else user.casefold()
    since_ms = None if since is None else int(since.timestamp() * 1000)
    until_ms = None if until is None else int(until.timestamp() * 1000)
    found: list[Found] = []
    for channel in channels:
        for entry in store.entries(channel, since_ms):
            tx = entry.transmission
            if until_ms is not None and tx.timestamp_ms >= until_ms:
                continue
            if wanted is not None:
                shown = (names or {}).get(tx.user_id) or tx.display_name or ""
                if wanted not in (tx.user_id.casefold(), shown.casefold()):
                    continue
            path = archived_path(store, channel, tx.start_offset) if entry.archived else None
            found.append(Found(entry, path))
    found.sort(key=lambda f: (f.entry.transmission.timestamp_ms, f.entry.id), reverse=True)
    return found


def entry_packets(
    session: ChannelSession, store: Store | None, entry: Entry, check: FrameCheck | None = None
) -> Iterator[bytes]:
    """A recording's packets, from this machine's archive when it is there (it
    outlives the broker's retention, and reading a file is quicker), else from
    the broker as they are read (``check``: their digest, to compare with what
    the talker signed; the archive kept only frames that were read this way)."""
    if store is not None and entry.archived:
        path = archived_path(store, entry.transmission.channel, entry.id)
        if path is not None:
            yield from read_ogg_opus_packets(path)
            return
    for frame in replay_frames(session, entry.signed, check=check):
        yield frame.packet
