"""The main screen's view-model: one person on one channel.

It owns listening, talking, replaying and the timeline of the channel, turns
them into signals the views show, and takes the views' requests (press,
release, play, react, export). All waiting on Kafka or sound happens on other
threads; everything here runs on the UI thread and returns at once.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from chok import profiles
from chok.channel.archive import ArchiveResult
from chok.channel.cache import Refresh, TimelineCache
from chok.channel.delete import Deleted, delete_transmission
from chok.channel.reactions import ReactResult, toggle_reaction
from chok.channel.scan import ScanGate
from chok.channel.security import ChannelSecurity
from chok.channel.session import open_session
from chok.channel.talk import TalkResult
from chok.channel.timeline import Entry
from chok.codec.tempo import check_speed
from chok.gui.audio_io import AudioDevices, AudioSettings, SoundOut
from chok.gui.family import FamilyModel
from chok.gui.heard import HeardLog
from chok.gui.listening import Conn, Listening
from chok.gui.replaying import SPEED_KEY, Replayer, export_entry, replay_speed
from chok.gui.talking import RefusedHold, Talking, TalkState
from chok.gui.tasks import TaskRunner, UiCaller
from chok.profiles import Profile


def _judged(entries: list[Entry], security: ChannelSecurity) -> list[Entry]:
    """(Worker) every entry judged, so the UI never waits on a signature check
    (the first load of 10,000 costs about a second; later ones find them in the
    profile's cache of signatures found valid)."""
    for entry in entries:
        _ = entry.authenticity
    security.save()
    return entries


# The reactions offered (the original app's three, in its order).
REACTIONS = ("\U0001f44d", "\u2764\ufe0f", "\U0001f525")
LOAD_STUCK_S = 30.0  # a timeline load this old is given up and started again
FIRST_SCREEN = 200  # recordings shown from the cache before anything is read
SINCE = {"1 h": 3600, "6 h": 6 * 3600, "24 h": 24 * 3600, "All": None}


class PttState:
    IDLE = "idle"  # ready: hold to talk
    ARMING = "arming"  # pressed: the microphone is starting (no permit cue yet)
    TALKING = "talking"
    SENDING = "sending"
    BUSY = "busy"  # someone else is talking
    OFFLINE = "offline"  # not connected (yet)
    NO_MIC = "no-mic"


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
        self.since: int | None = SINCE["24 h"]
        # Forged recordings (protocol.md 9.8) are hidden unless asked for.
        self.show_suspicious = False
        self.entries: list[Entry] = []  # the whole timeline, newest first
        self.unheard: list[Entry] = []
        self.mic_problem: str | None = None
        self.ptt_state = PttState.OFFLINE
        self.loading = False
        self._reload_again = False
        self._load_started = 0.0
        self._load_gen = 0
        self._was_away = False
        self._meta_high: int | None = None
        self._starts: dict[str, int] = {}  # live transmission key -> first offset heard
        self._complete = False  # entries hold the whole timeline (not just the first screen)
        self._live_since: int | None = None  # where live hearing began (heard-by)
        self._closed = False
        self._refused = RefusedHold()
        self.queued_count = 0  # transmissions in the outbox waiting for the broker
        self._said = False  # the current hold got to talking (the end cue is owed)
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
        talk.stateChanged.connect(self._talk_state)
        talk.queued.connect(self._queued)
        talk.permitted.connect(lambda: self.sound.cue("permit"))
        talk.noted.connect(lambda text: self.message.emit(text, False))
        talk.level.connect(self.ownLevel)
        talk.elapsed.connect(self.ownElapsed)
        talk.sent.connect(self._sent)
        talk.failed.connect(self._talk_failed)
        rep.started.connect(self.playStarted)
        rep.progress.connect(self.playProgress)
        rep.finished.connect(self._play_finished)
        rep.failed.connect(self._play_failed)
        rep.playingChanged.connect(self.playingChanged)
        rep.forged.connect(self._forged_audio)
        rep.pausedChanged.connect(self.playPaused)
        self.family.archived.connect(self._archived)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(300)
        self._debounce.timeout.connect(self.reload)

    def start(self) -> None:
        self.listening.start()
        # Connect the producer and open the microphone now (if kept open; else
        # only probe it): a device that cannot open says so before anyone presses.
        self.tasks.run(self.talking.warm_up)
        self.tasks.run(self.talking.open_microphone, None, self._mic_missing)
        # The first screen comes from this machine's cache, before any network.
        self.entries = self.cache.cached(limit=FIRST_SCREEN)
        if self.entries:
            self._publish()
        elif not self.cache.warm:  # no cache yet: the newest records first, then all
            self.tasks.run(self.cache.recent, self._first_screen)
        self.reload()

    def _first_screen(self, entries: list[Entry]) -> None:
        if not self._complete and not self.entries and entries:
            self.entries = entries
            self._publish()

    def volume(self) -> float:
        return self.audio.volume

    # -- push to talk ---------------------------------------------------------

    def _mic_missing(self, message: str) -> None:
        self.mic_problem = message
        self._update_ptt()

    def press(self) -> None:
        """A press (mouse down, Space down, or a key auto-repeat of it)."""
        if self.talking.holding:
            self.talking.press()  # the same hold goes on (a repeat, a quick re-press)
            return
        if self._refused.goes_on():
            return  # a repeat of a press already refused: refused quietly
        refusal = self._refusal()
        if refusal is not None:
            self._refused.refused()
            self.message.emit(refusal, True)
            return
        if self.ptt_state == PttState.OFFLINE:  # talk anyway: the outbox keeps it
            self.message.emit("queued: will be sent when connected", False)
        self.talking.press()
        self.live_started("you")  # a replay waits while you talk

    def _refusal(self) -> str | None:
        state = self.ptt_state
        if state == PttState.NO_MIC:
            return f"cannot talk: {self.mic_problem}"
        if state == PttState.BUSY:
            self.sound.cue("busy")
            who = " and ".join(self.listening.talkers())
            return f"the channel is busy: {who} is talking; wait for the end"
        return None

    def release(self) -> None:
        self._refused.released()
        self.talking.release()

    def focus_lost(self) -> None:
        """The window lost focus during a hold: its key-up may go elsewhere."""
        self.talking.focus_lost()

    def _talk_state(self, state: str) -> None:
        if state == TalkState.TALKING:
            self._said = True
        elif state == TalkState.IDLE:
            self.live_ended("you")  # the hold is over (sent, or in the outbox)
            if self._said:
                self.sound.cue("end")  # at the end of the hold, even if it waits for the broker
            self._said = False
        self._update_ptt()

    def _queued(self, waiting: int) -> None:
        self.queued_count = waiting
        if waiting:
            self.message.emit(f"queued ({waiting}): will be sent when connected", False)

    def _sent(self, result: TalkResult) -> None:
        tx = result.transmission
        if tx is None:
            self.message.emit("nothing was sent: hold the button while you talk", True)
            return
        self.message.emit(f"sent {tx.duration_ms / 1000:.1f} s to channel {tx.channel}", False)
        entry = Entry(tx, {}, True)
        if all(e.id != entry.id for e in self.entries):
            self.entries.insert(0, entry)
            self._publish()
        self._debounce.start()

    def _talk_failed(self, message: str, mic: bool) -> None:
        self.live_ended("you")
        if mic:
            self.mic_problem = message
            self._update_ptt()
        self.message.emit(f"could not send: {message}", True)

    def _update_ptt(self) -> None:
        talk = self.talking.state
        if talk is TalkState.ARMING:
            state = PttState.ARMING
        elif talk is TalkState.TALKING:
            state = PttState.TALKING
        elif talk is TalkState.SENDING:
            state = PttState.SENDING
        elif self.listening.state is not Conn.CONNECTED:
            state = PttState.OFFLINE
        elif self.mic_problem is not None:
            state = PttState.NO_MIC
        elif self.listening.talkers():
            state = PttState.BUSY
        else:
            state = PttState.IDLE
        if state != self.ptt_state:
            self.ptt_state = state
            self.pttStateChanged.emit(state)

    # -- hearing others --------------------------------------------------------

    def _connection(self, state: str, detail: str) -> None:
        self.connectionChanged.emit(state, detail)
        self._update_ptt()
        if state in (Conn.RECONNECTING, Conn.OFFLINE):
            self._was_away = True
            self._live_since = None  # heard-by: live hearing begins again after this
        elif state == Conn.CONNECTED and (self._was_away or not self.entries):
            self._was_away = False
            self.reload()  # catch up on what was said while the broker was away

    def _floor(self, talkers: list[str]) -> None:
        self.floorChanged.emit(talkers)
        self._update_ptt()

    def _other_started(self, key: str, talker: str, offset: int) -> None:
        self._starts[key] = offset
        if self._live_since is None:
            self._live_since = offset  # transmissions that began from here are heard whole
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
        self._debounce.start()

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
        if self._meta_high is not None and meta_high != self._meta_high:
            self._debounce.start()  # a new recording or a reaction: refresh the timeline
        self._meta_high = meta_high

    def _sound_problem(self, message: str) -> None:
        self.ui.post(lambda: self.message.emit(f"no sound: {message}", True))

    # -- the timeline --------------------------------------------------------------

    def set_since(self, since_s: int | None) -> None:
        self.since = since_s
        self._publish()

    def set_show_suspicious(self, show: bool) -> None:
        self.show_suspicious = show
        self._publish()

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
        self.timelineLoading.emit(True)

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
        self.timelineChanged.emit(self.visible())
        self.suspiciousChanged.emit(self.suspicious(), self.show_suspicious)
        self.unheardChanged.emit([e.id for e in self.unheard])
        self.family.archive(self.session)

    def _archived(self, result: ArchiveResult) -> None:
        """Recordings now kept on this machine: they stay playable after retention."""
        kept = {start for channel, start in result.starts if channel == self.session.number}
        if not kept:
            return
        self.entries = [
            dataclasses.replace(e, archived=True) if e.id in kept else e for e in self.entries
        ]
        self._publish()

    def _report_live_hearing(self) -> None:
        """Heard-by: what played live since ``_live_since``, up to the end of the
        newest recording heard live (now that its record says where it ends)."""
        since = self._live_since
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
        self.timelineError.emit(f"could not load the timeline: {message}")

    def _finish_load(self) -> None:
        self.loading = False
        self.timelineLoading.emit(False)
        if self._reload_again:
            self._reload_again = False
            self._debounce.start()

    def _publish(self) -> None:
        self.timelineChanged.emit(self.visible())
        self.suspiciousChanged.emit(self.suspicious(), self.show_suspicious)
        self._publish_unheard()

    def _publish_unheard(self) -> None:
        trusted = [e for e in self.entries if not e.authenticity.forged]
        self.unheard = self.heard.unheard(trusted)
        self.unheardChanged.emit([e.id for e in self.unheard])

    def entry(self, entry_id: int) -> Entry | None:
        return next((e for e in self.entries if e.id == entry_id), None)

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
            self._publish_unheard()
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
            self._update_entry(entry_id, result.reactions)
            if result.map_problem is not None:
                self.message.emit(f"reacted; {result.map_problem}", False)
            # Others may have reacted meanwhile: a fresh read settles it.
            self._debounce.start()

        def failed(message: str) -> None:
            self.reactionPending.emit(entry_id, emoji, False)
            self.message.emit(f"could not react: {message}", True)

        self.tasks.run(lambda: toggle_reaction(session, entry_id, emoji), done, failed)

    def _update_entry(self, entry_id: int, reactions: dict[str, list[str]]) -> None:
        for index, entry in enumerate(self.entries):
            if entry.id == entry_id:
                self.entries[index] = dataclasses.replace(entry, reactions=reactions)
                self.entryChanged.emit(self.entries[index])
                return

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
            self.entries = [e for e in self.entries if e.id != entry.id]
            self._publish()
            self.message.emit("deleted for everyone (its audio leaves the broker with retention)",
                              False)  # fmt: skip
            self._debounce.start()

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
        self._debounce.stop()
        self.talking.close()
        self.replayer.close()
        self.listening.close()
        self.tasks.run(self.sound.close)
        self.blockSignals(True)
        self.tasks.shutdown(wait_ms)
        self.ui.closed = True
        if self._own_family:
            self.family.close(wait_ms)
