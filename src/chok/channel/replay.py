"""Replay: the frames of one transmission, streamed as they are read.

A chok transmission is filtered by its transmission id (so a person talking
at the same time is not mixed in) and ordered by sequence number. A record
written the original app's way has no id: like that app, every frame from
startOffset to endOffset is played.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator

from chok.channel.incoming import AudioReader, FrameCheck
from chok.channel.live import MAX_FILLED_GAP
from chok.channel.session import ChannelSession
from chok.errors import KafkaTimeoutError, NotFoundError
from chok.kafka.stream import PartitionReader, headers_of
from chok.protocol.audio import AudioFrame, SilenceRun, fill_gaps
from chok.protocol.transmission import Transmission


def replay_frames(
    session: ChannelSession,
    tx: Transmission,
    reader: PartitionReader | None = None,
    timeout: float = 30.0,
    check: FrameCheck | None = None,
) -> Generator[AudioFrame, None, None]:
    """Yield the transmission's frames in order; raise NotFoundError if expired.

    With ``check``, every frame record of the transmission read (in offset
    order, duplicates and frames that do not open included) goes into its
    digest, to compare with what the talker signed (protocol.md, 9.8).
    """
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
        security = session.security
        audio = AudioReader(
            security, lambda: security.retry_keys(lambda: session.metadata_reader("trust"))
        )
        yield from _frames_in_range(own, audio, tx, timeout, check)
    finally:
        if reader is None:
            own.close()


def _frames_in_range(
    reader: PartitionReader,
    audio: AudioReader,
    tx: Transmission,
    timeout: float,
    check: FrameCheck | None,
) -> Iterator[AudioFrame]:
    deadline = time.monotonic() + timeout
    next_seq = 0
    last: AudioFrame | None = None
    while time.monotonic() < deadline:
        msg = reader.poll(0.2)
        if msg is None:
            if reader.at_end:
                break
            continue
        if (msg.offset() or 0) > tx.end_offset:
            break
        received = audio.read(msg.key(), msg.value(), headers_of(msg))
        if received is None:
            continue
        if check is not None and tx.tx_id is not None:
            seq = received.belongs_to(tx.user_id, tx.tx_id)
            if seq is not None:
                check.add(seq, received.wire)
        frame = received.record
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
    else:
        raise KafkaTimeoutError(
            f"replaying transmission {tx.start_offset}: the broker stopped answering"
        )
    if last is not None and last.talker is not None and tx.frames > next_seq:
        stop = min(tx.frames, next_seq + MAX_FILLED_GAP)
        yield from SilenceRun(last.talker, tx.tx_id or "", last.frame_ms, next_seq, stop)
