"""Scanning several channels at once: who gets the speaker (Zello's "scan").

A pure state machine (no threads, no Kafka, an injected clock) that decides,
for every live transmission on the monitored channels, whether it is played.
The listeners feed it what they hear; it answers "play this" or "not".

Rules (docs/desktop.md, "Several channels at once"):

1. **Muted** channels are never played; their activity is still shown and
   what was said there stays unheard (replay it from that channel's timeline).
2. **One channel holds the speaker at a time.** The first channel whose
   transmission starts while the speaker is free takes it; everyone talking
   on that channel is heard (mixed, as on one channel). Talk on other
   channels meanwhile is not played: it is shown as activity and stays unheard.
3. **Hang time.** When the holding channel falls silent it keeps the speaker
   for ``hang_s`` (2 s) so that an answer on the same channel is heard first.
4. **The priority channel interrupts.** A transmission starting on it takes
   the speaker at once, even from another channel mid-sentence (that one is
   cut off and stays unheard). Nothing interrupts the priority channel.
5. **Whole or nothing.** A transmission already under way when the speaker
   becomes free is not joined half-way: it stays unheard, to replay whole.
6. Muting the channel that holds the speaker cuts it off at once; settings
   otherwise apply to the next transmission.

A transmission counts as *heard* only if it was played from its start to its
end (``ended`` returns that).

    speaker:  FREE --start on C (unmuted)--> HOLD(C) --C silent--> HANG(C)
              HANG(C) --start on C--> HOLD(C)     HANG(C) --hang_s passed--> FREE
              HOLD(X)/HANG(X) --start on priority P != X--> HOLD(P)  (X cut off)
              HOLD(C)/HANG(C) --C muted--> FREE                      (C cut off)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

HANG_S = 2.0

Clock = Callable[[], float]
CutHandler = Callable[[int, str], None]  # channel, transmission key


class Speaker(StrEnum):
    FREE = "free"
    HOLD = "hold"  # a channel's transmission is playing
    HANG = "hang"  # it just ended: its channel keeps the speaker a little


@dataclass(frozen=True)
class ScanSettings:
    """Which channels are monitored, muted, and which one interrupts."""

    channels: tuple[int, ...]
    muted: frozenset[int] = frozenset()
    priority: int | None = None
    hang_s: float = HANG_S

    def __post_init__(self) -> None:
        if self.priority is not None and self.priority not in self.channels:
            raise ValueError(f"priority channel {self.priority} is not monitored")

    def with_muted(self, channel: int, muted: bool) -> ScanSettings:
        changed = self.muted | {channel} if muted else self.muted - {channel}
        return replace(self, muted=frozenset(changed))

    def with_priority(self, channel: int | None) -> ScanSettings:
        return replace(self, priority=channel)


@dataclass
class _Talk:
    talker: str
    audible: bool  # being played now
    whole: bool  # played since its first frame (so far)


@dataclass
class _Channel:
    talks: dict[str, _Talk] = field(default_factory=dict)
    missed: int = 0  # transmissions that ended unheard since the counter was reset


class ScanMachine:
    """The speaker's owner among the monitored channels. Not thread-safe (see ScanGate)."""

    def __init__(
        self, settings: ScanSettings, clock: Clock, on_cut: CutHandler | None = None
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._on_cut = on_cut
        self._channels: dict[int, _Channel] = {c: _Channel() for c in settings.channels}
        self.state = Speaker.FREE
        self.holder: int | None = None
        self._hang_until = 0.0

    # -- inputs -------------------------------------------------------------------

    def started(self, channel: int, key: str, talker: str) -> bool:
        """A transmission starts on ``channel``; True if it is played."""
        self.tick()
        talks = self._channel(channel).talks
        audible = self._may_take(channel)
        if audible and self.holder is not None and self.holder != channel:
            self._cut_all(self.holder)  # the priority channel interrupts
        talks[key] = _Talk(talker, audible, audible)
        if audible:
            self.state, self.holder = Speaker.HOLD, channel
        return audible

    def frame(self, channel: int, key: str) -> bool:
        """A frame of a transmission arrived; True if it is to be played."""
        talk = self._channel(channel).talks.get(key)
        return talk is not None and talk.audible

    def ended(self, channel: int, key: str) -> bool:
        """A transmission ended; True if it was heard whole."""
        state = self._channel(channel)
        talk = state.talks.pop(key, None)
        heard = talk is not None and talk.whole and talk.audible
        if not heard:
            state.missed += 1
        if self.holder == channel and not any(t.audible for t in state.talks.values()):
            self.state = Speaker.HANG
            self._hang_until = self._clock() + self.settings.hang_s
        return heard

    def tick(self) -> None:
        """Let time pass: a hang time that ran out frees the speaker."""
        if self.state is Speaker.HANG and self._clock() >= self._hang_until:
            self.state, self.holder = Speaker.FREE, None

    def configure(self, settings: ScanSettings) -> None:
        """New channels, mutes or priority; muting the holder cuts it off now."""
        self.settings = settings
        for channel in settings.channels:
            self._channels.setdefault(channel, _Channel())
        for channel in [c for c in self._channels if c not in settings.channels]:
            if self.holder == channel:
                self._release(channel)
            del self._channels[channel]
        if self.holder is not None and self.holder in settings.muted:
            self._release(self.holder)

    def forget(self, channel: int) -> None:
        """Its listener stopped (switched, reconnected): what was under way there will
        not end through it, so it no longer holds the speaker."""
        state = self._channel(channel)
        state.talks.clear()
        if self.holder == channel:
            self.state, self.holder = Speaker.FREE, None

    # -- what the views show ------------------------------------------------------------

    def talkers(self, channel: int) -> list[str]:
        return sorted({t.talker for t in self._channel(channel).talks.values()})

    def active_channels(self) -> list[int]:
        return sorted(c for c, s in self._channels.items() if s.talks)

    def missed(self, channel: int) -> int:
        return self._channel(channel).missed

    def reset_missed(self, channel: int) -> None:
        self._channel(channel).missed = 0

    # -- inside -----------------------------------------------------------------------

    def _channel(self, channel: int) -> _Channel:
        state = self._channels.get(channel)
        if state is None:  # not monitored (any more): tracked, never played
            state = self._channels[channel] = _Channel()
        return state

    def _may_take(self, channel: int) -> bool:
        settings = self.settings
        if channel in settings.muted or channel not in settings.channels:
            return False
        if self.state is Speaker.FREE or self.holder == channel:
            return True
        return channel == settings.priority  # interrupts whoever holds the speaker

    def _cut_all(self, channel: int) -> None:
        for key, talk in self._channel(channel).talks.items():
            if talk.audible:
                talk.audible = talk.whole = False
                if self._on_cut is not None:
                    self._on_cut(channel, key)

    def _release(self, channel: int) -> None:
        self._cut_all(channel)
        self.state, self.holder = Speaker.FREE, None


class ScanGate:
    """A ScanMachine shared by listener threads (one per connection): a lock around it."""

    def __init__(
        self, settings: ScanSettings, clock: Clock, on_cut: CutHandler | None = None
    ) -> None:
        self._machine = ScanMachine(settings, clock, on_cut)
        self._lock = threading.Lock()

    @property
    def settings(self) -> ScanSettings:
        with self._lock:
            return self._machine.settings

    @property
    def holder(self) -> int | None:
        with self._lock:
            self._machine.tick()
            return self._machine.holder

    def started(self, channel: int, key: str, talker: str) -> bool:
        with self._lock:
            return self._machine.started(channel, key, talker)

    def frame(self, channel: int, key: str) -> bool:
        with self._lock:
            return self._machine.frame(channel, key)

    def ended(self, channel: int, key: str) -> bool:
        with self._lock:
            return self._machine.ended(channel, key)

    def configure(self, settings: ScanSettings) -> None:
        with self._lock:
            self._machine.configure(settings)

    def talkers(self, channel: int) -> list[str]:
        with self._lock:
            return self._machine.talkers(channel)

    def forget(self, channel: int) -> None:
        with self._lock:
            self._machine.forget(channel)

    def missed(self, channel: int) -> int:
        with self._lock:
            return self._machine.missed(channel)

    def reset_missed(self, channel: int) -> None:
        with self._lock:
            self._machine.reset_missed(channel)


def parse_channels(values: Iterable[str], available: Iterable[int]) -> tuple[int, ...]:
    """``--channel`` values ("1", "2", "all") as channel numbers, in the profile's order.

    Raises ValueError (with words for people) on a channel the profile lacks.
    """
    known = list(available)
    chosen: list[int] = []
    for value in values:
        if value.strip().lower() == "all":
            numbers = known
        else:
            try:
                numbers = [int(value)]
            except ValueError:
                raise ValueError(
                    f"--channel takes a channel number or 'all', not {value!r}"
                ) from None
        for number in numbers:
            if number not in known:
                have = ", ".join(str(c) for c in known) or "none"
                raise ValueError(f"you are not on channel {number} (your channels: {have})")
            if number not in chosen:
                chosen.append(number)
    return tuple(chosen)
