"""`chok listen`: hear the channel live, print who talks, save recordings."""

from __future__ import annotations

import datetime as dt
import queue
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from chok import profiles
from chok.channel import access
from chok.channel.connection import ConnStatus
from chok.channel.live import Event, FrameArrived, TalkEnded, TalkStarted
from chok.channel.player import LivePlayer, play_entries
from chok.channel.recorder import SaveDir
from chok.channel.scan import ScanSettings, parse_channels
from chok.channel.service import ListenService
from chok.channel.session import ChannelSession, open_session
from chok.channel.store import Store
from chok.channel.timeline import load_timeline
from chok.cli.common import device_option, json_option, seconds
from chok.cli.family_cmd import ListenFamily
from chok.cli.listen_output import (
    FIRST_WAIT_S,
    POSITION_KEY,
    Shown,
    listen_loop,
    never_tuned_in,
    remember_position,
    say,
)
from chok.cli.listen_scan import listen_several
from chok.cli.output import info, json_dumps
from chok.errors import AudioDeviceError, ChokError, StorageError, UsageError
from chok.kafka import handshake
from chok.protocol.client_config import MAX_LIVE_BATCH_MS
from chok.protocol.display import safe_text, seconds_text

MAX_COUNT = 1_000_000
MAX_TIMEOUT_S = 30 * 86400.0  # a month: more is a typo (without --timeout: until Ctrl-C)


@click.command("listen")
@click.option(
    "--channel",
    "-c",
    "channels",
    multiple=True,
    metavar="N|all",
    help="Channel number (default: your first); repeat it, or say 'all', to hear several.",
)
@click.option(
    "--mute", type=int, multiple=True, metavar="N", help="Show channel N, do not play it."
)
@click.option("--priority", type=int, metavar="N", help="Channel N interrupts the others.")
@device_option
@click.option(
    "--save", "save_dir", type=click.Path(path_type=Path), help="Save each transmission in DIR."
)
@click.option("--no-play", is_flag=True, help="Do not play through the speaker.")
@click.option("--count", type=click.IntRange(1, MAX_COUNT), help="Stop after K transmissions.")
@click.option("--timeout", type=seconds(MAX_TIMEOUT_S), help="Stop after S seconds.")
@click.option(
    "--catch-up", is_flag=True, help="First play what you missed since you last listened."
)
@click.option(
    "--batch-ms",
    "batch_ms",
    type=click.IntRange(0, MAX_LIVE_BATCH_MS),
    metavar="MS",
    help="Hosted plans: fetch live frames in batches of about MS ms of speech "
    "(less egress, up to MS ms later). Default: your bundle's; 0: every frame at once.",
)
@click.option(
    "--frame-times",
    is_flag=True,
    hidden=True,  # a measurement hook for `chok bench` (with --json)
    help="With --json: one line per frame heard, with how late it is (ms).",
)
@json_option
@click.pass_obj
def listen_cmd(
    obj: dict[str, Any],
    channels: tuple[str, ...],
    mute: tuple[int, ...],
    priority: int | None,
    device: str | None,
    save_dir: Path | None,
    no_play: bool,
    count: int | None,
    timeout: float | None,
    catch_up: bool,
    batch_ms: int | None,
    frame_times: bool,
    as_json: bool,
) -> None:
    """Listen to a channel live: who talks, when, how long.

    \b
    Plays through the speaker (or --no-play), saves one .ogg per
    transmission with --save DIR, stops after --count K transmissions or
    --timeout S seconds (else Ctrl-C). --json prints one JSON object per line.

    \b
    Several channels: --channel 1 --channel 2 (or --channel all). One channel
    has the speaker at a time (the first to talk); --priority N interrupts
    the others; --mute N shows N without playing it. Each line names its
    channel; with --save, one folder per channel.
    """
    bundle_profile = profiles.active(obj.get("profile"))
    profile = access.effective(bundle_profile, Store.existing(bundle_profile))  # admin's channels
    settings = _scan_settings(profile, channels, mute, priority)
    # A refused certificate is exit 7 at once; an unreachable broker is waited for.
    handshake.check(profile.credentials, unreachable_ok=True)
    if len(settings.channels) > 1 or settings.muted:
        sessions = [open_session(profile, n, batch_ms) for n in settings.channels]
        player = None if no_play else _speaker(device)
        offsets = _catch_up_all(sessions, player, save_dir, as_json) if catch_up else {}
        shown = Shown(as_json, bool(obj.get("verbose")))
        online = ListenFamily(obj, sessions[0].number, playing=False)  # "online" only
        try:
            listen_several(sessions, settings, player, save_dir, count, timeout, shown, offsets)
        finally:
            online.stop()
        return
    saver = SaveDir(save_dir) if save_dir is not None else None
    session = open_session(profile, settings.channels[0], batch_ms)
    player = None if no_play else _speaker(device)
    people = ListenFamily(obj, session.number, playing=player is not None)
    start_at = _catch_up(session, player, saver, as_json, people) if catch_up else None
    events: queue.Queue[Event | ConnStatus] = queue.Queue()
    service = ListenService(
        session,
        on_event=events.put,
        start_offset=start_at,
        on_state=events.put,
        fill_silence=saver is not None,
    ).start(timeout=FIRST_WAIT_S, require=False)  # then say why not, and keep trying
    shown = Shown(as_json, bool(obj.get("verbose")))

    def handle(event: Event) -> bool:
        if isinstance(event, TalkStarted):
            people.talk_started(event.offset)
        elif isinstance(event, TalkEnded):
            people.talk_ended(service.position)
        return _heard(event, player, saver, as_json, as_json and frame_times, people.name)

    def tuned() -> None:
        ms = round((service.tune_in_s or 0) * 1000)
        data = {"event": "tuned_in", "channel": session.number, "ms": ms}
        shown.tuned(service, data, f"listening on channel {session.number} (tuned in in {ms} ms)")

    try:
        listen_loop(service, events, handle, shown, tuned, count, timeout)
    except KeyboardInterrupt:
        pass
    finally:
        last = service.status
        service.stop()
        people.stop()
        if player is not None:
            player.close()
        for path in saver.flush() if saver else []:
            say(as_json, {"event": "saved", "path": str(path)}, f"saved {path}")
        remember_position(session.profile_name, session.number, service.position)
    if service.error is not None:
        raise service.error
    if saver is not None and saver.failed:
        raise StorageError(
            f"{len(saver.failed)} recording(s) could not be saved: {saver.failed[0].message}"
        )
    if not service.tuned_in.is_set():  # the broker never answered: a script must know
        raise never_tuned_in(service.what, last, shown.verbose)


