"""The channel's timeline as the main screen shows it: loaded, windowed, heard or not.

The view-model owns one and passes its signals on. The first screen comes
from this machine's cache; then the whole timeline is read on a worker, one
read at a time (a read stuck longer than LOAD_STUCK_S is left behind). Things
that may change it (a new recording, a reaction, a deletion, the probe's
metadata watermark moving) ask for another read through a short debounce, so
a burst of them costs one read. Everything here runs on the UI thread.
"""

from __future__ import annotations

import dataclasses
import time

from PySide6.QtCore import QObject, QTimer, Signal

from chok.channel.archive import ArchiveResult
from chok.channel.cache import Refresh, TimelineCache
from chok.channel.security import ChannelSecurity
from chok.channel.session import ChannelSession
from chok.channel.timeline import Entry
from chok.gui.family import FamilyModel
from chok.gui.heard import HeardLog
from chok.gui.tasks import TaskRunner

LOAD_STUCK_S = 30.0  # a timeline load this old is given up and started again
FIRST_SCREEN = 200  # recordings shown from the cache before anything is read
SINCE = {"1 h": 3600, "6 h": 6 * 3600, "24 h": 24 * 3600, "All": None}


def _judged(entries: list[Entry], security: ChannelSecurity) -> list[Entry]:
    """(Worker) every entry judged, so the UI never waits on a signature check
    (the first load of 10,000 costs about a second; later ones find them in the
    profile's cache of signatures found valid)."""
    for entry in entries:
        _ = entry.authenticity
    security.save()
    return entries


