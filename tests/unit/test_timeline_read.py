"""How the timeline reads the metadata partition to its end (librdkafka's
consume waits for the whole count it was asked for: the end-of-partition event
does not end it early)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chok.channel.timeline import BATCH, Fold, _read_until, tail_batch
from chok.protocol.transmission import build_transmission


@dataclass
class _Msg:
    at: int

    def offset(self) -> int:
        return self.at

    def key(self) -> bytes:
        return b"unknown"

    def value(self) -> bytes:
        return b"{}"


@dataclass
class _Reader:
    """Holds ``count`` records; records every consume(n, timeout) it is asked."""

    count: int
    asked: list[tuple[int, float]] = field(default_factory=list)
    at_end: bool = False
    next_offset: int = 0

    def consume(self, n: int, timeout: float) -> list[_Msg]:
        self.asked.append((n, timeout))
        batch = [_Msg(o) for o in range(self.next_offset, min(self.count, self.next_offset + n))]
        self.next_offset += len(batch)
        return batch


class _Fold:
    def __init__(self) -> None:
        self.seen = 0

    def add(self, _key: bytes, _value: Any, _offset: int) -> None:
        self.seen += 1


def test_the_last_partial_batch_asks_for_what_is_left() -> None:
    reader, fold = _Reader(10_001), _Fold()
    _read_until(reader, 10_001, fold)  # type: ignore[arg-type]
    assert fold.seen == 10_001
    # Asking 5,000 for the last record waited the whole half second.
    assert reader.asked == [(BATCH, 0.5), (BATCH, 0.5), (1, 0.05)]


def test_tail_batch() -> None:
    assert tail_batch(12_000) == (BATCH, 0.5)
    assert tail_batch(BATCH) == (BATCH, 0.05)
    assert tail_batch(3) == (3, 0.05)
    assert tail_batch(0) == (1, 0.05)


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
