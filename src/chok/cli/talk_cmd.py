"""`chok talk`: push to talk from the microphone or a file."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from chok.audio.base import AudioInput, FileInput
from chok.channel.capture import Capture
from chok.channel.press import PressTiming
from chok.channel.push_to_talk import PressCallbacks, PushToTalk, talk_once
from chok.channel.service import ListenService
from chok.channel.session import ChannelSession
from chok.channel.talk import Talker, TalkResult
from chok.cli.common import channel_option, device_option, json_option, session_from
from chok.cli.cues import play_cue
from chok.cli.output import emit_json, info
from chok.codec import DEFAULT_BITRATE
from chok.errors import ChokError, UsageError

MAX_HOLD_S = 3600  # as --seconds: one press is never longer than an hour
WARM_WAIT_S = 3.0  # longest wait for the microphone before asking for Enter


@click.command("talk")
@channel_option
@click.option("--file", "audio_file", type=click.Path(path_type=Path), help="Send this audio file.")
@click.option("--seconds", type=float, help="Talk from the microphone for S seconds.")
@device_option
@click.option("--over", is_flag=True, help="Talk even while someone else is talking.")
@click.option("--wait", default=30.0, show_default=True, help="Seconds to wait for a busy channel.")
@click.option("--fast", is_flag=True, help="With --file: send at once, not in real time.")
@click.option("--frame-ms", type=click.Choice(["20", "40", "60"]), default="60", show_default=True)
@click.option("--bitrate", type=int, default=DEFAULT_BITRATE, show_default=True, help="Opus bit/s.")
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
    if seconds is not None and not 0 < seconds <= 3600:
        raise UsageError("--seconds must be more than 0 and at most 3600")
    interactive = audio_file is None and seconds is None
    if interactive and not sys.stdin.isatty():
        raise UsageError("no terminal to press Enter in: use --seconds S or --file AUDIO")
    session = session_from(obj, channel)
    source = _open_source(audio_file, device, int(frame_ms), realtime=not fast)
    # Interactive: the microphone is started now and kept open, so Enter finds
    # it awake and the pre-roll keeps a first word said a hair early.
    capture = Capture(lambda: source, keep_open=interactive)
    capture.open()
    floor = ListenService(session).start()
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
    """The CLI's side of one press: prompts, cues, and who else is talking."""

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
        self._producer = session.producer()  # connected now, not at the press

    def new_talker(self) -> Talker:
        return Talker(self.session, self._producer, frame_ms=self.frame_ms, bitrate=self.bitrate)

    def callbacks(self) -> PressCallbacks:
        return PressCallbacks(permit=self._permit, audio=self._audio, note=info)

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
        timing = PressTiming(audio_limit_s=seconds, max_hold_s=MAX_HOLD_S)
        stop = threading.Event()
        outcome: list[TalkResult | BaseException] = []

        def run() -> None:
            try:
                outcome.append(talk_once(self.capture, self.new_talker, self.callbacks(),
                                         timing=timing, stop=stop))  # fmt: skip
            except BaseException as exc:  # raised on the main thread below
                outcome.append(exc)

        began = time.monotonic()
        thread = threading.Thread(target=run, name="chok-talk", daemon=True)
        thread.start()
        self._starting()
        try:
            while thread.is_alive():
                thread.join(0.1)
        except KeyboardInterrupt:
            info("interrupted: sending what was said so far")
            stop.set()
            thread.join()
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        took = time.monotonic() - began
        info(f"sent {result.frames * self.frame_ms / 1000:.1f} s in {took:.1f} s")
        return result

    def interactive(self) -> TalkResult:
        """Enter starts, Enter sends; Ctrl-C while talking sends what was said."""
        self.permitted_prompt = "talking... press Enter to send"
        results: list[TalkResult] = []
        failures: list[ChokError] = []
        callbacks = replace(self.callbacks(), sent=results.append, failed=failures.append)
        timing = PressTiming(rejoin_s=0.0, max_hold_s=MAX_HOLD_S)
        ptt = PushToTalk(self.capture, self.new_talker, callbacks, timing).start()
        try:
            # Asked once the microphone delivers (a device may take a second to
            # wake): Enter then starts a warm capture.
            self.capture.wait_warm(WARM_WAIT_S)
            info("press Enter to talk (Ctrl-C to quit)")
            sys.stdin.readline()
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
        if failures:
            raise failures[0]
        return results[0]


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
