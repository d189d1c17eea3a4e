"""Hearing the channel live, and knowing whether the broker is there.

``Listening`` adapts chok's ``ListenService`` (channel/service.py) to Qt. The
service runs its own thread and its connection machine (probes, back-off,
reconnecting, and reading on exactly where it stopped after an outage); this
class feeds live frames to a ``LivePlayer``, measures each talker's level on
the service's thread, and says on the UI thread who is talking, the
connection in plain words (Kafka's own text apart, as a detail), and the
metadata watermark that tells when the timeline changed.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from chok.audio import measure
from chok.channel.connection import ConnState, ConnStatus
from chok.channel.live import Event, FrameArrived, TalkEnded, TalkStarted
from chok.channel.player import LivePlayer
from chok.channel.scan import ScanGate
from chok.channel.service import ListenService, Watermarks
from chok.channel.session import ChannelSession
from chok.codec import OpusDecoder
from chok.errors import ChokError
from chok.gui.audio_io import NO_OUTPUT, AudioDevices, VolumeOutput
from chok.gui.tasks import TaskRunner, UiCaller

Conn = ConnState  # the connection states the app shows


class Listening(QObject):
    stateChanged = Signal(str, str)  # Conn value, the words for people
    talkersChanged = Signal(list)  # others talking now, sorted
    # object, not int: Qt's int has 32 bits; offsets and lengths may not fit.
    talkStarted = Signal(str, str, object)  # key, talker, first offset heard
    talkEnded = Signal(str, str, object, bool)  # key, talker, duration ms, heard through a speaker
    level = Signal(str, float)  # talker, RMS dBFS of their latest frame
    watermarks = Signal(object, object, object)  # audio low, audio high, metadata high
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
        self.detail = "connecting\u2026"  # the words for people
        self.kafka_detail: str | None = None  # Kafka's own text, behind "details"
        self._player: LivePlayer | None = None
        self._closed = False
        self._talking: dict[str, str] = {}  # key -> talker (others), kept on the UI thread
        self._floor: list[str] = []  # who talked in the last seconds (the service's view)
        self._said_talkers: list[str] = []  # what talkersChanged said last
        self._decoders: dict[str, OpusDecoder] = {}  # listener thread only
        self._service = ListenService(
            session,
            on_event=self._on_event,
            on_error=self._on_error,
            on_state=self._on_state,
            on_floor=self._on_floor,
            on_watermarks=self._on_watermarks,
            probe_interval_s=probe_ms / 1000,
            fill_silence=False,  # live only: the pauses pass in real time
        )
        # "last try 3 s ago" grows while the broker is away: said again each second.
        self._refresh = QTimer(self)
        self._refresh.setInterval(1000)
        self._refresh.timeout.connect(self._refresh_words)

    # -- life cycle ---------------------------------------------------------

    def start(self) -> None:
        self._tasks.run(self._open_player, self._player_ready, self.soundProblem.emit)
        self._service.start(timeout=0, require=False)  # tunes in (and retries) on its thread
        self._refresh.start()

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

    def close(self) -> None:
        """Stop everything; the slow parts (threads, sockets) end on a worker."""
        self._closed = True
        self._refresh.stop()
        if self.gate is not None:
            self.gate.forget(self.session.number)
        service, player = self._service, self._player
        self._player = None

        def stop_all() -> None:
            service.stop()
            if player is not None:
                player.close()

        self._tasks.run(stop_all)

    # -- the listener thread --------------------------------------------------

    def _on_event(self, event: Event) -> None:
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
        """Refused for good (access revoked, TLS): the service stopped."""
        status = ConnStatus(Conn.CLOSED, str(exc), None)
        self._ui.post(lambda: self._stopped(status))

    def _stopped(self, status: ConnStatus) -> None:
        # Cut off mid-transmission for good: nothing more is heard, and a channel
        # that had the speaker while scanning must not keep it forever.
        if self._talking:
            self._talking.clear()
            self._say_talkers()
        if self.gate is not None:
            self.gate.forget(self.session.number)
        self._show(status)

    def _on_state(self, status: ConnStatus) -> None:
        self._ui.post(lambda: self._show(status))

    def _on_floor(self, floor: list[str]) -> None:
        self._ui.post(lambda: self._floor_changed(floor))

    def _on_watermarks(self, marks: Watermarks) -> None:
        self._ui.post(lambda: self.watermarks.emit(*marks))

    # -- the UI thread ----------------------------------------------------------

    def _started(self, key: str, talker: str, offset: int) -> None:
        self._talking[key] = talker
        self.talkStarted.emit(key, talker, offset)
        self._say_talkers()

    def _ended(self, key: str, talker: str, duration_ms: int, heard: bool = True) -> None:
        if self._talking.pop(key, None) is None:
            return
        self.talkEnded.emit(key, talker, duration_ms, self.has_speaker and heard)
        self._say_talkers()

    def _floor_changed(self, floor: list[str]) -> None:
        self._floor = floor
        self._say_talkers()

    def _say_talkers(self) -> None:
        """Tell who talks, once per change (a start, the floor and an end arrive
        in bursts that would otherwise repeat the same list)."""
        now = self.talkers()
        if now != self._said_talkers:
            self._said_talkers = now
            self.talkersChanged.emit(now)

    def talkers(self) -> list[str]:
        """Who else is talking right now: a transmission going on whose frames
        still arrive (one that stalls leaves the floor free, and stays one)."""
        me = self.session.user
        return sorted({t for t in self._talking.values() if t in self._floor and t != me})

    def _show(self, status: ConnStatus) -> None:
        if self._closed:
            return
        detail = status.text
        if status.up:
            detail = f"{status.text}, channel {self.session.number}"
        changed = (status.state, detail) != (self.state, self.detail)
        self.state, self.detail, self.kafka_detail = status.state, detail, status.detail
        if changed:
            self.stateChanged.emit(status.state.value, detail)

    def _refresh_words(self) -> None:
        if self.state is not Conn.CONNECTED and self.state is not Conn.CLOSED:
            self._show(self._service.status)
