"""Saying "I am here" and "I heard that": two small machines, no I/O.

The family service (``family.py``) feeds them the clock and what happened,
and writes the records they return. Drawn in docs/architecture.md.

Presence::

    IDLE --start--> ONLINE --tick (due)--> ONLINE     write "online", due = now + every
                      |  (a failed write: due = now + retry)
                      +--stop--> STOPPED              write "offline" once

Heard::

    heard(channel, first, last) marks blocks dirty; the first mark starts a
    short wait (``debounce_ms``) so that a burst of transmissions goes out as
    one record per block; ``take`` returns those records, merged with what the
    person's topic already holds for the block, and forgets them.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from chok.protocol.heard import HeardRecord, Range, split_by_block
from chok.protocol.people import DEFAULT_HEARTBEAT_MS, Presence

RETRY_MS = 5_000
HEARD_DEBOUNCE_MS = 2_000


class PresenceState(StrEnum):
    IDLE = "idle"
    ONLINE = "online"
    STOPPED = "stopped"


class PresenceMachine:
    def __init__(self, user: str, every_ms: int = DEFAULT_HEARTBEAT_MS) -> None:
        self.user = user
        self.every_ms = every_ms
        self.state = PresenceState.IDLE
        self.due_ms: int | None = None

    def _record(self, state: str, now_ms: int) -> Presence:
        return Presence(self.user, "online" if state == "online" else "offline", now_ms,
                        self.every_ms)  # fmt: skip

    def start(self, now_ms: int) -> list[Presence]:
        if self.state is not PresenceState.IDLE:
            return []
        self.state = PresenceState.ONLINE
        self.due_ms = now_ms + self.every_ms
        return [self._record("online", now_ms)]

    def tick(self, now_ms: int) -> list[Presence]:
        if self.state is not PresenceState.ONLINE or self.due_ms is None or now_ms < self.due_ms:
            return []
        self.due_ms = now_ms + self.every_ms
        return [self._record("online", now_ms)]

    def failed(self, now_ms: int) -> None:
        """The last write did not reach the broker: try again soon."""
        if self.state is PresenceState.ONLINE:
            self.due_ms = now_ms + min(RETRY_MS, self.every_ms)

    def stop(self, now_ms: int) -> list[Presence]:
        if self.state is not PresenceState.ONLINE:
            self.state = PresenceState.STOPPED
            return []
        self.state = PresenceState.STOPPED
        self.due_ms = None
        return [self._record("offline", now_ms)]


Existing = Callable[[int, int], tuple[Range, ...]]  # (channel, block) -> ranges already there


class HeardTracker:
    def __init__(self, user: str, debounce_ms: int = HEARD_DEBOUNCE_MS) -> None:
        self.user = user
        self.debounce_ms = debounce_ms
        self._dirty: dict[tuple[int, int], list[Range]] = {}
        self.due_ms: int | None = None

    def heard(self, channel: int, first: int, last: int, now_ms: int) -> None:
        """The person heard audio offsets first..last of a channel."""
        if last < first:
            return
        for block, part in split_by_block(first, last).items():
            self._dirty.setdefault((channel, block), []).append(part)
        if self.due_ms is None:
            self.due_ms = now_ms + self.debounce_ms

    @property
    def pending(self) -> bool:
        return bool(self._dirty)

    def due(self, now_ms: int) -> bool:
        return self.due_ms is not None and now_ms >= self.due_ms

    def take(self, now_ms: int, existing: Existing) -> list[HeardRecord]:
        """The records to write now (merged with the topic's), and forget them."""
        records = [
            HeardRecord(self.user, channel, block, (*existing(channel, block), *parts), now_ms)
            for (channel, block), parts in sorted(self._dirty.items())
        ]
        self._dirty.clear()
        self.due_ms = None
        return records

    def put_back(self, records: list[HeardRecord], now_ms: int) -> None:
        """Writing failed: keep them for the next try."""
        for record in records:
            self._dirty.setdefault((record.channel, record.block), []).extend(record.ranges)
        if records and self.due_ms is None:
            self.due_ms = now_ms + RETRY_MS


class LiveHearing:
    """A live listener hears everything from where it tuned in: one growing range."""

    def __init__(self, channel: int, tracker: HeardTracker) -> None:
        self.channel = channel
        self.tracker = tracker
        self.since: int | None = None

    def tuned_in(self, offset: int) -> None:
        self.since = offset

    def lost(self) -> None:
        """Not listening any more (stopped, or the connection broke)."""
        self.since = None

    def heard_until(self, last_offset: int, now_ms: int) -> None:
        """Everything up to ``last_offset`` went through the speaker."""
        if self.since is not None and last_offset >= self.since:
            self.tracker.heard(self.channel, self.since, last_offset, now_ms)
