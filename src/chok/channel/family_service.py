"""The family while chok runs (the app, `chok listen`), on a thread of its own.

It says "online" every 2 minutes (``PresenceMachine``) and "offline" when it
stops, writes what this person heard (``HeardTracker``), and keeps reading the
family's person topics and this person's access record, telling its owner
what changed ("members", "heard", "access"). Its reads wait on the broker
while nothing happens (60 s), so an idle family of four costs each person about
2 KB a minute (docs/benchmarks.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from chok.channel import family
from chok.channel.presence import HeardTracker, LiveHearing, PresenceMachine
from chok.channel.session import ChannelSession
from chok.channel.store import Store
from chok.errors import AccessDeniedError, ChokError, TopicMissingError
from chok.kafka.producer import RecordProducer
from chok.profiles import Profile
from chok.protocol.heard import HeardRecord
from chok.protocol.people import DEFAULT_HEARTBEAT_MS, PRESENCE_KEY, Presence, person_topic

ChangeHandler = Callable[[set[str]], None]
RELIST_S = 1800.0  # new members of the family are found this often
RETRY_S = 5.0
FLUSH_S = 5.0
# Going away: "offline" and what was heard get this long (a cluster that
# answers takes milliseconds; one that did not at the last write gets one
# short try, so that it does not hold the exit).
FINAL_FLUSH_S = 2.0
FINAL_FLUSH_UNREACHABLE_S = 0.2


def _now_ms() -> int:
    return int(time.time() * 1000)


class FamilyService:
    def __init__(
        self,
        profile: Profile,
        store: Store,
        on_change: ChangeHandler | None = None,
        heartbeat_ms: int = DEFAULT_HEARTBEAT_MS,
        announce: bool = True,
        client_extra: dict[str, Any] | None = None,
    ) -> None:
        self.profile, self.store = profile, store
        self.user = profile.user
        self._on_change = on_change
        # ``announce`` False: read the family but tell nobody we are here.
        self.presence = PresenceMachine(self.user, heartbeat_ms) if announce else None
        self.tracker = HeardTracker(self.user)
        self._lock = threading.Lock()  # the tracker is fed from other threads
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chok-family", daemon=True)
        self._producer: RecordProducer | None = None
        self.available = True  # False: the cluster has no family topics for us
        self._relist_at = 0.0  # when to list the family's topics (again)
        self._flushed_last = True  # the last write reached the cluster
        self._finishing = False
        self._extra = client_extra or {}  # librdkafka settings (the benchmark's statistics)
        self.error: ChokError | None = None

    # -- what the owner tells it (any thread) -------------------------------------------

    def heard(self, channel: int, first: int, last: int) -> None:
        """This person heard audio offsets first..last (a replay played to its end)."""
        with self._lock:
            self.tracker.heard(channel, first, last, _now_ms())

    def live(self, channel: int) -> ReportedHearing:
        """A live listener's hearing, reported through this service."""
        return ReportedHearing(channel, self.tracker, self._lock)

    def start(self) -> FamilyService:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        reader = family.FamilyReader(
            self.profile.credentials, self.user, self.store, long_poll=True, watch_access=True,
            extra=self._extra,
        )  # fmt: skip
        try:
            self._producer = RecordProducer(self.profile.credentials, self._extra)
            if self.presence is not None:
                self._write_presence(self.presence.start(_now_ms()))
            while not self._stop.is_set():
                if time.monotonic() >= self._relist_at:
                    self._relist_at = self._open(reader)
                changed = self._poll(reader)
                if changed and self._on_change is not None:
                    self._on_change(changed)
                self._tick()
        finally:
            self._finish()
            reader.close()

    def _open(self, reader: family.FamilyReader) -> float:
        try:
            producer = self._producer
            stopping = self._stop.is_set
            reader.open(
                (lambda: producer.topic_names(cancelled=stopping)) if producer is not None else None
            )
            self.available = True
            return time.monotonic() + RELIST_S
        except family.FamilyMissing:
            self.available = False
            return time.monotonic() + RELIST_S
        except ChokError as exc:
            self.error = exc
            return time.monotonic() + RETRY_S

    def _poll(self, reader: family.FamilyReader) -> set[str]:
        if not self.available or not reader.is_open:
            self._stop.wait(0.5)
            return set()
        try:
            return reader.poll(0.5)
        except ChokError as exc:
            self.error = exc
            reader.close()  # opened again by _open, which a stop cuts short
            self._relist_at = time.monotonic() + RETRY_S
            return set()

    def _tick(self) -> None:
        now = _now_ms()
        if self.presence is not None:
            self._write_presence(self.presence.tick(now))
        with self._lock:
            records = self.tracker.take(now, self._existing) if self.tracker.due(now) else []
        self._write_heard(records)

    def _existing(self, channel: int, block: int) -> tuple[tuple[int, int], ...]:
        return family.heard_ranges(self.store, self.user, channel, block)

    def _write_presence(self, records: list[Presence]) -> None:
        if not records or not self.available or self._producer is None:
            return
        try:
            for record in records:
                self._producer.produce(
                    person_topic(self.user), PRESENCE_KEY, record.to_value(), partition=0
                )
            self._flush()
        except ChokError as exc:
            self.error = exc
            if self.presence is not None:
                self.presence.failed(_now_ms())

    def _write_heard(self, records: list[HeardRecord]) -> None:
        if not records or not self.available or self._producer is None:
            return
        try:
            for record in records:
                self._producer.produce(
                    person_topic(self.user), record.key(), record.to_value(), partition=0
                )
            self._flush()
            family.remember_heard(self.store, records)
        except ChokError as exc:
            self.error = exc
            with self._lock:
                self.tracker.put_back(records, _now_ms())

    def _flush(self) -> None:
        assert self._producer is not None
        reached, self._flushed_last = self._flushed_last, False
        if self._finishing:  # going away: a short last try
            self._producer.flush(FINAL_FLUSH_S if reached else FINAL_FLUSH_UNREACHABLE_S)
        else:
            self._producer.flush(FLUSH_S, cancelled=self._stop.is_set)
        self._flushed_last = True

    def _finish(self) -> None:
        """Going away: what was heard, then "offline"."""
        self._finishing = True
        with self._lock:
            records = self.tracker.take(_now_ms(), self._existing) if self.tracker.pending else []
        self._write_heard(records)
        if self.presence is not None:
            self._write_presence(self.presence.stop(_now_ms()))


class ReportedHearing(LiveHearing):
    def __init__(self, channel: int, tracker: HeardTracker, lock: threading.Lock) -> None:
        super().__init__(channel, tracker)
        self._lock = lock

    def heard_until(self, last_offset: int, now_ms: int | None = None) -> None:
        with self._lock:
            super().heard_until(last_offset, _now_ms() if now_ms is None else now_ms)


def write_heard(session: ChannelSession, store: Store, first: int, last: int) -> bool:
    """A command played a recording to its end: say so now (merged with what the
    person's topic holds for that block). False where the cluster has no family
    topics; never raises for that."""
    try:
        family.refresh_own(session.creds, session.user, store)
        tracker = HeardTracker(session.user, debounce_ms=0)
        tracker.heard(session.number, first, last, _now_ms())
        records = tracker.take(
            _now_ms(), lambda ch, block: family.heard_ranges(store, session.user, ch, block)
        )
        producer = RecordProducer(session.creds)
        for record in records:
            producer.produce(
                person_topic(session.user), record.key(), record.to_value(), partition=0
            )
        producer.flush(FLUSH_S)
        family.remember_heard(store, records)
    except (TopicMissingError, AccessDeniedError):
        return False
    return True
