"""`chok listen`: hear the channel live, print who talks, save recordings."""

from __future__ import annotations

import datetime as dt
import json
import queue
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from chok import profiles
from chok.channel.live import Event, TalkEnded, TalkStarted
from chok.channel.player import LivePlayer, play_entries
from chok.channel.recorder import SaveDir
from chok.channel.service import ListenService
from chok.channel.session import ChannelSession
from chok.channel.timeline import load_timeline
from chok.cli.common import channel_option, device_option, json_option, session_from
from chok.cli.family_cmd import ListenFamily
from chok.cli.output import info
from chok.errors import AudioDeviceError, ChokError, UsageError

POSITION_KEY = "audio_position_{channel}"


@click.command("listen")
@channel_option
@device_option
@click.option(
    "--save", "save_dir", type=click.Path(path_type=Path), help="Save each transmission in DIR."
)
@click.option("--no-play", is_flag=True, help="Do not play through the speaker.")
@click.option("--count", type=int, help="Stop after K transmissions.")
@click.option("--timeout", type=float, help="Stop after S seconds.")
@click.option(
    "--catch-up", is_flag=True, help="First play what you missed since you last listened."
)
@json_option
@click.pass_obj
def listen_cmd(
    obj: dict[str, Any],
    channel: int | None,
    device: str | None,
    save_dir: Path | None,
    no_play: bool,
    count: int | None,
    timeout: float | None,
    catch_up: bool,
    as_json: bool,
) -> None:
    """Listen to a channel live: who talks, when, how long.

    \b
    Plays through the speaker (or --no-play), saves one .ogg per
    transmission with --save DIR, stops after --count K transmissions or
    --timeout S seconds (else Ctrl-C). --json prints one JSON object per line.
    """
    if count is not None and count < 1:
        raise UsageError("--count must be at least 1")
    if timeout is not None and timeout <= 0:
        raise UsageError("--timeout must be more than 0 seconds")
    session = session_from(obj, channel)
    saver = SaveDir(save_dir) if save_dir is not None else None
    player = None if no_play else _speaker(device)
    people = ListenFamily(obj, session.number, playing=player is not None)
    start_at = _catch_up(session, player, saver, as_json, people) if catch_up else None
    events: queue.Queue[Event] = queue.Queue()
    service = ListenService(session, on_event=events.put, start_offset=start_at).start()
    _say(
        as_json,
        {
            "event": "tuned_in",
            "channel": session.number,
            "ms": round((service.tune_in_s or 0) * 1000),
        },
        f"listening on channel {session.number} "
        f"(tuned in in {(service.tune_in_s or 0) * 1000:.0f} ms)",
    )
    try:
        _loop(service, events, player, saver, count, timeout, as_json, people)
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()
        people.stop()
        if player is not None:
            player.close()
        for path in saver.flush() if saver else []:
            _say(as_json, {"event": "saved", "path": str(path)}, f"saved {path}")
        if service.position is not None:
            profiles.remember(
                session.profile_name, POSITION_KEY.format(channel=session.number), service.position
            )
    if service.error is not None:
        raise service.error


def _speaker(device: str | None) -> LivePlayer | None:
    try:
        return LivePlayer.for_device(device)
    except AudioDeviceError as exc:
        info(f"{exc}: listening without sound (use --no-play to skip this check)")
        return None


def _loop(
    service: ListenService,
    events: queue.Queue[Event],
    player: LivePlayer | None,
    saver: SaveDir | None,
    count: int | None,
    timeout: float | None,
    as_json: bool,
    people: ListenFamily,
) -> None:
    deadline = time.monotonic() + timeout if timeout is not None else None
    ended = 0
    while (count is None or ended < count) and (deadline is None or time.monotonic() < deadline):
        if service.error is not None:
            return
        try:
            event = events.get(timeout=0.1)
        except queue.Empty:
            continue
        if player is not None:
            player.feed(event)
        path = saver.feed(event) if saver else None
        if isinstance(event, TalkStarted):
            people.talk_started(event.offset)
        elif isinstance(event, TalkEnded):
            people.talk_ended(service.position)
        _print_event(event, as_json, people.name)
        if path is not None:
            _say(as_json, {"event": "saved", "path": str(path)}, f"  saved {path}")
        if isinstance(event, TalkEnded):
            ended += 1


def _print_event(event: Event, as_json: bool, name: Callable[[str], str] = str) -> None:
    clock = dt.datetime.now().strftime("%H:%M:%S")
    if isinstance(event, TalkStarted):
        _say(
            as_json,
            {
                "event": "talk_started",
                "talker": event.talker,
                "tx": event.key,
                "offset": event.offset,
            },
            f"{clock} {name(event.talker)} is talking...",
        )
    elif isinstance(event, TalkEnded):
        _say(
            as_json,
            {
                "event": "talk_ended",
                "talker": event.talker,
                "tx": event.key,
                "frames": event.frames,
                "duration_ms": event.duration_ms,
            },
            f"{clock} {name(event.talker)}: {event.duration_ms / 1000:.1f} s "
            f"({event.frames} frames)",
        )


def _say(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data, ensure_ascii=False) if as_json else text)


def _catch_up(
    session: ChannelSession,
    player: LivePlayer | None,
    saver: SaveDir | None,
    as_json: bool,
    people: ListenFamily,
) -> int | None:
    """Play, oldest first, what was said since this profile last listened; return
    the audio offset where live listening must continue."""
    stored = profiles.recall(session.profile_name, POSITION_KEY.format(channel=session.number))
    timeline = load_timeline(session)
    if not isinstance(stored, int):
        info("nothing to catch up: this is the first time you listen here")
        return None
    missed = sorted(
        (e for e in timeline.entries if e.id >= stored and e.audio_available), key=lambda e: e.id
    )
    _say(
        as_json, {"event": "catch_up", "missed": len(missed)}, f"{len(missed)} missed recording(s)"
    )
    try:
        for entry, path in play_entries(session, missed, player, saver):
            tx = entry.transmission
            if player is not None:
                people.replayed(tx.start_offset, tx.end_offset)
            _say(
                as_json,
                {
                    "event": "replayed",
                    "id": entry.id,
                    "talker": tx.user_id,
                    "duration_ms": tx.duration_ms,
                },
                f"  missed: {tx.user_id} {tx.duration_ms / 1000:.1f} s (ID {entry.id})",
            )
            if path is not None:
                _say(as_json, {"event": "saved", "path": str(path)}, f"  saved {path}")
    except ChokError as exc:
        info(f"catching up stopped: {exc}")
    return timeline.audio_high
