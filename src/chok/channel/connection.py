"""Whether the family's Kafka is there: one small state machine for every live reader
and sender (listening, floor control, the desktop app, the outbox).

Framework-free and clock-injected: the adapter around it feeds it what happened
(an answer, an error, time passing, close) and asks it when to try again; it
says what changed in plain words, with Kafka's own text kept apart as a detail.
The drawing is in docs/architecture.md ("Live runtime: the connection machine").

    CONNECTING --answer--> CONNECTED --error / no answer--> RECONNECTING
    RECONNECTING --answer--> CONNECTED;  RECONNECTING --down > offline_after--> OFFLINE
    OFFLINE --answer--> CONNECTED;  any --close--> CLOSED
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

Clock = Callable[[], float]

#: How often a connected reader asks the broker whether it is still there.
PROBE_INTERVAL_S = 3.0
#: Pauses between tries while reconnecting: short at first, then at most the last.
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 15.0)
#: An attempt without an answer for this long counts as failed.
ANSWER_TIMEOUT_S = 5.0
#: Down this long: "offline" (still trying, at the longest back-off).
OFFLINE_AFTER_S = 60.0


class ConnState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"
    CLOSED = "closed"


@dataclass(frozen=True)
class ConnStatus:
    """What a person is told: the state, in words, and Kafka's own text apart."""

    state: ConnState
    text: str
    detail: str | None = None  # Kafka's text of the last failure, for --verbose / details

    @property
    def up(self) -> bool:
        return self.state is ConnState.CONNECTED


def _ago(seconds: float) -> str:
    return f"{seconds:.0f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"


class ConnectionMachine:
    """The connection to one cluster as a reader or sender sees it.

    Inputs: ``attempt_started`` (a probe or fetch was sent), ``succeeded`` (any
    answer: a probe, a record, a delivery report), ``failed`` (an error),
    ``tick`` (time passed), ``close``. Output: ``on_change(ConnStatus)`` on every
    change of state. Queries: ``attempt_due`` (time to try again), ``describe``.
    """

    def __init__(
        self,
        address: str,
        clock: Clock,
        on_change: Callable[[ConnStatus], None] | None = None,
        *,
        probe_interval_s: float = PROBE_INTERVAL_S,
        backoff_s: tuple[float, ...] = BACKOFF_S,
        answer_timeout_s: float = ANSWER_TIMEOUT_S,
        offline_after_s: float = OFFLINE_AFTER_S,
    ) -> None:
        self.address = address
        self._clock = clock
        self._on_change = on_change
        self._probe_interval = probe_interval_s
        self._backoff = backoff_s
        self._answer_timeout = answer_timeout_s
        self._offline_after = offline_after_s
        self.state = ConnState.CONNECTING
        self.detail: str | None = None
        self._failures = 0  # in a row, since the last answer
        now = clock()
        self._down_since = now  # when the last answer was (or the start)
        self._last_try: float | None = None
        self._pending_since: float | None = None  # an attempt waiting for its answer
        self._next_try = now

    # -- inputs ----------------------------------------------------------------

    def attempt_started(self) -> None:
        """A probe (or connection attempt) went out; its answer is awaited."""
        if self.state is ConnState.CLOSED:
            return
        now = self._clock()
        self._last_try = now
        if self._pending_since is None:
            self._pending_since = now
        self._next_try = now + self._pause()

    def succeeded(self) -> None:
        """The broker answered (a probe, a fetched record, a delivery report)."""
        if self.state is ConnState.CLOSED:
            return
        now = self._clock()
        self._failures = 0
        self._pending_since = None
        self._down_since = now
        self._last_try = now
        self._next_try = now + self._probe_interval
        self._enter(ConnState.CONNECTED, None)

    def failed(self, detail: str) -> None:
        """A probe, fetch or send failed; ``detail`` is Kafka's text (kept apart)."""
        if self.state is ConnState.CLOSED:
            return
        now = self._clock()
        if self.state is ConnState.CONNECTED:
            self._down_since = now
        self._failures += 1
        if self._pending_since is None:
            self._last_try = now  # a failure nobody asked for (a send, a fetch) is a try too
        self._pending_since = None
        self._next_try = now + self._pause()
        down_for = now - self._down_since
        state = ConnState.OFFLINE if down_for >= self._offline_after else ConnState.RECONNECTING
        self._enter(state, detail)

    def tick(self) -> None:
        """Time passed: an attempt unanswered too long fails; a long outage is offline."""
        if self.state is ConnState.CLOSED:
            return
        now = self._clock()
        if self._pending_since is not None and now - self._pending_since >= self._answer_timeout:
            self.failed(f"no answer from {self.address} in {self._answer_timeout:.0f} s")
        elif self.state is ConnState.RECONNECTING and now - self._down_since >= self._offline_after:
            self._enter(ConnState.OFFLINE, self.detail)

    def close(self) -> None:
        self._enter(ConnState.CLOSED, None)

    # -- queries ----------------------------------------------------------------

    def attempt_due(self) -> bool:
        """Time to probe (connected) or to try again (reconnecting, offline)."""
        if self.state is ConnState.CLOSED or self._pending_since is not None:
            return False
        return self._clock() >= self._next_try

    @property
    def awaiting_answer(self) -> bool:
        return self._pending_since is not None

    @property
    def up(self) -> bool:
        return self.state is ConnState.CONNECTED

    def down_for(self) -> float:
        """Seconds since the broker last answered (0 while connected)."""
        return 0.0 if self.up else self._clock() - self._down_since

    def describe(self) -> ConnStatus:
        """The current state in words, with times as of now."""
        now = self._clock()
        where = f"the family's Kafka at {self.address}"
        if self.state is ConnState.CONNECTING:
            text = f"Connecting to {where}…"
        elif self.state is ConnState.CONNECTED:
            text = f"Connected to {where}"
        elif self.state is ConnState.CLOSED:
            text = "Closed"
        else:
            last = f" (last try {_ago(now - self._last_try)})" if self._last_try else ""
            lead = "Can't reach" if self.state is ConnState.RECONNECTING else "Offline: can't reach"
            text = f"{lead} {where} — retrying{last}"
        return ConnStatus(self.state, text, self.detail)

    # -- internals -----------------------------------------------------------------

    def _pause(self) -> float:
        if self._failures == 0 and self.state is ConnState.CONNECTED:
            return self._probe_interval
        if self.state is ConnState.OFFLINE:
            return self._backoff[-1]
        return self._backoff[min(max(self._failures - 1, 0), len(self._backoff) - 1)]

    def _enter(self, state: ConnState, detail: str | None) -> None:
        changed = state is not self.state
        self.state = state
        self.detail = detail
        if changed and self._on_change is not None:
            self._on_change(self.describe())
