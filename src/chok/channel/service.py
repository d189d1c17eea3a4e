"""A live listener running in its own thread, for talk's floor control, the
desktop app and `chok listen`: it hands every event to a callback and always
knows who is talking."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from chok.channel.live import Event, LiveListener, TalkEnded, TalkStarted
from chok.channel.session import ChannelSession
from chok.errors import AccessDeniedError, ChokError

EventHandler = Callable[[Event], None]
StateHandler = Callable[[str], None]
# librdkafka reconnects by itself; a cheap request this often tells whether it has.
PROBE_INTERVAL_S = 3.0
CONNECTED, RECONNECTING = "connected", "reconnecting"


class ListenService:
    def __init__(
        self,
        session: ChannelSession,
        on_event: EventHandler | None = None,
        on_error: Callable[[ChokError], None] | None = None,
        start_offset: int | None = None,
        on_state: StateHandler | None = None,
    ) -> None:
        self.session = session
        self._on_event = on_event
        self._on_error = on_error
        self._start_offset = start_offset
        self._on_state = on_state
        self.state = CONNECTED
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._talkers: dict[str, str] = {}  # transmission key -> talker
        self._lock = threading.Lock()
        self.error: ChokError | None = None
        self.tune_in_s: float | None = None
        self.position: int | None = None
        self._thread = threading.Thread(target=self._run, name="chok-listen", daemon=True)

    def start(self, timeout: float = 15.0) -> ListenService:
        """Start listening; return once tuned in (or raise why not)."""
        _ = self.session.security  # unreadable certificate files: say so here
        self._thread.start()
        if not self._ready.wait(timeout):
            raise ChokError(f"could not tune in to channel {self.session.number} in time")
        if self.error is not None:
            raise self.error
        return self

    def talkers(self, exclude: str | None = None) -> list[str]:
        with self._lock:
            return sorted({t for t in self._talkers.values() if t != exclude})

    def wait_until_free(self, exclude: str | None, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.talkers(exclude) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the floor state kept by the listener thread
        return not self.talkers(exclude)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        listener = LiveListener(self.session)
        try:
            if self.session.private:
                self.session.refresh_keys()  # sealed frames need the epoch keys
            began = time.monotonic()
            listener.tune_in(self._start_offset)
            self.tune_in_s = time.monotonic() - began
            self._ready.set()
            next_probe = time.monotonic() + PROBE_INTERVAL_S
            while not self._stop.is_set():
                for event in listener.events():
                    self._track(event)
                    if self._on_event is not None:
                        self._on_event(event)
                self.position = listener.position
                if time.monotonic() >= next_probe:
                    self._probe(listener)
                    next_probe = time.monotonic() + PROBE_INTERVAL_S
        except ChokError as exc:
            self.error = exc
            if self._on_error is not None:
                self._on_error(exc)
        finally:
            self.position = listener.position
            self._ready.set()
            listener.close()

    def _probe(self, listener: LiveListener) -> None:
        try:
            listener.probe()
            state = CONNECTED
        except AccessDeniedError:
            raise
        except ChokError:
            state = RECONNECTING
        if state != self.state:
            self.state = state
            if self._on_state is not None:
                self._on_state(state)

    def _track(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, TalkStarted):
                self._talkers[event.key] = event.talker
            elif isinstance(event, TalkEnded):
                self._talkers.pop(event.key, None)
