"""Reading a metadata partition asks for no more records than are left.

librdkafka answers ``consume(n, timeout)`` only when it has n records or the
wait is over; the last batch of a read is never full, so asking for a whole
batch there made every timeline read wait out the timeout (0.5 s, measured
by `chok bench --family`: a 2,000-transmission load took 550 ms, 104 after).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chok.channel.timeline import BATCH, Fold, _read_until
from chok.protocol.transmission import build_transmission


@dataclass
class FakeMessage:
    _offset: int
    _key: bytes
    _value: bytes

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return self._key

    def value(self) -> bytes:
        return self._value


@dataclass
class FakeReader:
    """A partition of ``count`` transmission records from ``first`` on."""

    first: int
    count: int
    asked: list[int] = field(default_factory=list)
    at_end: bool = False
    _next: int = -1

    def consume(self, max_records: int, timeout: float) -> list[FakeMessage]:
        self.asked.append(max_records)
        start = self.first if self._next < 0 else self._next
        stop = min(self.first + self.count, start + max_records)
        out = []
        for offset in range(start, stop):
            tx = build_transmission(
                user="dan", channel=1, start_offset=offset * 10, end_offset=offset * 10 + 5,
                timestamp_ms=1, tx_id="8f3a5c0e", frames=6, duration_ms=360, frame_ms=60,
            )  # fmt: skip
            out.append(FakeMessage(offset, tx.key(), tx.to_value()))
        self._next = stop
        return out


def test_the_last_batch_asks_only_for_what_is_left() -> None:
    reader = FakeReader(first=0, count=BATCH + 7)
    fold = Fold(1)
    _read_until(reader, BATCH + 7, fold)  # type: ignore[arg-type]
    assert reader.asked == [BATCH, 7]
    assert len(fold.latest) == BATCH + 7


def test_a_tail_read_asks_for_the_tail_only() -> None:
    reader = FakeReader(first=100_000, count=3)
    fold = Fold(1)
    _read_until(reader, 100_003, fold, start=100_000)  # type: ignore[arg-type]
    assert reader.asked == [3]
    assert len(fold.latest) == 3
