"""Scan in the app: hearing the monitored channels you are not looking at.

The channel on screen is heard by its view-model's ``Listening``; the other
monitored channels by one ``MonitorService`` here (one connection for all of
them). Both ask the same ``ScanGate`` who has the speaker, so the priority
channel interrupts and one channel is played at a time (chok.channel.scan).
What the views get: who talks where, how many transmissions each channel had
that you did not hear, when live audio starts and stops (a replay waits), and
the monitor's connection (it starts while the broker is away, keeps trying
and says so, like the channel on screen: chok.channel.runtime).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from chok import profiles
from chok.channel.connection import ConnState, ConnStatus
from chok.channel.live import TalkEnded, TalkStarted
from chok.channel.monitor import ChannelEvent, MonitorService
from chok.channel.player import LivePlayer
from chok.channel.scan import ScanGate, ScanSettings
from chok.channel.session import open_session
from chok.errors import ChokError
from chok.gui.audio_io import AudioDevices, VolumeOutput
from chok.gui.heard import HeardLog
from chok.gui.tasks import TaskRunner, UiCaller
from chok.profiles import Profile

SCAN_KEY = "gui_scan"
RETRY_S = 5


def load_scan(profile: Profile, selected: int) -> ScanSettings:
    """The monitored channels (at least the one on screen), mutes and priority."""
    mine = [c.number for c in profile.config.channels]
    stored = profiles.recall(profile.name, SCAN_KEY)
    stored = stored if isinstance(stored, dict) else {}

    def numbers(key: str) -> list[int]:
        raw = stored.get(key)
        return [n for n in raw if isinstance(n, int) and n in mine] if isinstance(raw, list) else []

    channels = numbers("channels")
    if selected not in channels:
        channels.append(selected)
    ordered = tuple(n for n in mine if n in channels)
    priority = stored.get("priority")
    return ScanSettings(
        ordered,
        frozenset(n for n in numbers("muted") if n in ordered),
        priority if isinstance(priority, int) and priority in ordered else None,
    )


def save_scan(profile: str, settings: ScanSettings) -> None:
    value = {
        "channels": list(settings.channels),
        "muted": sorted(settings.muted),
        "priority": settings.priority,
    }
    profiles.remember(profile, SCAN_KEY, value)


class Scanning(QObject):
    activity = Signal(int, list)  # channel, who talks there now
    someoneTalking = Signal(int, str)  # channel, talker (a talk started there)
    missedChanged = Signal(int, int)  # channel, transmissions not heard since you looked
    liveStarted = Signal(str)  # a played transmission's key (a replay waits)
    liveEnded = Signal(str)
    problem = Signal(str)
    # The monitor's connection: a ConnState value ("" with no other channel heard)
    # and the words for people.
    connectionChanged = Signal(str, str)

    def __init__(
        self,
        profile: Profile,
        gate: ScanGate,
        devices: AudioDevices,
        output_spec: Callable[[], str | None],
        volume: Callable[[], float],
        tasks: TaskRunner,
        ui: UiCaller,
    ) -> None:
        super().__init__()
        self.profile = profile
        self.gate = gate
        self._devices, self._output_spec, self._volume = devices, output_spec, volume
        self._tasks, self._ui = tasks, ui
        self.selected: int | None = None
        self.channels: tuple[int, ...] = ()  # heard here (monitored, not on screen)
        self._service: MonitorService | None = None
        self._player: LivePlayer | None = None
        self._generation = 0
        self._closed = False
        self._no_sound = False
        self._starts: dict[tuple[int, str], int] = {}
        self.connection: ConnStatus | None = None  # the monitor's, as last said
        self._retry = QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.timeout.connect(self._restart)
        # "last try 3 s ago" grows while the broker is away: said again each second.
        self._refresh = QTimer(self)
        self._refresh.setInterval(1000)
        self._refresh.timeout.connect(self._refresh_words)

    def configure(self, settings: ScanSettings, selected: int) -> None:
        """New monitored channels, mutes, priority or channel on screen."""
        self.gate.configure(settings)
        self.gate.reset_missed(selected)
        self.missedChanged.emit(selected, 0)
        others = tuple(n for n in settings.channels if n != selected)
        if selected != self.selected and self.selected is not None:
            self.gate.forget(self.selected)  # its listener went with the old view
        self.selected = selected
        if others != self.channels or self._service is None:
            for number in set(self.channels) - set(others):
                self.gate.forget(number)  # no longer heard here
            self.channels = others
            self._restart()

    def _restart(self) -> None:
        if self._closed:
            return
        self._generation += 1
        old, self._service = self._service, None
        if old is not None:
            self._tasks.run(old.stop)
        for number in self.channels:
            self.gate.forget(number)  # their listener starts afresh
        for number in self.channels:
            self.activity.emit(number, [])
        if not self.channels:
            self._show(None)
            return
        generation = self._generation
        sessions = [open_session(self.profile, n) for n in self.channels]

        def on_state(status: ConnStatus) -> None:
            self._ui.post(lambda: self._state(generation, status))

        def start() -> MonitorService:
            self._open_player()
            service = MonitorService(
                sessions, self.gate, on_event=self._on_event, on_error=self._on_error,
                on_state=on_state, fill_silence=False,  # live only: pauses pass in real time
            )  # fmt: skip
            return service.start(timeout=0, require=False)  # tunes in (and retries) on its thread

        self._tasks.run(start, lambda s: self._started(generation, s), self._failed)

    @property
    def listening(self) -> bool:
        """The monitor is tuned in: what is said on the other channels is heard."""
        service = self._service
        return service is not None and service.tuned_in.is_set()

    def _open_player(self) -> None:
        """(Worker) the speaker for the other channels; without one, activity still shows."""
        if self._player is not None or self._no_sound:
            return
        try:
            output = self._devices.open_output(self._output_spec())
        except ChokError as exc:
            self._no_sound = True
            message = f"scan: no sound for the other channels ({exc}); their activity still shows"
            self._ui.post(lambda: self.problem.emit(message))
            return
        self._player = LivePlayer(VolumeOutput(output, self._volume))

    def new_output(self) -> None:
        """The speaker was changed in Settings: the next start opens the new one."""
        player, self._player, self._no_sound = self._player, None, False
        if player is not None:
            self._tasks.run(player.close)
        self._restart()

    def _started(self, generation: int, service: MonitorService) -> None:
        if generation != self._generation or self._closed:
            self._tasks.run(service.stop)
            return
        self._service = service

    def _failed(self, message: str) -> None:
        for number in self.channels:
            self.gate.forget(number)
        if not self._closed:
            self._show(ConnStatus(ConnState.CLOSED, message))
            self.problem.emit(f"scan: {message}; trying again in {RETRY_S} s")
            self._retry.start(RETRY_S * 1000)

    def _state(self, generation: int, status: ConnStatus) -> None:
        if generation == self._generation:
            self._show(status)

    def _show(self, status: ConnStatus | None) -> None:
        if self._closed:
            return
        self.connection = status
        if status is None:
            self._refresh.stop()
            self.connectionChanged.emit("", "")
            return
        if status.up or status.state is ConnState.CLOSED:
            self._refresh.stop()
        elif not self._refresh.isActive():
            self._refresh.start()
        self.connectionChanged.emit(status.state.value, status.text)

    def _refresh_words(self) -> None:
        service, status = self._service, self.connection
        if service is not None and status is not None and not status.up:
            self._show(service.status)

    def _on_error(self, exc: Exception) -> None:
        message = str(exc)
        self._ui.post(lambda: self._failed(message))

    # -- the monitor's thread ---------------------------------------------------------

    def _on_event(self, item: ChannelEvent) -> None:
        player, event = self._player, item.event
        if player is not None and item.audible:
            player.feed(event)
        if isinstance(event, TalkStarted | TalkEnded) and event.talker != self.profile.user:
            # Who talks, as of this event: by the time the UI thread runs, a short
            # talk may be over already.
            talkers = self.gate.talkers(item.channel)
            self._ui.post(lambda: self._changed(item, talkers))

    # -- the UI thread ----------------------------------------------------------------

    def _changed(self, item: ChannelEvent, talkers: list[str]) -> None:
        event, number = item.event, item.channel
        if isinstance(event, TalkStarted):
            self._starts[(number, event.key)] = event.offset
            self.someoneTalking.emit(number, event.talker)
            if item.audible:
                self.liveStarted.emit(f"scan-{number}-{event.key}")
        elif isinstance(event, TalkEnded):
            offset = self._starts.pop((number, event.key), None)
            self.liveEnded.emit(f"scan-{number}-{event.key}")
            if item.audible and offset is not None:
                heard = HeardLog(self.profile.name, number, self.profile.user)
                heard.mark(offset)  # heard whole here: not "unheard" when you look
                heard.save()
            self.missedChanged.emit(number, self.gate.missed(number))
        self.activity.emit(number, talkers)

    def close(self) -> None:
        self._closed = True
        self._retry.stop()
        self._refresh.stop()
        service, player = self._service, self._player
        self._service = self._player = None

        def stop_all() -> None:
            if service is not None:
                service.stop()
            if player is not None:
                player.close()

        self._tasks.run(stop_all)
