"""Playing what is heard: live through the mixer (one jitter buffer and decoder
per transmission, mixed), and missed recordings one after the other."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from chok.audio import AudioOutput, Mixer, open_output
from chok.channel.cursor import RecordCursor
from chok.channel.live import Event, FrameArrived, TalkEnded, TalkStarted
from chok.channel.recorder import SaveDir
from chok.channel.replay import replay_frames, replay_reader
from chok.channel.session import ChannelSession
from chok.channel.timeline import Entry
from chok.codec import OpusDecoder, Pcm
from chok.errors import NotFoundError


class LivePlayer:
    """Feeds live frames to a Mixer and a thread that plays the mix on time."""

    def __init__(self, output: AudioOutput, target_delay_ms: int = 120) -> None:
        self.output = output
        self._mixer = Mixer(target_delay_ms=target_delay_ms)
        self._lock = threading.Lock()  # the listener thread pushes, the player thread pops
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.output.start()
        self._thread = threading.Thread(target=self._run, name="chok-player", daemon=True)
        self._thread.start()

    @classmethod
    def for_device(cls, device: str | None) -> LivePlayer:
        return cls(open_output(device))

    def feed(self, event: Event) -> None:
        if isinstance(event, FrameArrived) and not event.synthesized:
            # Arrival order (seq None): a talker's records keep their order in
            # the partition, and a left-out pause must not be played late.
            with self._lock:
                self._mixer.push(event.key, event.frame.packet, None)
            self._wake.set()

    def play_pcm(self, pcm: Pcm) -> None:
        """Play decoded audio directly (catch-up replays, not live)."""
        self.output.write(pcm)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                due = self._mixer.next_due()
                frames = self._mixer.pop_due() if due is not None else []
            for frame in frames:
                self.output.write(frame)
            if due is None:
                self._wake.wait(0.5)
                self._wake.clear()
            else:
                time.sleep(max(0.0, min(0.02, due + self._mixer.frame_s - time.monotonic())))

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(5)
        self.output.drain(5)
        self.output.close()


@dataclass(frozen=True)
class Replayed:
    entry: Entry
    path: Path | None  # where it was saved
    skipped: str | None = None  # why it was not played (its audio is not on the broker)


def play_entries(
    session: ChannelSession,
    entries: Iterable[Entry],
    player: LivePlayer | None,
    saver: SaveDir | None,
    bounds: tuple[int, int] | None = None,
) -> Iterator[Replayed]:
    """Replay recordings in order (catch-up): to the player and/or saved files.

    A recording whose audio is not on the broker (expired, or a record that
    names offsets never written) is skipped, not the end of the catch-up.
    ``bounds``: the audio watermarks the timeline was read with.
    """
    reader = replay_reader(session, "catch-up")  # one connection for all of them
    cursor = RecordCursor(reader)  # and as few seeks as can be, in offset order
    try:
        for entry in sorted(entries, key=lambda e: e.id):
            try:
                path = _play_one(session, cursor, entry, player, saver, bounds)
                yield Replayed(entry, path)
            except NotFoundError as exc:
                yield Replayed(entry, None, str(exc))
    finally:
        reader.close()


def _play_one(
    session: ChannelSession,
    cursor: RecordCursor,
    entry: Entry,
    player: LivePlayer | None,
    saver: SaveDir | None,
    bounds: tuple[int, int] | None,
) -> Path | None:
    tx = entry.transmission
    key = tx.tx_id or f"orig-{tx.start_offset}"
    decoder = OpusDecoder(tx.frame_ms) if player is not None else None
    if saver is not None:
        saver.feed(TalkStarted(key, tx.user_id, tx.start_offset))
    for frame in replay_frames(session, tx, bounds=bounds, cursor=cursor):
        if player is not None and decoder is not None:
            player.play_pcm(decoder.decode(frame.packet))
        if saver is not None:
            saver.feed(FrameArrived(key, tx.user_id, frame, tx.start_offset, tx.timestamp_ms))
    if saver is None:
        return None
    return saver.feed(TalkEnded(key, tx.user_id, tx.frames, tx.duration_ms, True))