def _scan_settings(
    profile: profiles.Profile,
    channels: tuple[str, ...],
    mute: tuple[int, ...],
    priority: int | None,
) -> ScanSettings:
    """The --channel/--mute/--priority choice, checked against the profile's channels."""
    available = [c.number for c in profile.config.channels]
    try:
        chosen = (
            parse_channels(channels, available) if channels else (profile.channel(None).number,)
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for number in (*mute, *([priority] if priority is not None else [])):
        if number not in chosen:
            raise UsageError(
                f"channel {number} is not one you listen to here (add --channel {number})"
            )
    return ScanSettings(chosen, frozenset(mute), priority)


def _catch_up_all(
    sessions: list[ChannelSession], player: LivePlayer | None, save_dir: Path | None, as_json: bool
) -> dict[int, int]:
    """Catch up on each channel in turn; where each one's live listening continues."""
    offsets = {}
    for session in sessions:
        saver = SaveDir(save_dir / f"channel-{session.number}") if save_dir else None
        offset = _catch_up(session, player, saver, as_json)
        if offset is not None:
            offsets[session.number] = offset
    return offsets


def _speaker(device: str | None) -> LivePlayer | None:
    try:
        return LivePlayer.for_device(device)
    except AudioDeviceError as exc:
        info(f"{exc}: listening without sound (use --no-play to skip this check)")
        return None


def _heard(
    event: Event,
    player: LivePlayer | None,
    saver: SaveDir | None,
    as_json: bool,
    frame_times: bool = False,
    name: Callable[[str], str] = safe_text,
) -> bool:
    """Play, save and print one event; True when a transmission ended."""
    if player is not None:
        player.feed(event)
    path = saver.feed(event) if saver else None
    _print_event(event, as_json, name)
    if frame_times and isinstance(event, FrameArrived) and not event.synthesized:
        late = time.time() * 1000 - event.sent_ms  # same machine, same clock
        click.echo(json_dumps({"event": "frame", "tx": event.key, "late_ms": round(late, 1)}))
    if path is not None:
        say(as_json, {"event": "saved", "path": str(path)}, f"  saved {path}")
    return isinstance(event, TalkEnded)


def _print_event(event: Event, as_json: bool, name: Callable[[str], str] = safe_text) -> None:
    clock = dt.datetime.now().strftime("%H:%M:%S")
    if isinstance(event, TalkStarted):
        say(
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
        verdict = event.authenticity
        mark = ""
        if verdict is not None:
            mark = " \u2713" if verdict.verified else ""
            mark += f"  WARNING: forged ({verdict.reason})" if verdict.forged else ""
            mark += _said_long_ago(verdict.said_ms)
        say(
            as_json,
            {
                "event": "talk_ended",
                "talker": event.talker,
                "tx": event.key,
                "frames": event.frames,
                "duration_ms": event.duration_ms,
                "authenticity": None if verdict is None else verdict.status,
                "said_ms": None if verdict is None else verdict.said_ms,
            },
            f"{clock} {name(event.talker)}: {seconds_text(event.duration_ms)} "
            f"({event.frames} frames){mark}",
        )


#: A verified transmission heard live but said longer ago than this (sent again,
#: or held in its talker's outbox while the broker was away) says when it was said.
SAID_LONG_AGO_MS = 60_000


def _said_long_ago(said_ms: int | None) -> str:
    if said_ms is None or time.time() * 1000 - said_ms < SAID_LONG_AGO_MS:
        return ""
    when = dt.datetime.fromtimestamp(said_ms / 1000).strftime("%Y-%m-%d %H:%M:%S")
    return f" (said at {when})"


def _catch_up(
    session: ChannelSession,
    player: LivePlayer | None,
    saver: SaveDir | None,
    as_json: bool,
    people: ListenFamily | None = None,
) -> int | None:
    """Play, oldest first, what was said since this profile last listened; return
    the audio offset where live listening must continue."""
    stored = profiles.recall(session.profile_name, POSITION_KEY.format(channel=session.number))
    timeline = load_timeline(session)
    if not isinstance(stored, int):
        info("nothing to catch up: this is the first time you listen here")
        return None
    timeline.judge_all()
    missed = sorted(
        (e for e in timeline.entries if e.id >= stored and e.audio_available), key=lambda e: e.id
    )
    for entry in (e for e in missed if e.authenticity.forged):
        info(f"  skipped a forged recording (ID {entry.id}: {entry.authenticity.reason})")
    missed = [e for e in missed if not e.authenticity.forged]
    say(as_json, {"event": "catch_up", "missed": len(missed)}, f"{len(missed)} missed recording(s)")
    try:
        bounds = (timeline.audio_low, timeline.audio_high)
        for replayed in play_entries(session, missed, player, saver, bounds):
            entry, path, tx = replayed.entry, replayed.path, replayed.entry.transmission
            if replayed.skipped is not None:
                info(f"  skipped ID {entry.id}: {replayed.skipped}")
                continue
            if people is not None and player is not None:
                people.replayed(tx.start_offset, tx.end_offset)
            verdict = replayed.authenticity or entry.authenticity
            warning = f"  WARNING: forged ({verdict.reason})" if verdict.forged else ""
            say(
                as_json,
                {
                    "event": "replayed",
                    "id": entry.id,
                    "talker": tx.user_id,
                    "duration_ms": tx.duration_ms,
                    "authenticity": verdict.status,
                },
                f"  missed: {safe_text(tx.user_id)} {seconds_text(tx.duration_ms)} "
                f"(ID {entry.id}){warning}",
            )
            if path is not None:
                say(as_json, {"event": "saved", "path": str(path)}, f"  saved {path}")
    except ChokError as exc:
        info(f"catching up stopped: {exc}")
    return timeline.audio_high
