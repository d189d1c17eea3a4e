"""RecordCursor: ranges of one partition read with as few seeks as can be (fake reader)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chok.channel.cursor import READ_ON_LIMIT, RecordCursor
from tests.unit.fake_kafka import FakeMessage, FakeReader
from tests.unit.fuzz_strategies import fuzz_settings


def _partition(size: int, value_bytes: int = 10) -> FakeReader:
    return FakeReader([FakeMessage(b"k", bytes(value_bytes), None, i) for i in range(size)])


def _offsets(cursor: RecordCursor, start: int, end: int) -> list[int]:
    return [m.offset() for m in cursor.records(start, end)]


def test_overlapping_ranges_in_order_take_one_seek() -> None:
    cursor = RecordCursor(_partition(10_000))  # type: ignore[arg-type]
    ranges = [(0, 50), (10, 20), (40, 120), (100, 100), (130, 200), (150, 3000), (2990, 2995)]
    for start, end in ranges:
        assert _offsets(cursor, start, end) == list(range(start, end + 1))
    assert cursor.seeks == 1


def test_far_ahead_or_behind_the_window_seeks() -> None:
    reader = _partition(20_000, value_bytes=1000)
    cursor = RecordCursor(reader, window_bytes=100_000)  # type: ignore[arg-type]
    assert _offsets(cursor, 0, 500) == list(range(501))
    far = 600 + READ_ON_LIMIT
    assert _offsets(cursor, far, far + 500) == list(range(far, far + 501))
    assert cursor.seeks == 2
    assert _offsets(cursor, far + 450, far + 460) == list(range(far + 450, far + 461))  # kept
    assert cursor.seeks == 2
    assert _offsets(cursor, 100, 105) == list(range(100, 106))  # long forgotten
    assert cursor.seeks == 3


def test_a_range_past_the_end_gives_what_there_is() -> None:
    cursor = RecordCursor(_partition(30))  # type: ignore[arg-type]
    assert _offsets(cursor, 25, 40) == list(range(25, 30))


@fuzz_settings(300)
@given(
    st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 200)), min_size=1, max_size=20),
    st.integers(2_000, 200_000),
)
def test_any_ranges_give_exactly_their_records(ranges: list[tuple[int, int]], window: int) -> None:
    cursor = RecordCursor(_partition(2500, value_bytes=100), window_bytes=window)  # type: ignore[arg-type]
    for start, length in ranges:
        end = start + length
        assert _offsets(cursor, start, end) == list(range(start, min(end, 2499) + 1))
    assert cursor.seeks <= len(ranges)
