"""`chok talk`: push to talk from the microphone or a file."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from chok.audio.base import AudioInput, FileInput
from chok.channel.service import ListenService
from chok.channel.talk import Talker, TalkResult, finish_and_wait, get_ready
from chok.cli.common import channel_option, device_option, json_option, seconds, session_from
from chok.cli.cues import play_cue
from chok.cli.output import emit_json, info
from chok.codec import DEFAULT_BITRATE
from chok.codec.opus import MAX_BITRATE, MIN_BITRATE
from chok.errors import ChokError, UsageError

FLOOR_TUNE_IN_S = 3.0  # then talk anyway (queued if the broker is away)
MAX_TALK_S = 3600.0


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
    From the microphone: press Enter to start, Enter again to send.
    With --seconds S: talk for S seconds.  With --file AUDIO: send a file
    (any format), paced in real time so listeners hear it live.
    If someone else is talking, chok says who, plays a busy tone and waits
    for the channel to be free (--over talks anyway).
    """
    if audio_file is not None and seconds is not None:
        raise UsageError("use either --file or --seconds, not both")
    # The file or device first: a bad one is said without waiting for the broker.
    source = _open_source(audio_file, device, int(frame_ms), realtime=not fast)
    session = session_from(obj, channel, offline_ok=True)
    get_ready(session)  # the producer connects while the floor is checked
    # Floor control never stops a talk: offline, the words are queued and sent later.
    floor = ListenService(session).start(timeout=FLOOR_TUNE_IN_S, require=False)
    if not floor.tuned_in.is_set():
        where = floor.machine.address
        info(f"not connected to the family's Kafka at {where}: talk anyway, queued: "
             "will be sent when connected")  # fmt: skip
    try:
        _wait_for_floor(floor, session.user, over, wait, device)
        interactive = audio_file is None and seconds is None
        if interactive:
            _wait_enter("press Enter to talk (Ctrl-C to quit)")
        play_cue("permit", device)
        result = _transmit(session, source, floor, int(frame_ms), bitrate, seconds, interactive)
        play_cue("end", device)
    finally:
        floor.stop()
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


def _wait_enter(prompt: str) -> None:
    if not sys.stdin.isatty():
        raise UsageError("no terminal to press Enter in: use --seconds S or --file AUDIO")
    info(prompt)
    sys.stdin.readline()


def _transmit(
    session: Any,
    source: AudioInput,
    floor: ListenService,
    frame_ms: int,
    bitrate: int,
    seconds: float | None,
    interactive: bool,
) -> TalkResult:
    talker = Talker(session, frame_ms=frame_ms, bitrate=bitrate)
    release = threading.Event()
    if interactive:
        info("talking... press Enter to send")
        threading.Thread(target=_release_on_enter, args=(release,), daemon=True).start()
    max_frames = int(seconds * 1000 / frame_ms) if seconds is not None else None
    others: set[str] = set()
    try:
        with source:
            began = time.monotonic()
            while not release.is_set() and (max_frames is None or talker.frames_sent < max_frames):
                frame = source.read_frame(timeout=1.0)
                if frame is None:
                    if source.at_end:
                        break
                    continue
                talker.send_pcm(frame)
                others = _note_others(floor, session.user, others)
            info(
                f"sent {talker.frames_sent * frame_ms / 1000:.1f} s "
                f"in {time.monotonic() - began:.1f} s"
            )
    except KeyboardInterrupt:
        info("interrupted: sending what was said so far")
    # Whatever was said is published, even after Ctrl-C: nothing recorded is lost.
    return finish_and_wait(talker, info)


def _release_on_enter(release: threading.Event) -> None:
    sys.stdin.readline()
    release.set()


def _note_others(floor: ListenService, me: str, known: set[str]) -> set[str]:
    now = set(floor.talkers(exclude=me))
    for name in sorted(now - known):
        info(f"{name} is talking too")
    return now


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
