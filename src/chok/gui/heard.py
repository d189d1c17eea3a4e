"""What this person has heard on a channel, to count and play what they missed.

Kept per profile and channel in chok's small state file: everything that
started below ``below`` (an audio offset) counts as heard, plus the ids (start
offsets) in ``ids``. A recording is heard when it played through the speaker
live or was replayed to the end; your own are never "unheard". The first time
a channel is opened, everything already on it counts as heard.
"""

from __future__ import annotations

from collections.abc import Iterable

from chok import profiles
from chok.channel.timeline import Entry

KEY = "gui_heard_{channel}"
MAX_IDS = 2000


class HeardLog:
    def __init__(self, profile: str, channel: int, me: str) -> None:
        self.profile, self.channel, self.me = profile, channel, me
        stored = profiles.recall(profile, KEY.format(channel=channel))
        self.below: int | None = None
        self.ids: set[int] = set()
        if isinstance(stored, dict):
            below = stored.get("below")
            self.below = below if isinstance(below, int) else None
            raw = stored.get("ids")
            if isinstance(raw, list):
                self.ids = {i for i in raw if isinstance(i, int)}
        self.live_keys: set[str] = set()  # transmission ids heard live this session
        self.live_offsets: set[int] = set()  # and where they started

    def is_heard(self, entry: Entry) -> bool:
        tx = entry.transmission
        return (
            tx.user_id == self.me
            or (self.below is not None and entry.id < self.below)
            or entry.id in self.ids
            or entry.id in self.live_offsets
            or (tx.tx_id is not None and tx.tx_id in self.live_keys)
        )

    def unheard(self, entries: Iterable[Entry]) -> list[Entry]:
        """The playable recordings not heard yet, oldest first."""
        missed = [e for e in entries if e.audio_available and not self.is_heard(e)]
        return sorted(missed, key=lambda e: (e.transmission.timestamp_ms, e.id))

    def heard_live(self, key: str, first_offset: int) -> None:
        self.live_keys.add(key)
        self.live_offsets.add(first_offset)

    def mark(self, entry_id: int) -> None:
        self.ids.add(entry_id)

    def settle(self, entries: list[Entry], audio_high: int) -> list[Entry]:
        """After a timeline load: start counting on first use, fold in what was heard
        live, move ``below`` up to the oldest recording still unheard, and return
        the unheard ones, oldest first (one pass: this runs on the UI thread)."""
        if self.below is None:
            self.below = audio_high
        missed: list[Entry] = []
        known_end = self.below
        for entry in entries:
            # A record may claim any end offset: none lies beyond the audio written.
            end = min(entry.transmission.end_offset + 1, audio_high)
            known_end = max(known_end, end)
            if self.is_heard(entry):
                if entry.id >= self.below:
                    self.ids.add(entry.id)
            elif entry.audio_available:
                missed.append(entry)
        missed.sort(key=lambda e: (e.transmission.timestamp_ms, e.id))
        # Not past the newest recording: one being talked now has no record yet.
        floor = min((e.id for e in missed), default=known_end)
        self.below = max(self.below, min(floor, known_end))
        self.ids = {i for i in self.ids if i >= self.below}
        if len(self.ids) > MAX_IDS:
            self.ids = set(sorted(self.ids)[-MAX_IDS:])
        return missed

    def save(self) -> None:
        value = {"below": self.below, "ids": sorted(self.ids)}
        profiles.remember(self.profile, KEY.format(channel=self.channel), value)
