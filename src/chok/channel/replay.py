"""Replay: the frames of one transmission, streamed as they are read.

A chok transmission is filtered by its transmission id (so a person talking
at the same time is not mixed in) and ordered by sequence number. A record
written the original app's way has no id: like that app, every frame from
startOffset to endOffset is played.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from typing import Any

from confluent_kafka import Message

from chok.channel.cursor import RecordCursor
from chok.channel.live import MAX_FILLED_GAP
from chok.channel.session import ChannelSession
from chok.errors import NotFoundError
from chok.kafka.stream import PartitionReader, headers_of
from chok.protocol.audio import AudioFrame, SilenceRun, fill_gaps, parse_audio_record
from chok.protocol.transmission import Transmission

# A replay reader jumps from one place to another: a short long-poll makes each
# jump cost a round trip instead of up to fetch.wait.max.ms (100 ms for live).
REPLAY_READER: dict[str, Any] = {"fetch.wait.max.ms": 10}


def replay_reader(session: ChannelSession, purpose: str = "replay") -> PartitionReader:
    return session.audio_reader(purpose, REPLAY_READER)


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
    """
    own = cursor.reader if cursor is not None else reader or replay_reader(session)
    try:
        low, high = bounds if bounds is not None else own.watermarks()
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
    finally:
        if reader is None and cursor is None:
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