class ChannelTimeline(QObject):
    loadingChanged = Signal(bool)
    changed = Signal(list)  # the visible entries, newest first
    failed = Signal(str)
    entryChanged = Signal(object)  # one Entry whose reactions changed
    unheardChanged = Signal(list)  # ids of unheard entries, oldest first
    suspiciousChanged = Signal(int, bool)  # forged entries in the window, shown or not

    def __init__(
        self,
        session: ChannelSession,
        cache: TimelineCache,
        heard: HeardLog,
        family: FamilyModel,
        tasks: TaskRunner,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.cache = cache
        self.heard = heard
        self.family = family
        self.tasks = tasks
        self.since: int | None = SINCE["24 h"]
        # Forged recordings (protocol.md 9.8) are hidden unless asked for.
        self.show_suspicious = False
        self.entries: list[Entry] = []  # the whole timeline, newest first
        self.unheard: list[Entry] = []
        self.loading = False
        self._reload_again = False
        self._load_started = 0.0
        self._load_gen = 0
        self._meta_high: int | None = None
        self._complete = False  # entries hold the whole timeline (not just the first screen)
        self.live_since: int | None = None  # where live hearing began (heard-by)
        self._closed = False
        family.archived.connect(self._archived)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(300)
        self._debounce.timeout.connect(self.reload)

    def start(self) -> None:
        # The first screen comes from this machine's cache, before any network.
        self.entries = self.cache.cached(limit=FIRST_SCREEN)
        if self.entries:
            self.publish()
        elif not self.cache.warm:  # no cache yet: the newest records first, then all
            self.tasks.run(self.cache.recent, self._first_screen)
        self.reload()

    def _first_screen(self, entries: list[Entry]) -> None:
        if not self._complete and not self.entries and entries:
            self.entries = entries
            self.publish()

    def refresh_soon(self) -> None:
        """Read again after a short pause (what changed may change again meanwhile)."""
        self._debounce.start()

    def watermarks(self, meta_high: int) -> None:
        if self._meta_high is not None and meta_high != self._meta_high:
            self.refresh_soon()  # a new recording or a reaction: refresh the timeline
        self._meta_high = meta_high

    # -- what is shown -----------------------------------------------------------

    def set_since(self, since_s: int | None) -> None:
        self.since = since_s
        self.publish()

    def set_show_suspicious(self, show: bool) -> None:
        self.show_suspicious = show
        self.publish()

    def _in_window(self) -> list[Entry]:
        if self.since is None:
            return self.entries
        cutoff = int(time.time() * 1000) - self.since * 1000
        return [e for e in self.entries if e.transmission.timestamp_ms >= cutoff]

    def visible(self) -> list[Entry]:
        entries = self._in_window()
        if self.show_suspicious:
            return entries
        return [e for e in entries if not e.authenticity.forged]

    def suspicious(self) -> int:
        """How many forged recordings the time window holds (shown or hidden)."""
        return sum(1 for e in self._in_window() if e.authenticity.forged)

    def entry(self, entry_id: int) -> Entry | None:
        return next((e for e in self.entries if e.id == entry_id), None)

    def publish(self) -> None:
        self.changed.emit(self.visible())
        self.suspiciousChanged.emit(self.suspicious(), self.show_suspicious)
        self.publish_unheard()

    def publish_unheard(self) -> None:
        trusted = [e for e in self.entries if not e.authenticity.forged]
        self.unheard = self.heard.unheard(trusted)
        self.unheardChanged.emit([e.id for e in self.unheard])

    # -- changes made here (before the next read confirms them) --------------------

    def added(self, entry: Entry) -> None:
        """One's own recording, just sent: shown at once, then read back."""
        if all(e.id != entry.id for e in self.entries):
            self.entries.insert(0, entry)
            self.publish()
        self.refresh_soon()

    def removed(self, entry_id: int) -> None:
        self.entries = [e for e in self.entries if e.id != entry_id]
        self.publish()

    def update_reactions(self, entry_id: int, reactions: dict[str, list[str]]) -> None:
        for index, entry in enumerate(self.entries):
            if entry.id == entry_id:
                self.entries[index] = dataclasses.replace(entry, reactions=reactions)
                self.entryChanged.emit(self.entries[index])
                return

    def _archived(self, result: ArchiveResult) -> None:
        """Recordings now kept on this machine: they stay playable after retention."""
        kept = {start for channel, start in result.starts if channel == self.session.number}
        if not kept:
            return
        self.entries = [
            dataclasses.replace(e, archived=True) if e.id in kept else e for e in self.entries
        ]
        self.publish()

    # -- reading -------------------------------------------------------------------

    def reload(self) -> None:
        """Read the channel's timeline again (on a worker; at most one at a time)."""
        if self._closed:
            return
        if self.loading and time.monotonic() - self._load_started < LOAD_STUCK_S:
            self._reload_again = True
            return
        # (A load stuck in librdkafka's watermark query is left behind: see listening.)
        self.loading = True
        self._load_started = time.monotonic()
        self._load_gen += 1
        generation, cache = self._load_gen, self.cache
        current, complete = list(self.entries), self._complete
        self.loadingChanged.emit(True)

        def load() -> tuple[list[Entry], int, int | None]:
            refresh: Refresh = cache.refresh()  # the tail only, when the cache is warm
            entries = cache.apply(current, refresh) if complete else cache.cached()
            _judged(entries, cache.security)
            position = cache.store.position(cache.channel)
            if position is None:
                return entries, 0, None
            return entries, position.audio_high, position.next_offset

        self.tasks.run(
            load,
            lambda loaded: self._loaded(generation, *loaded),
            lambda message: self._load_failed(generation, message),
        )

    def _loaded(
        self, generation: int, entries: list[Entry], audio_high: int, meta_read: int | None
    ) -> None:
        if generation != self._load_gen:
            return
        if meta_read is not None:
            # What the probe reports next is compared with what this load read,
            # so a record written meanwhile is never taken for known.
            self._meta_high = meta_read
        self._finish_load()
        self.entries, self._complete = entries, True
        self.unheard = self.heard.settle(self.entries, audio_high)
        self.heard.save()
        self._report_live_hearing()
        self.changed.emit(self.visible())
        self.suspiciousChanged.emit(self.suspicious(), self.show_suspicious)
        self.unheardChanged.emit([e.id for e in self.unheard])
        self.family.archive(self.session)

    def _report_live_hearing(self) -> None:
        """Heard-by: what played live since ``live_since``, up to the end of the
        newest recording heard live (now that its record says where it ends)."""
        since = self.live_since
        if since is None:
            return
        ends = [
            e.transmission.end_offset
            for e in self.entries
            if e.id >= since and e.id in self.heard.live_offsets
        ]
        if ends:
            self.family.heard(self.session.number, since, max(ends))

    def _load_failed(self, generation: int, message: str) -> None:
        if generation != self._load_gen:
            return
        self._finish_load()
        self.failed.emit(f"could not load the timeline: {message}")

    def _finish_load(self) -> None:
        self.loading = False
        self.loadingChanged.emit(False)
        if self._reload_again:
            self._reload_again = False
            self._debounce.start()

    def close(self) -> None:
        """No more reads: the window is going."""
        self._closed = True
        self._debounce.stop()
