"""`chok talk`: push to talk from the microphone or a file."""

from __future__ import annotations

import queue
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from chok.audio.base import AudioInput, FileInput
from chok.channel.capture import Capture
from chok.channel.delivery import Delivery
from chok.channel.press import PressTiming
from chok.channel.push_to_talk import PressCallbacks, PushToTalk
from chok.channel.service import ListenService
from chok.channel.session import ChannelSession
from chok.channel.talk import Talker, TalkResult, get_ready, wait_delivery
from chok.cli.common import channel_option, device_option, json_option, seconds, session_from
from chok.cli.cues import play_cue
from chok.cli.output import emit_json, info
from chok.codec import DEFAULT_BITRATE
from chok.codec.opus import MAX_BITRATE, MIN_BITRATE
from chok.errors import ChokError, UsageError

MAX_TALK_S = 3600.0  # --seconds and --wait
MAX_HOLD_S = 3600  # as --seconds: one press is never longer than an hour
WARM_WAIT_S = 3.0  # longest wait for the microphone before asking for Enter
FLOOR_TUNE_IN_S = 3.0  # then talk anyway (queued if the broker is away)


@click.command("talk")
@channel_option
@click.option("--file", "audio_file", type=click.Path(path_type=Path), help="Send this audio file.")
@click.option("--seconds", type=seconds(MAX_TALK_S), help="Talk from the microphone for S seconds.")
@device_option
@click.option("--over", is_flag=True, help="Talk even while someone else is talking.")
@click.option(
    "--wait",
    type=seconds(MAX_TALK_S, zero=True),
    default=30.0,
    show_default=True,
    help="Seconds to wait for a busy channel.",
)
@click.option("--fast", is_flag=True, help="With --file: send at once, not in real time.")
@click.option("--frame-ms", type=click.Choice(["20", "40", "60"]), default="60", show_default=True)
@click.option(
    "--bitrate",
    type=click.IntRange(MIN_BITRATE, MAX_BITRATE),
    default=DEFAULT_BITRATE,
    show_default=True,
    help="Opus bit/s.",
)
@json_option
@click.pass_obj
def talk_cmd(
    obj: dict[str, Any],
    channel: int | None,
    audio_file: Path | None,
    seconds: float | None,
    device: str | None,
    over: bool,
    wait: float,
    fast: bool,
    frame_ms: str,
    bitrate: int,
    as_json: bool,
) -> None:
    """Talk on a channel: everyone tuned in hears you live.

    \b
    From the microphone: press Enter to start, Enter again to send. The
    microphone is opened before you are asked, so the first word is kept
    (even one said a moment before Enter); the permit chirp and "talking..."
    come when it really delivers sound ("microphone starting..." until then).
    With --seconds S: talk for S seconds.  With --file AUDIO: send a file
    (any format), paced in real time so listeners hear it live.
    If someone else is talking, chok says who, plays a busy tone and waits
    for the channel to be free (--over talks anyway).
    """
    if audio_file is not None and seconds is not None:
        raise UsageError("use either --file or --seconds, not both")
    interactive = audio_file is None and seconds is None
    if interactive and not sys.stdin.isatty():
        raise UsageError("no terminal to press Enter in: use --seconds S or --file AUDIO")
    # The file or device first: a bad one is said without waiting for the broker.
    source = _open_source(audio_file, device, int(frame_ms), realtime=not fast)
    session = session_from(obj, channel, offline_ok=True)
    get_ready(session)  # the producer connects while the microphone and floor start
    # Interactive: the microphone is started now and kept open, so Enter finds
    # it awake and the pre-roll keeps a first word said a hair early.
    capture = Capture(lambda: source, keep_open=interactive)
    capture.open()
    # Floor control never stops a talk: offline, the words are queued and sent later.
    floor = ListenService(session, fill_silence=False).start(timeout=FLOOR_TUNE_IN_S, require=False)
    if not floor.tuned_in.is_set():
        where = floor.machine.address
        info(f"not connected to the family's Kafka at {where}: talk anyway, queued: "
             "will be sent when connected")  # fmt: skip
    try:
        _wait_for_floor(floor, session.user, over, wait, device)
        talk = _Talk(session, capture, floor, device, int(frame_ms), bitrate)
        result = talk.interactive() if interactive else talk.at_once(seconds)
        play_cue("end", device)
    finally:
        floor.stop()
        capture.close()
    _report(result, as_json)


def _open_source(
    path: Path | None, device: str | None, frame_ms: int, realtime: bool
) -> AudioInput:
    if path is not None:
        return FileInput(path, frame_ms, realtime=realtime)
    from chok.audio import open_input

    return open_input(device, frame_ms)


