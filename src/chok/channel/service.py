"""A live listener running in its own thread, for talk's floor control, the
desktop app and `chok listen`: it hands every event to a callback, always
knows who is talking, and keeps listening through broker outages.

Tuning in, probing, reconnecting and reading on exactly where it stopped after
an outage are ``LiveRuntime``'s (channel/runtime.py), shared with the monitor
of several channels: this service reads one channel's ``LiveListener`` and
probes the channel's watermarks (which also tell the app that the timeline
changed).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from chok.channel.live import Event, LiveListener
from chok.channel.runtime import ErrorHandler, LiveRuntime, StateHandler
from chok.channel.session import ChannelSession
from chok.kafka.stream import PartitionReader

EventHandler = Callable[[Event], None]
Watermarks = tuple[int, int, int]  # audio low, audio high, metadata high


class _Probe:
    """Two readers used only for watermarks: the audio partition's and the metadata's."""

    def __init__(self, session: ChannelSession) -> None:
        self.audio: PartitionReader | None = None
        self.meta: PartitionReader | None = None
        self._session = session

    def read(self, timeout: float) -> Watermarks:
        if self.audio is None or self.meta is None:
            self.audio = self._session.audio_reader("probe")
            self.meta = self._session.metadata_reader("probe")
        low, high = self.audio.watermarks(timeout)
        _, meta_high = self.meta.watermarks(timeout)
        return low, high, meta_high

    def close(self) -> None:
        for reader in (self.audio, self.meta):
            if reader is not None:
                reader.close()


class ListenService(LiveRuntime[Watermarks]):
    def __init__(
        self,
        session: ChannelSession,
        on_event: EventHandler | None = None,
        on_error: ErrorHandler | None = None,
        start_offset: int | None = None,
        on_state: StateHandler | None = None,
        *,
        on_floor: Callable[[list[str]], None] | None = None,
        on_watermarks: Callable[[Watermarks], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        probe_interval_s: float | None = None,
        fill_silence: bool = True,
    ) -> None:
        super().__init__(
            session.creds, [session.audio_topic, session.metadata_topic],
            f"channel {session.number}", on_state=on_state, on_error=on_error, clock=clock,
            probe_interval_s=probe_interval_s, thread_name="chok-listen",
        )  # fmt: skip
        self.session = session
        self._on_event = on_event
        self._start_offset = start_offset
        self._on_floor = on_floor
        self._on_watermarks = on_watermarks
        self._fill_silence = fill_silence
        self._listener: LiveListener | None = None  # made on the listen thread
        self._floor: list[str] = []
        self.position: int | None = None

    def talkers(self, exclude: str | None = None) -> list[str]:
        """Who is talking now (a frame in the last few seconds), for floor control."""
        with self._lock:
            return [t for t in self._floor if t != exclude]

    def wait_until_free(self, exclude: str | None, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.talkers(exclude) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the floor state kept by the listener thread
        return not self.talkers(exclude)

    # -- the listen thread (LiveRuntime's hooks) ----------------------------------------

    def _live(self) -> LiveListener:
        if self._listener is None:
            self._listener = LiveListener(
                self.session, clock=self._clock, fill_silence=self._fill_silence
            )
        return self._listener

    def _tune_in(self, timeout: float) -> None:
        listener = self._live()
        if self.session.private:
            self.session.refresh_keys()  # sealed frames need the epoch keys
        listener.tune_in(self._start_offset, timeout=timeout, cancelled=self._stop.is_set)
        self.position = listener.position
        if listener.on_air:
            # A frame already on the air: take it in now, so whoever is talking is
            # known when tuned_in is set (talk's floor control asks at once).
            self._read(True)

    def _read(self, connected: bool) -> bool:
        listener = self._live()
        received = listener.received
        for event in listener.events(connected=connected):
            if self._on_event is not None:
                self._on_event(event)
        self.position = listener.position
        floor = listener.talkers
        with self._lock:
            changed, self._floor = floor != self._floor, floor
        if changed and self._on_floor is not None:
            self._on_floor(floor)
        return listener.received != received

    def _reopen(self) -> None:
        self._live().reopen()

    def _new_probe(self) -> _Probe:
        return _Probe(self.session)

    def _probed(self, answer: Watermarks) -> None:
        if self._on_watermarks is not None:
            self._on_watermarks(answer)

    def _finish(self) -> None:
        if self._listener is not None:
            self.position = self._listener.position
            self._listener.close()
