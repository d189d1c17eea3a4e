"""Replay: the frames of one transmission, streamed as they are read.

A chok transmission is filtered by its transmission id (so a person talking
at the same time is not mixed in) and ordered by sequence number. A record
written the original app's way has no id: like that app, every frame from
startOffset to endOffset is played.

Replays reuse a warm reader: one kept-open reader per person and channel
(``WARM``), unassigned between replays, so a replay asks for its first frame
over connections that are already up (a new client costs a TLS handshake and
a metadata round trip, ~30 ms, before the first frame).
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable, Generator, Iterator

from confluent_kafka import Message

from chok.channel.cursor import RecordCursor
from chok.channel.live import MAX_FILLED_GAP
from chok.channel.session import ChannelSession
from chok.errors import NotFoundError
from chok.kafka.stream import REPLAY_READER_SETTINGS, PartitionReader, headers_of
from chok.protocol.audio import AudioFrame, SilenceRun, fill_gaps, parse_audio_record
from chok.protocol.transmission import Transmission


def replay_reader(session: ChannelSession, purpose: str = "replay") -> PartitionReader:
    """A reader that jumps from one place to another: a short long-poll makes each
    jump cost a round trip, not fetch.wait.max.ms (kafka.stream.REPLAY_READER_SETTINGS)."""
    return session.audio_reader(purpose, REPLAY_READER_SETTINGS)


class WarmReaders:
    """Kept-open replay readers, one per (person, channel), lent one at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple[object, ...], PartitionReader] = {}

    @staticmethod
    def _key(session: ChannelSession) -> tuple[object, ...]:
        return (session.creds, session.user, session.audio_topic, session.config.audio_partition)

    def take(self, session: ChannelSession) -> PartitionReader:
        with self._lock:
            reader = self._idle.pop(self._key(session), None)
        return reader or session.audio_reader("replay")

    def give_back(self, session: ChannelSession, reader: PartitionReader) -> None:
        reader.unassign()
        with self._lock:
            spare = self._idle.setdefault(self._key(session), reader) is not reader
        if spare:  # another replay ran meanwhile and kept its reader
            reader.close()

    def warm_up(self, session: ChannelSession) -> None:
        """Connect a reader now, so even the first replay finds one ready."""
        reader = self.take(session)
        try:
            reader.watermarks()
        except BaseException:
            reader.close()
            raise
        self.give_back(session, reader)

    def close(self) -> None:
        with self._lock:
            readers, self._idle = list(self._idle.values()), {}
        for reader in readers:
            reader.close()


WARM = WarmReaders()
atexit.register(WARM.close)  # leave the cluster cleanly when the program ends


def replay_frames(
    session: ChannelSession,
    tx: Transmission,
    reader: PartitionReader | None = None,
    timeout: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    bounds: tuple[int, int] | None = None,
    cursor: RecordCursor | None = None,
) -> Generator[AudioFrame, None, None]:
    """Yield the transmission's frames in order; raise NotFoundError if expired.

    ``timeout`` is how long the broker may go without giving a record.
    ``bounds``: the audio partition's (low, high) watermarks when the caller
    knows them (one question less to the broker per transmission).
    ``cursor``: one shared by the replays of many transmissions (catch-up).
    Without a reader or cursor, a kept-open one (``WARM``) is borrowed.
    """
    borrowed = reader is None and cursor is None
    own = cursor.reader if cursor is not None else reader or WARM.take(session)
    healthy = False
    try:
        low, high = bounds if bounds is not None else own.watermarks()
        healthy = True  # the cluster answered: the reader is fit to keep
        if tx.start_offset < low:
            raise NotFoundError(
                f"the audio of transmission {tx.start_offset} has expired "
                "(removed by the channel's retention)"
            )
        if tx.end_offset >= high:
            raise NotFoundError(f"the audio of transmission {tx.start_offset} is not on the broker")
        records = (cursor or RecordCursor(own, timeout, clock)).records(
            tx.start_offset, tx.end_offset
        )
        yield from _frames_of(records, tx)
    except (GeneratorExit, NotFoundError):
        raise  # stopped early, or expired audio: the reader itself is fine
    except BaseException:
        healthy = False
        raise
    finally:
        if borrowed:
            if healthy:
                WARM.give_back(session, own)
            else:
                own.close()


def _frames_of(records: Iterator[Message], tx: Transmission) -> Iterator[AudioFrame]:
    next_seq = 0
    last: AudioFrame | None = None
    for msg in records:
        frame = parse_audio_record(msg.key(), msg.value(), headers_of(msg))
        if not isinstance(frame, AudioFrame):
            continue
        if tx.tx_id is None:
            yield frame  # the original app's way: everything in the range
            continue
        # Ids are 4 random bytes: the talker's name must match as well.
        mine = frame.tx_id == tx.tx_id and frame.talker == tx.user_id
        if not mine or frame.seq is None or frame.seq < next_seq:
            continue
        gap = fill_gaps(next_seq, frame)  # a pause the talker left out
        if len(gap) <= MAX_FILLED_GAP:
            yield from gap
        yield frame
        next_seq, last = frame.seq + 1, frame
    if last is not None and last.talker is not None and tx.frames > next_seq:
        stop = min(tx.frames, next_seq + MAX_FILLED_GAP)
        yield from SilenceRun(last.talker, tx.tx_id or "", last.frame_ms, next_seq, stop)
