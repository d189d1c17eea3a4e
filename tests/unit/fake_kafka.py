"""A fake partition reader and records, for unit tests of the channel use cases.

Only the calls chok's readers make (poll, consume, watermarks, assign, at_end)
with records in memory; the real broker is used by the integration tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Headers = Sequence[tuple[str, bytes | None]] | None


@dataclass
class FakeMessage:
    _key: bytes | None
    _value: bytes | None
    _headers: Headers = None
    _offset: int = 0
    _timestamp_ms: int = 0

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list[tuple[str, bytes | None]] | None:
        return None if self._headers is None else list(self._headers)

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return (1, self._timestamp_ms)

    def error(self) -> None:
        return None


@dataclass
class FakeReader:
    """Hands out ``messages`` one per poll, then reports the end of the partition.

    ``on_poll`` runs before every poll (a test's clock moves there).
    """

    messages: list[FakeMessage]
    low: int = 0
    on_poll: Callable[[], None] | None = None
    at_end: bool = False
    position: int = 0
    polls: int = 0
    closed: bool = field(default=False)

    @classmethod
    def of(cls, records: Sequence[tuple[bytes | None, bytes | None, Headers]]) -> FakeReader:
        return cls([FakeMessage(k, v, h, i) for i, (k, v, h) in enumerate(records)])

    def watermarks(self, *_args: object, **_kwargs: object) -> tuple[int, int]:
        return self.low, len(self.messages)

    def assign(self, offset: int) -> None:
        self.position = max(offset, 0)
        self.at_end = False

    def poll(self, _timeout: float) -> FakeMessage | None:
        self.polls += 1
        if self.on_poll is not None:
            self.on_poll()
        if self.position >= len(self.messages):
            self.at_end = True
            return None
        msg = self.messages[self.position]
        self.position += 1
        return msg

    def consume(self, max_records: int, timeout: float) -> list[FakeMessage]:
        batch = []
        while len(batch) < max_records and (msg := self.poll(timeout)) is not None:
            batch.append(msg)
        return batch

    def close(self) -> None:
        self.closed = True
