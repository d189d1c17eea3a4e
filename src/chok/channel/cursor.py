"""Reading ranges of one partition, one after the other, with as few seeks as can be.

A seek (``assign`` at another offset) costs librdkafka a new fetch, some 10 to
100 ms; reading on costs microseconds a record. Catching up plays many
recordings in offset order, and recordings overlap (two people talked at once,
or a member wrote records whose ranges overlap on purpose): the cursor keeps a
window of the latest records (bounded in bytes), so a range that starts a
little behind is served from memory, and one that starts a little ahead is
read on to instead of sought.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterator

from confluent_kafka import Message

from chok.errors import KafkaTimeoutError
from chok.kafka.stream import PartitionReader

#: Records read and dropped rather than seeking past them.
READ_ON_LIMIT = 5000
#: Bytes of recent records kept for ranges that start behind.
WINDOW_BYTES = 8 << 20


def _size(msg: Message) -> int:
    return len(msg.value() or b"") + len(msg.key() or b"") + 64


class RecordCursor:
    def __init__(
        self,
        reader: PartitionReader,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        window_bytes: int = WINDOW_BYTES,
    ) -> None:
        """``timeout``: how long the broker may go without giving a record."""
        self.reader, self.timeout, self.clock = reader, timeout, clock
        self.window_bytes = window_bytes
        # The latest records read, in offset order, from index _head on.
        self._offsets: list[int] = []
        self._kept: list[Message] = []
        self._head = 0
        self._bytes = 0
        self._next: int | None = None  # the offset the reader gives next
        self.seeks = 0

    def records(self, start: int, end: int) -> Iterator[Message]:
        """The records of offsets ``start`` to ``end`` in order (fewer if the
        partition ends first). Raises KafkaTimeoutError if the broker stops answering."""
        if not self._serves(start):
            self._seek(start)
        index = bisect.bisect_left(self._offsets, start, self._head)
        stop = len(self._kept)
        while index < stop:  # from the window first
            if self._offsets[index] > end:
                return
            yield self._kept[index]
            index += 1
        while (msg := self._read()) is not None:
            offset = msg.offset() or 0
            if offset > end:
                return
            if offset >= start:
                yield msg

    def _serves(self, start: int) -> bool:
        """True if ``start`` is in the window or a little ahead of the reader."""
        if self._next is None:
            return False
        first = self._offsets[self._head] if self._head < len(self._offsets) else self._next
        return first <= start <= self._next + READ_ON_LIMIT

    def _seek(self, start: int) -> None:
        self.reader.assign(start)
        self.seeks += 1
        self._offsets, self._kept, self._head, self._bytes = [], [], 0, 0
        self._next = start

    def _read(self) -> Message | None:
        """The next record of the partition, kept in the window; None at its end."""
        deadline = self.clock() + self.timeout
        while self.clock() < deadline:
            msg = self.reader.poll(0.2)
            if msg is None:
                if self.reader.at_end:
                    return None
                continue
            deadline = self.clock() + self.timeout
            if self._next is not None and (msg.offset() or 0) < self._next:
                continue  # fetched before the last seek
            self._keep(msg)
            return msg
        raise KafkaTimeoutError(f"reading {self.reader.topic}: the broker stopped answering")

    def _keep(self, msg: Message) -> None:
        offset = msg.offset() or 0
        self._next = offset + 1
        self._offsets.append(offset)
        self._kept.append(msg)
        self._bytes += _size(msg)
        while self._bytes > self.window_bytes and self._head < len(self._kept) - 1:
            self._bytes -= _size(self._kept[self._head])
            self._head += 1
        if self._head > 1000 and self._head * 2 > len(self._kept):  # drop the forgotten part
            del self._offsets[: self._head], self._kept[: self._head]
            self._head = 0
