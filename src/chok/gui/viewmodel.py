"""The main screen's view-model: one person on one channel.

It owns listening, talking, replaying and the timeline of the channel, turns
them into signals the views show, and takes the views' requests (press,
release, play, react, export). All waiting on Kafka or sound happens on other
threads; everything here runs on the UI thread and returns at once.

Two parts have modules of their own, whose signals it passes on: the
timeline as shown (``channel_timeline``: loading, time window, unheard) and
the push-to-talk button's state (``ptt``). What stays here is what ties them
together: live audio first (a replay waits), hearing others, and the
requests on one recording.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from chok import profiles
from chok.channel.cache import TimelineCache
from chok.channel.delete import Deleted, delete_transmission
from chok.channel.reactions import ReactResult, toggle_reaction
from chok.channel.scan import ScanGate
from chok.channel.session import open_session
from chok.channel.talk import TalkResult
from chok.channel.timeline import Entry
from chok.codec.tempo import check_speed
from chok.gui.audio_io import AudioDevices, AudioSettings, SoundOut
from chok.gui.channel_timeline import ChannelTimeline
from chok.gui.family import FamilyModel
from chok.gui.heard import HeardLog
from chok.gui.listening import Conn, Listening
from chok.gui.ptt import PttModel
from chok.gui.replaying import SPEED_KEY, Replayer, export_entry, replay_speed
from chok.gui.talking import Talking, TalkState
from chok.gui.tasks import TaskRunner, UiCaller
from chok.profiles import Profile

# The reactions offered (the original app's three, in its order).
REACTIONS = ("\U0001f44d", "\u2764\ufe0f", "\U0001f525")


class ChannelViewModel(QObject):
    connectionChanged = Signal(str, str)
    pttStateChanged = Signal(str)
    floorChanged = Signal(list)  # others talking now
    otherLevel = Signal(str, float)
    ownLevel = Signal(float)
    ownElapsed = Signal(int)
    message = Signal(str, bool)  # text, is an error
    someoneTalking = Signal(str)  # a talker started (for notifications)
    timelineLoading = Signal(bool)
    timelineChanged = Signal(list)  # the visible entries, newest first
    timelineError = Signal(str)
    entryChanged = Signal(object)  # one Entry whose reactions changed
    unheardChanged = Signal(list)  # ids of unheard entries, oldest first
    # Entry ids and lengths as object: Qt's int has 32 bits, records say up to 2^63.
    playStarted = Signal(object, object)
    playProgress = Signal(object, object, object)
    playEnded = Signal(object, bool)
    playingChanged = Signal(bool)
    playPaused = Signal(bool)  # a replay waits while live audio plays
    reactionPending = Signal(object, str, bool)  # entry id, emoji, pending
    suspiciousChanged = Signal(int, bool)  # forged entries in the window, shown or not

    def __init__(
        self,
        profile: Profile,
        channel: int | None,
        devices: AudioDevices,
        audio: AudioSettings,
        probe_ms: int = 2000,
        gate: ScanGate | None = None,
        family: FamilyModel | None = None,
    ) -> None:
        super().__init__()
        self.profile = profile
        self._own_family = family is None
        self.family = family or FamilyModel(profile, announce=False)
        self.session = open_session(profile, channel, display_name=self.family.my_name)
        self.cache = TimelineCache(self.session, self.family.store)
        self.me = self.session.user
        self.devices = devices
        self.audio = audio
        self.ui = UiCaller(self)
        self.tasks = TaskRunner(self)
        self.sound = SoundOut(devices, audio.output, self.volume, self._sound_problem)
        self.listening = Listening(
            self.session, devices, audio.output, self.volume, self.tasks, self.ui, probe_ms, gate
        )
        self.talking = Talking(
            self.session, devices, lambda: self.audio.input, self.ui, keep_open=audio.keep_mic_open
        )
        self.replayer = Replayer(self.session, self.sound, self.ui, self.family.store)
        self.replayer.speed = replay_speed(profile.name)
        self._live: set[str] = set()  # live transmissions playing now (a replay waits)
        self.heard = HeardLog(profile.name, self.session.number, self.me)
        self.timeline = ChannelTimeline(
            self.session, self.cache, self.heard, self.family, self.tasks, self
        )
        self.ptt = PttModel(
            self.talking, self.listening, self.sound, self.live_started, self.live_ended, self
        )
        self._was_away = False
        self._starts: dict[str, int] = {}  # live transmission key -> first offset heard
        self._closed = False
        self._wire()

    def _wire(self) -> None:
        lst, talk, rep = self.listening, self.talking, self.replayer
        lst.stateChanged.connect(self._connection)
        lst.talkersChanged.connect(self._floor)
        lst.talkStarted.connect(self._other_started)
        lst.talkEnded.connect(self._other_ended)
        lst.heardForged.connect(
            lambda talker, reason: self.message.emit(
                f"warning: what was just said as {talker} is forged ({reason})", True
            )
        )
        lst.level.connect(self.otherLevel)
        lst.watermarks.connect(self._watermarks)
        lst.soundProblem.connect(self._sound_problem)
        talk.permitted.connect(lambda: self.sound.cue("permit"))
        talk.noted.connect(lambda text: self.message.emit(text, False))
        talk.level.connect(self.ownLevel)
        talk.elapsed.connect(self.ownElapsed)
        talk.sent.connect(self._sent)
        rep.started.connect(self.playStarted)
        rep.progress.connect(self.playProgress)
        rep.finished.connect(self._play_finished)
        rep.failed.connect(self._play_failed)
        rep.playingChanged.connect(self.playingChanged)
        rep.forged.connect(self._forged_audio)
        rep.pausedChanged.connect(self.playPaused)
        self.ptt.stateChanged.connect(self.pttStateChanged)
        self.ptt.message.connect(self.message)
        tl = self.timeline
        tl.loadingChanged.connect(self.timelineLoading)
        tl.changed.connect(self.timelineChanged)
        tl.failed.connect(self.timelineError)
        tl.entryChanged.connect(self.entryChanged)
        tl.unheardChanged.connect(self.unheardChanged)
        tl.suspiciousChanged.connect(self.suspiciousChanged)

    def start(self) -> None:
        self.listening.start()
        # Connect the producer and open the microphone now (if kept open; else
        # only probe it): a device that cannot open says so before anyone presses.
        self.tasks.run(self.talking.warm_up)
        self.tasks.run(self.talking.open_microphone, None, self.ptt.mic_missing)
        self.timeline.start()

    def volume(self) -> float:
        return self.audio.volume

    # -- push to talk (gui.ptt) -----------------------------------------------

    @property
    def ptt_state(self) -> str:
        return self.ptt.state

    @property
    def mic_problem(self) -> str | None:
        return self.ptt.mic_problem

    def press(self) -> None:
        """A press (mouse down, Space down, or a key auto-repeat of it)."""
        self.ptt.press()

    def release(self) -> None:
        self.ptt.release()

    def focus_lost(self) -> None:
        """The window lost focus during a hold: its key-up may go elsewhere."""
        self.ptt.focus_lost()

    def _sent(self, result: TalkResult) -> None:
        tx = result.transmission
        if tx is None:
            self.message.emit("nothing was sent: hold the button while you talk", True)
            return
        self.message.emit(f"sent {tx.duration_ms / 1000:.1f} s to channel {tx.channel}", False)
        self.timeline.added(Entry(tx, {}, True))

    # -- hearing others --------------------------------------------------------

    def _connection(self, state: str, detail: str) -> None:
        self.connectionChanged.emit(state, detail)
        self.ptt.update()
        if state in (Conn.RECONNECTING, Conn.OFFLINE):
            self._was_away = True
            self.timeline.live_since = None  # heard-by: live hearing begins again after this
        elif state == Conn.CONNECTED and (self._was_away or not self.timeline.entries):
            self._was_away = False
            self.reload()  # catch up on what was said while the broker was away

    def _floor(self, talkers: list[str]) -> None:
        self.floorChanged.emit(talkers)
        self.ptt.update()

    def _other_started(self, key: str, talker: str, offset: int) -> None:
        self._starts[key] = offset
        if self.timeline.live_since is None:
            # Transmissions that began from here are heard whole.
            self.timeline.live_since = offset
        self.live_started(key)
        self.someoneTalking.emit(talker)
        if self.talking.state is TalkState.TALKING:
            self.message.emit(f"{talker} is talking too", True)

    def _other_ended(self, key: str, talker: str, duration_ms: int, heard: bool) -> None:
        self.live_ended(key)
        self.sound.cue("end")
        offset = self._starts.pop(key, None)
        if heard and offset is not None:
            self.heard.heard_live(key, offset)
        self.timeline.refresh_soon()

    def live_started(self, key: str) -> None:
        """Live audio (someone else, or you talking) comes first: a replay pauses."""
        self._live.add(key)
        self.replayer.pause()

    def live_ended(self, key: str) -> None:
        """The replay goes on from where it paused once nothing live plays."""
        self._live.discard(key)
        if not self._live:
            self.replayer.resume()

    def _watermarks(self, _low: int, _high: int, meta_high: int) -> None:
        self.timeline.watermarks(meta_high)

    def _sound_problem(self, message: str) -> None:
        self.ui.post(lambda: self.message.emit(f"no sound: {message}", True))

    # -- the timeline (gui.channel_timeline) ------------------------------------------

    @property
    def entries(self) -> list[Entry]:
        """The whole timeline, newest first."""
        return self.timeline.entries

    @property
    def unheard(self) -> list[Entry]:
        return self.timeline.unheard

    @property
    def since(self) -> int | None:
        return self.timeline.since

    def set_since(self, since_s: int | None) -> None:
        self.timeline.set_since(since_s)

    def set_show_suspicious(self, show: bool) -> None:
        self.timeline.set_show_suspicious(show)

    def reload(self) -> None:
        """Read the channel's timeline again (on a worker; at most one at a time)."""
        self.timeline.reload()

    def entry(self, entry_id: int) -> Entry | None:
        return self.timeline.entry(entry_id)

    # -- replay, reactions, export --------------------------------------------------

    def play(self, entry: Entry) -> None:
        if not entry.audio_available and not entry.archived:
            self.message.emit("this recording's audio has expired", True)
            return
        self._warn_if_forged(entry.id, entry.authenticity.reason, entry.authenticity.forged)
        self.replayer.play([entry])

    def _warn_if_forged(self, entry_id: int, reason: str, forged: bool = True) -> None:
        if not forged:
            return
        entry = self.entry(entry_id)
        who = entry.transmission.user_id if entry is not None else "the person named"
        self.message.emit(
            f"warning: this recording is forged ({reason}): it may not be {who}'s", True
        )

    def _forged_audio(self, entry_id: int, reason: str) -> None:
        """Replay found frames the talker did not sign (altered, added or dropped)."""
        self._warn_if_forged(entry_id, reason)

    def play_unheard(self) -> None:
        if not self.unheard:
            self.message.emit("nothing unheard: you are up to date", False)
            return
        self.replayer.play(self.unheard)

    def stop(self) -> None:
        self.replayer.stop()

    def set_speed(self, speed: float) -> None:
        """Replays from now on (and the next one started) at this speed, the pitch kept."""
        self.replayer.speed = check_speed(speed)
        profiles.remember(self.profile.name, SPEED_KEY, speed)

    def _play_finished(self, entry_id: int, completed: bool) -> None:
        if completed:
            self.heard.mark(entry_id)
            self.heard.save()
            self.timeline.publish_unheard()
            entry = self.entry(entry_id)
            if entry is not None:  # heard by: played to its end
                tx = entry.transmission
                self.family.heard(tx.channel, tx.start_offset, tx.end_offset)
        self.playEnded.emit(entry_id, completed)

    def _play_failed(self, entry_id: int, message: str) -> None:
        self.message.emit(f"cannot play: {message}", True)
        self.playEnded.emit(entry_id, False)

    def toggle_reaction(self, entry_id: int, emoji: str) -> None:
        session = self.session
        self.reactionPending.emit(entry_id, emoji, True)

        def done(result: ReactResult) -> None:
            self.reactionPending.emit(entry_id, emoji, False)
            self.timeline.update_reactions(entry_id, result.reactions)
            if result.map_problem is not None:
                self.message.emit(f"reacted; {result.map_problem}", False)
            # Others may have reacted meanwhile: a fresh read settles it.
            self.timeline.refresh_soon()

        def failed(message: str) -> None:
            self.reactionPending.emit(entry_id, emoji, False)
            self.message.emit(f"could not react: {message}", True)

        self.tasks.run(lambda: toggle_reaction(session, entry_id, emoji), done, failed)

    def export(self, entry: Entry, path: Path) -> None:
        session = self.session

        def done(result: tuple[int, str | None]) -> None:
            frames, forged = result
            seconds = frames * entry.transmission.frame_ms / 1000
            self.message.emit(f"saved {path} ({seconds:.1f} s)", False)
            if forged is not None:
                self._warn_if_forged(entry.id, forged)

        store = self.family.store
        self.tasks.run(
            lambda: export_entry(session, entry, path, store),
            done,
            lambda message: self.message.emit(f"could not save: {message}", True),
        )

    def can_delete(self, entry: Entry) -> bool:
        return entry.transmission.user_id == self.me

    def delete(self, entry: Entry) -> None:
        """Delete for everyone (one's own recordings only)."""
        session, store = self.session, self.family.store
        first = store.first_offset(session.number, entry.id)

        def done(deleted: Deleted) -> None:
            self.timeline.removed(entry.id)
            self.message.emit("deleted for everyone (its audio leaves the broker with retention)",
                              False)  # fmt: skip
            self.timeline.refresh_soon()

        self.tasks.run(
            lambda: delete_transmission(session, entry.id, first_offset=first),
            done,
            lambda message: self.message.emit(f"could not delete: {message}", True),
        )

    # -- the end ---------------------------------------------------------------------

    def close(self, wait_ms: int = 5000) -> None:
        """Stop listening, talking and playing; wait (bounded) for the workers."""
        if self._closed:
            return
        self._closed = True
        self.timeline.close()
        self.talking.close()
        self.replayer.close()
        self.listening.close()
        self.tasks.run(self.sound.close)
        self.blockSignals(True)
        self.tasks.shutdown(wait_ms)
        self.ui.closed = True
        if self._own_family:
            self.family.close(wait_ms)