def _wait_for_floor(
    floor: ListenService, me: str, over: bool, wait: float, device: str | None
) -> None:
    busy = floor.talkers(exclude=me)
    if not busy or over:
        return
    info(
        f"{' and '.join(busy)} {'is' if len(busy) == 1 else 'are'} talking: "
        "waiting (--over to talk anyway)"
    )
    play_cue("busy", device)
    if not floor.wait_until_free(me, wait):
        raise ChokError(f"the channel is still busy after {wait:.0f} s: try again later")


class _Talk:
    """The CLI's side of one press: prompts, cues, who else is talking, and the
    wait for the broker after the release (on the main thread, so that Ctrl-C
    there leaves the words in the outbox instead of losing them)."""

    def __init__(
        self,
        session: ChannelSession,
        capture: Capture,
        floor: ListenService,
        device: str | None,
        frame_ms: int,
        bitrate: int,
    ) -> None:
        self.session = session
        self.capture = capture
        self.floor = floor
        self.device = device
        self.frame_ms = frame_ms
        self.bitrate = bitrate
        self.permitted_prompt = ""
        self._others: set[str] = set()
        self._deliveries: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
        self._failures: list[ChokError] = []

    def new_talker(self) -> Talker:
        # The process's shared producer (warmed by get_ready): never waits for the network.
        return Talker(self.session, frame_ms=self.frame_ms, bitrate=self.bitrate)

    def _runtime(self, timing: PressTiming) -> PushToTalk:
        callbacks = PressCallbacks(
            permit=self._permit,
            audio=self._audio,
            note=info,
            failed=self._failures.append,
            delivering=self._deliveries.put,
        )
        return PushToTalk(self.capture, self.new_talker, callbacks, timing).start()

    def _permit(self) -> None:
        # The chirp plays on a thread of its own: capture never waits for it.
        threading.Thread(target=play_cue, args=("permit", self.device), daemon=True).start()
        info(self.permitted_prompt)

    def _audio(self, _dbfs: float, _ms: int) -> None:
        now = set(self.floor.talkers(exclude=self.session.user))
        for name in sorted(now - self._others):
            info(f"{name} is talking too")
        self._others = now

    def _starting(self) -> None:
        if not self.capture.warm:
            info("microphone starting...")

    def at_once(self, seconds: float | None) -> TalkResult:
        """--file (until it ends) or --seconds (that much audio); Ctrl-C sends what was said."""
        self.permitted_prompt = f"talking for {seconds:g} s..." if seconds else "sending..."
        ptt = self._runtime(PressTiming(audio_limit_s=seconds, max_hold_s=MAX_HOLD_S, rejoin_s=0.0))
        began = time.monotonic()
        try:
            ptt.press()
            self._starting()
            try:
                while not ptt.wait_idle(0.1):
                    pass  # until the file ends or the seconds are said
            except KeyboardInterrupt:
                info("interrupted: sending what was said so far")
                ptt.stop()
                ptt.wait_idle()
        finally:
            ptt.close()
        return self._delivered(began)

    def interactive(self) -> TalkResult:
        """Enter starts, Enter sends; Ctrl-C while talking sends what was said."""
        self.permitted_prompt = "talking... press Enter to send"
        ptt = self._runtime(PressTiming(rejoin_s=0.0, max_hold_s=MAX_HOLD_S))
        try:
            # Asked once the microphone delivers (a device may take a second to
            # wake): Enter then starts a warm capture.
            self.capture.wait_warm(WARM_WAIT_S)
            info("press Enter to talk (Ctrl-C to quit)")
            sys.stdin.readline()
            began = time.monotonic()
            ptt.press()
            self._starting()
            try:
                sys.stdin.readline()
            except KeyboardInterrupt:
                info("interrupted: sending what was said so far")
            ptt.release()
            ptt.wait_idle()
        finally:
            ptt.close()
        return self._delivered(began)

    def _delivered(self, began: float) -> TalkResult:
        """Wait for the broker to have it all (queued while it is away); a failure of
        the microphone is said after what was said is sent."""
        try:
            delivery = self._deliveries.get_nowait()
        except queue.Empty:
            raise (self._failures or [ChokError("nothing was recorded")])[0] from None
        said = delivery.progress().frames * self.frame_ms / 1000
        info(f"said {said:.1f} s in {time.monotonic() - began:.1f} s")
        result = wait_delivery(delivery, info, self.session.profile_name)
        if self._failures:
            raise self._failures[0]
        return result


def _report(result: TalkResult, as_json: bool) -> None:
    tx = result.transmission
    if as_json:
        emit_json(
            {
                "id": tx.start_offset if tx else None,
                "tx": result.tx_id,
                "frames": result.frames,
                "duration_ms": tx.duration_ms if tx else 0,
                "bytes": result.bytes_sent,
            }
        )
        return
    if tx is None:
        click.echo("nothing was sent")
        return
    click.echo(
        f"sent {tx.duration_ms / 1000:.1f} s on channel {tx.channel} "
        f"(ID {tx.start_offset}, {result.frames} frames, {result.bytes_sent / 1024:.1f} KiB)"
    )
