"""Hearing the channel live, and knowing whether the broker is there.

``Listening`` runs chok's ``ListenService`` (its own thread), feeds live
frames to a ``LivePlayer`` and measures each talker's level on that thread,
and reports on the UI thread who is talking. A probe asks the broker for the
channel's watermarks every couple of seconds: when it stops answering the
state turns to "reconnecting" (librdkafka reconnects by itself), and a
listener that died is restarted with a growing pause. The metadata watermark
the probe reads also tells when the timeline changed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum

from PySide6.QtCore import QObject, QTimer, Signal

from chok.audio import measure
from chok.channel.live import Event, FrameArrived, TalkEnded, TalkStarted
from chok.channel.player import LivePlayer
from chok.channel.scan import ScanGate
from chok.channel.service import ListenService
from chok.channel.session import ChannelSession
from chok.codec import OpusDecoder
from chok.errors import ChokError
from chok.gui.audio_io import NO_OUTPUT, AudioDevices, VolumeOutput
from chok.gui.tasks import TaskRunner, UiCaller, error_text

MAX_RETRY_S = 15
MAX_ABANDONED_PROBES = 3  # stuck watermark queries left behind at one time


class Conn(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"


class _Probe:
    """Two readers used only for watermarks, from one worker at a time."""

    def __init__(self, session: ChannelSession) -> None:
        self.audio = session.audio_reader("probe")
        self.meta = session.metadata_reader("probe")
        self._lock = threading.Lock()
        self._closed = False

    def read(self, timeout: float) -> tuple[int, int, int]:
        low, high = self.audio.watermarks(timeout)
        _, meta_high = self.meta.watermarks(timeout)
        return low, high, meta_high

    def close(self) -> None:
        with self._lock:  # may be asked twice: by the window and by its own thread
            if self._closed:
                return
            self._closed = True
        self.audio.close()
        self.meta.close()


class Listening(QObject):
    stateChanged = Signal(str, str)  # Conn value, detail for people
    talkersChanged = Signal(list)  # others talking now, sorted
    talkStarted = Signal(str, str, int)  # key, talker, first offset heard
    talkEnded = Signal(str, str, int, bool)  # key, talker, duration ms, heard through a speaker
    heardForged = Signal(str, str)  # the name it claimed, why its signature does not hold
    level = Signal(str, float)  # talker, RMS dBFS of their latest frame
    watermarks = Signal(int, int, int)  # audio low, audio high, metadata high
    soundProblem = Signal(str)

    def __init__(
        self,
        session: ChannelSession,
        devices: AudioDevices,
        output_spec: str | None,
        volume: Callable[[], float],
        tasks: TaskRunner,
        ui: UiCaller,
        probe_ms: int = 2000,
        gate: ScanGate | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.gate = gate  # scanning several channels: who has the speaker (chok.channel.scan)
        self._devices, self._output_spec, self._volume = devices, output_spec, volume
        self._tasks, self._ui = tasks, ui
        self.state = Conn.CONNECTING
        self.detail = "connecting..."
        self._service: ListenService | None = None
        self._player: LivePlayer | None = None
        self._probe: _Probe | None = None
        self._probing = False
        self._probe_started = 0.0
        self._probe_gen = 0
        self._abandoned = 0
        self._attempts = 0
        self._closed = False
        self._talking: dict[str, str] = {}  # key -> talker (others), kept on the UI thread
        self._decoders: dict[str, OpusDecoder] = {}  # listener thread only
        self._probe_timer = QTimer(self)
        self._probe_timer.setInterval(probe_ms)
        self._probe_timeout_s = max(1.0, probe_ms / 1000 * 2)
        self._probe_timer.timeout.connect(self._probe_now)
        self._retry_timer = QTimer(self)
        self._retry_timer.setSingleShot(True)
        self._retry_timer.timeout.connect(self._connect)

    # -- life cycle ---------------------------------------------------------

    def start(self) -> None:
        self._tasks.run(self._open_player, self._player_ready, self.soundProblem.emit)
        self._connect()
        self._probe_timer.start()

    def _open_player(self) -> LivePlayer:
        return LivePlayer(VolumeOutput(self._devices.open_output(self._output_spec), self._volume))

    def _player_ready(self, player: LivePlayer) -> None:
        if self._closed:
            self._tasks.run(player.close)
            return
        self._player = player

    @property
    def has_speaker(self) -> bool:
        """Live audio reaches a speaker (not "No sound"): what plays counts as heard."""
        return self._player is not None and self._output_spec != NO_OUTPUT

    def _connect(self) -> None:
        if self._closed:
            return
        self._tasks.run(self._open_service, self._connected, self._failed)

    def _open_service(self) -> ListenService:
        service = ListenService(self.session, on_event=self._on_event, on_error=self._on_error)
        try:
            return service.start()
        except ChokError:
            service.stop()
            raise

    def _connected(self, service: ListenService) -> None:
        if self._closed:
            self._tasks.run(service.stop)
            return
        self._service = service
        self._attempts = 0
        self._set_state(Conn.CONNECTED, f"connected to channel {self.session.number}")
        self._probe_now()

    def _failed(self, message: str) -> None:
        if self._closed:
            return
        self._attempts += 1
        delay = min(MAX_RETRY_S, 2 ** min(self._attempts, 4))
        self._set_state(Conn.RECONNECTING, f"{message}; trying again in {delay} s")
        self._retry_timer.start(delay * 1000)

    def _service_died(self, message: str) -> None:
        service, self._service = self._service, None
        if service is not None:
            self._tasks.run(service.stop)
        if self._talking:  # cut off mid-transmission: not heard, no end cue
            self._talking.clear()
            self.talkersChanged.emit([])
        if self.gate is not None:
            self.gate.forget(self.session.number)
        self._failed(message)

    def close(self) -> None:
        """Stop everything; the slow parts (threads, sockets) end on a worker."""
        self._closed = True
        self._probe_timer.stop()
        self._retry_timer.stop()
        service, player = self._service, self._player
        self._service = self._player = None
        probe, self._probe = self._probe, None  # one still answering closes itself
        if self._probing:
            probe = None

        def stop_all() -> None:
            if service is not None:
                service.stop()
            if player is not None:
                player.close()
            if probe is not None:
                probe.close()

        self._tasks.run(stop_all)

    # -- the listener thread --------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, TalkEnded) and event.authenticity is not None:
            verdict = event.authenticity
            if verdict.forged:  # (also, and above all, when it claims to be us)
                claimed, reason = event.talker, verdict.reason
                self._ui.post(lambda: self.heardForged.emit(claimed, reason))
        if event.talker == self.session.user:
            return  # our own voice is not played back
        audible = self._audible(event)
        player = self._player
        if player is not None and audible:
            player.feed(event)
        if isinstance(event, FrameArrived):
            decoder = self._decoders.setdefault(event.key, OpusDecoder(event.frame.frame_ms))
            dbfs = measure(decoder.decode(event.frame.packet)).rms_dbfs
            talker = event.talker
            self._ui.post(lambda: self.level.emit(talker, dbfs))
        elif isinstance(event, TalkStarted):
            key, talker, offset = event.key, event.talker, event.offset
            self._ui.post(lambda: self._started(key, talker, offset))
        elif isinstance(event, TalkEnded):
            self._decoders.pop(event.key, None)
            key, talker, ms = event.key, event.talker, event.duration_ms
            self._ui.post(lambda: self._ended(key, talker, ms, audible))

    def _audible(self, event: Event) -> bool:
        """(Listener thread) is this played? Always, unless scanning gives the speaker
        to another channel (or this one is muted)."""
        gate, number = self.gate, self.session.number
        if gate is None:
            return True
        if isinstance(event, TalkStarted):
            return gate.started(number, event.key, event.talker)
        if isinstance(event, TalkEnded):
            return gate.ended(number, event.key)
        return gate.frame(number, event.key)

    def _on_error(self, exc: ChokError) -> None:
        message = str(exc)
        self._ui.post(lambda: self._service_died(message))

    # -- the UI thread ----------------------------------------------------------

    def _started(self, key: str, talker: str, offset: int) -> None:
        self._talking[key] = talker
        self.talkStarted.emit(key, talker, offset)
        self.talkersChanged.emit(self.talkers())

    def _ended(self, key: str, talker: str, duration_ms: int, heard: bool = True) -> None:
        if self._talking.pop(key, None) is None:
            return
        self.talkEnded.emit(key, talker, duration_ms, self.has_speaker and heard)
        self.talkersChanged.emit(self.talkers())

    def talkers(self) -> list[str]:
        """Who else is talking right now, as the UI has been told."""
        return sorted(set(self._talking.values()))

    def _set_state(self, state: Conn, detail: str) -> None:
        changed = (state, detail) != (self.state, self.detail)
        self.state, self.detail = state, detail
        if changed:
            self.stateChanged.emit(state.value, detail)

    def _probe_now(self) -> None:
        """Ask the broker for the watermarks, on a thread of its own.

        librdkafka's watermark query can block far past its timeout after a
        broker restart (confluent-kafka-python#413, librdkafka#2588; seen here
        with 2.16): a probe that has not answered in time is abandoned, with
        its client, and the next one starts on a fresh client.
        """
        if self._closed:
            return
        if self._probing:
            stuck = time.monotonic() - self._probe_started > 3 * self._probe_timeout_s
            if not stuck or self._abandoned >= MAX_ABANDONED_PROBES:
                return
            self._abandoned += 1
            self._probe = None  # the stuck client closes itself if it ever returns
            self._probing = False
            self._probe_answer(None, "the broker does not answer")
        self._probing = True
        self._probe_started = time.monotonic()
        self._probe_gen += 1
        generation, probe, session = self._probe_gen, self._probe, self.session
        timeout = self._probe_timeout_s

        def run() -> None:
            client = probe
            try:
                client = client or _Probe(session)
                marks, error = client.read(timeout), None
            except Exception as exc:  # every failure is "not connected", said in words
                marks, error = None, error_text(exc)
            self._ui.post(lambda: self._probe_done(generation, client, marks, error))
            if self._closed and client is not None:
                client.close()  # the window went away meanwhile

        threading.Thread(target=run, name="chok-gui-probe", daemon=True).start()

    def _probe_done(
        self,
        generation: int,
        client: _Probe | None,
        marks: tuple[int, int, int] | None,
        error: str | None,
    ) -> None:
        if generation != self._probe_gen:  # an abandoned probe answered at last
            self._abandoned -= 1
            if client is not None and client is not self._probe:
                self._tasks.run(client.close)
            return
        self._probing = False
        if error is None:
            self._probe = client
        elif client is not None:
            # A client that failed may hold stale metadata ("no such topic" after a
            # broker restart) for minutes: the next probe starts afresh.
            self._probe = None
            self._tasks.run(client.close)
        self._probe_answer(marks, error)

    def _probe_answer(self, marks: tuple[int, int, int] | None, error: str | None) -> None:
        if marks is None:
            if self.state is Conn.CONNECTED:
                self._set_state(Conn.RECONNECTING, f"lost the broker ({error}); reconnecting...")
            return
        if self.state is Conn.RECONNECTING and self._service is not None:
            self._set_state(Conn.CONNECTED, f"connected to channel {self.session.number}")
        self.watermarks.emit(*marks)
