"""Replaying recordings from the timeline (one, or all unheard in order), and export.

The replay thread streams one transmission's frames with chok's
``replay_frames``, decodes them and writes them to the cue/replay output,
paced by the clock (a little ahead of it), so progress is real time whether or
not there is a sound card, and Stop takes effect at once.

``speed`` (1, 1.5, 2) re-times the audio with the pitch kept (libavfilter's
atempo, ``chok.codec.tempo``). ``pause()`` holds the replay at the next frame
(live audio has the speaker: see docs/desktop.md) and ``resume()`` goes on
from there.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from chok import profiles
from chok.channel.archive import entry_packets
from chok.channel.incoming import FrameCheck
from chok.channel.session import ChannelSession
from chok.channel.store import Store
from chok.channel.timeline import Entry
from chok.codec import EXPORT_SUFFIXES, OpusDecoder, Pcm, export
from chok.codec.tempo import SPEEDS, Tempo
from chok.errors import NotFoundError, UsageError
from chok.gui.audio_io import SoundOut
from chok.gui.tasks import UiCaller, error_text

SPEED_KEY = "gui_replay_speed"  # remembered per profile
LEAD_S = 0.25  # how far ahead of the clock audio is handed to the device
PROGRESS_EVERY_S = 0.1


def replay_speed(profile: str) -> float:
    stored = profiles.recall(profile, SPEED_KEY)
    return float(stored) if isinstance(stored, int | float) and stored in SPEEDS else 1.0


class Replayer(QObject):
    # object, not int: Qt's int has 32 bits, and an entry's id (its start offset)
    # and length come from a record that may say anything up to 2^63.
    started = Signal(object, object)  # entry id, total ms
    progress = Signal(object, object, object)  # entry id, played ms, total ms
    finished = Signal(object, bool)  # entry id, played to the end
    failed = Signal(object, str)  # entry id, why
    playingChanged = Signal(bool)
    forged = Signal(int, str)  # entry id, why its audio is not what the talker signed
    pausedChanged = Signal(bool)

    def __init__(
        self, session: ChannelSession, sound: SoundOut, ui: UiCaller, store: Store | None = None
    ) -> None:
        super().__init__()
        self.session = session
        self.store = store  # the family archive: recordings the broker no longer has
        self._sound = sound
        self._ui = ui
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.playing = False
        self.paused = False
        self.speed = 1.0
        self._resume = threading.Event()  # clear while paused
        self._resume.set()
        self._generation = 0

    def play(self, entries: list[Entry]) -> None:
        """Play these recordings one after the other (stops what plays now)."""
        self.stop()
        if not entries:
            return
        self._stop = threading.Event()
        self._generation += 1
        self._set_playing(True)
        self._thread = threading.Thread(
            target=self._run,
            args=(list(entries), self._stop, self._generation),
            name="chok-gui-replay",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._resume.set()  # a paused replay ends too
        if self.paused:
            self.paused = False
            self.pausedChanged.emit(False)
        if self.playing:
            self._set_playing(False)

    def pause(self) -> None:
        """Hold the replay after the frame now playing (live audio comes first)."""
        if self.playing and not self.paused:
            self.paused = True
            self._resume.clear()
            self.pausedChanged.emit(True)

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            self._resume.set()
            self.pausedChanged.emit(False)

    def _set_playing(self, playing: bool) -> None:
        self.playing = playing
        self.playingChanged.emit(playing)

    def _run(self, entries: list[Entry], stop: threading.Event, generation: int) -> None:
        for entry in entries:
            if stop.is_set():
                break
            self._play_one(entry, stop)
        self._ui.post(lambda: self._all_done(generation))

    def _all_done(self, generation: int) -> None:
        if generation == self._generation and self.playing:
            self._set_playing(False)

    def _play_one(self, entry: Entry, stop: threading.Event) -> None:
        tx = entry.signed
        total = tx.duration_ms
        key = entry.id
        self._ui.post(lambda: self.started.emit(key, total))
        decoder, tempo = OpusDecoder(tx.frame_ms), Tempo(self.speed)
        played_ms = 0.0  # of the recording
        out_ms = 0.0  # of what went to the speaker (less, when faster)
        began = time.monotonic()
        last_report = 0.0
        check = FrameCheck()
        try:
            for packet in entry_packets(self.session, self.store, entry, check):
                if stop.is_set():
                    break
                if not self._resume.is_set():
                    began += self._wait_resumed(stop)
                if tempo.speed != self.speed:  # changed while playing: from here on
                    out_ms += self._write(tempo.flush())
                    tempo = Tempo(self.speed)
                pcm = tempo.process(decoder.decode(packet))
                ahead = began + out_ms / 1000 - LEAD_S - time.monotonic()
                if ahead > 0 and stop.wait(ahead):
                    break
                out_ms += self._write(pcm)
                played_ms += tx.frame_ms
                now = time.monotonic()
                if now - last_report >= PROGRESS_EVERY_S:
                    last_report = now
                    done = int(played_ms)
                    self._post_progress(key, done, total)
            else:
                out_ms += self._write(tempo.flush())
                # The last frames are still in the device's queue: wait for them.
                rest = began + out_ms / 1000 - time.monotonic()
                if rest > 0 and stop.wait(rest):
                    self._ui.post(lambda: self.finished.emit(key, False))
                    return
                end = max(int(played_ms), total)
                self._post_progress(key, end, end)
                self._check_audio(entry, check)
                self._ui.post(lambda: self.finished.emit(key, True))
                return
        except Exception as exc:  # expired audio, a broker that went away...
            message = error_text(exc)
            self._ui.post(lambda: self.failed.emit(key, message))
            return
        self._ui.post(lambda: self.finished.emit(key, False))

    def _check_audio(self, entry: Entry, check: FrameCheck) -> None:
        if not check.read:
            return  # played from this machine's archive: its frames are not read again
        record = entry.authenticity
        audio = check.verdict(record, entry.signed)
        if record.verified and audio.forged:
            key, reason = entry.id, audio.reason
            self._ui.post(lambda: self.forged.emit(key, reason))

    def _write(self, pcm: Pcm) -> float:
        """Hand audio to the speaker; its length in ms."""
        if pcm.size:
            self._sound.write(pcm)
        return pcm.size / 48

    def _wait_resumed(self, stop: threading.Event) -> float:
        """(Replay thread) wait while paused; how long that was, in seconds."""
        began = time.monotonic()
        while not self._resume.wait(0.1) and not stop.is_set():
            pass
        return time.monotonic() - began

    def _post_progress(self, key: int, done: int, total: int) -> None:
        self._ui.post(lambda: self.progress.emit(key, done, total))

    def close(self) -> None:
        self._stop.set()


def export_entry(
    session: ChannelSession, entry: Entry, path: Path, store: Store | None = None
) -> tuple[int, str | None]:
    """(Worker thread) save a recording's exact Opus packets (.ogg/.opus) or as .wav.

    Returns the frames written, and why it is forged if it is (the record or its audio).
    """
    if path.suffix.lower() not in EXPORT_SUFFIXES:
        raise UsageError(f"cannot save audio as '{path.name}': use a .ogg, .opus or .wav name")
    if not entry.audio_available and not entry.archived:
        raise NotFoundError("this recording's audio has expired (removed by the channel)")
    check = FrameCheck()
    packets = list(entry_packets(session, store, entry, check))
    if not packets:
        raise NotFoundError("this recording has no audio on the broker")
    export(path, packets, frame_ms=entry.transmission.frame_ms)
    verdict = check.verdict(entry.authenticity, entry.signed) if check.read else entry.authenticity
    return len(packets), verdict.reason if verdict.forged else None
