"""Replay: the frames of one transmission, streamed as they are read.

A chok transmission is filtered by its transmission id (so a person talking
at the same time is not mixed in) and ordered by sequence number. A record
written the original app's way has no id: like that app, every frame from
startOffset to endOffset is played.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator

from chok.channel.session import ChannelSession
from chok.errors import KafkaTimeoutError, NotFoundError
from chok.kafka.stream import PartitionReader, headers_of
from chok.protocol.audio import AudioFrame, EndOfTransmission, parse_audio_record
from chok.protocol.transmission import Transmission


def replay_frames(
    session: ChannelSession,
    tx: Transmission,
    reader: PartitionReader | None = None,
    timeout: float = 30.0,
) -> Generator[AudioFrame, None, None]:
    """Yield the transmission's frames in order; raise NotFoundError if expired."""
    own = reader or session.audio_reader("replay")
    try:
        low, high = own.watermarks()
        if tx.start_offset < low:
            raise NotFoundError(
                f"the audio of transmission {tx.start_offset} has expired "
                "(removed by the channel's retention)"
            )
        if tx.end_offset >= high:
            raise NotFoundError(f"the audio of transmission {tx.start_offset} is not on the broker")
        own.assign(tx.start_offset)
        yield from _frames_in_range(own, tx, timeout)
    finally:
        if reader is None:
            own.close()


def _frames_in_range(
    reader: PartitionReader, tx: Transmission, timeout: float
) -> Iterator[AudioFrame]:
    deadline = time.monotonic() + timeout
    wanted = tx.frames if tx.tx_id is not None else None
    seen = 0
    next_seq = 0
    held: dict[int, AudioFrame] = {}
    while time.monotonic() < deadline:
        msg = reader.poll(0.2)
        if msg is None:
            if reader.at_end:
                return
            continue
        offset = msg.offset() or 0
        if offset > tx.end_offset:
            return
        frame = parse_audio_record(msg.key(), msg.value(), headers_of(msg))
        if frame is None or isinstance(frame, EndOfTransmission):
            continue
        if tx.tx_id is None:
            yield frame
            continue
        if frame.tx_id != tx.tx_id or frame.seq is None:
            continue
        # One idempotent producer keeps order; hold frames only if it did not.
        held[frame.seq] = frame
        while next_seq in held:
            yield held.pop(next_seq)
            next_seq += 1
            seen += 1
        if wanted is not None and seen >= wanted:
            return
    raise KafkaTimeoutError(
        f"replaying transmission {tx.start_offset}: the broker stopped answering"
    )
