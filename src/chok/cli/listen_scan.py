"""`chok listen` on several channels at once (`--channel 1 --channel 2`, `--channel all`).

One connection for every channel (``MonitorService``); a ``ScanGate`` gives
the speaker to one channel at a time (first come, or the ``--priority``
channel, which interrupts); ``--mute N`` shows a channel's activity without
playing it. Every printed line and JSON object names its channel.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import time
from pathlib import Path
from typing import Any

import click

from chok import profiles
from chok.channel.live import TalkEnded, TalkStarted
from chok.channel.monitor import ChannelEvent, MonitorService
from chok.channel.player import LivePlayer
from chok.channel.recorder import SaveDir
from chok.channel.scan import ScanGate, ScanSettings
from chok.channel.session import ChannelSession

POSITION_KEY = "audio_position_{channel}"  # as single-channel `chok listen`


def listen_several(
    sessions: list[ChannelSession],
    settings: ScanSettings,
    player: LivePlayer | None,
    save_dir: Path | None,
    count: int | None,
    timeout: float | None,
    as_json: bool,
    start_offsets: dict[int, int] | None = None,
) -> None:
    names = {s.number: s.config.name for s in sessions}
    savers = (
        {s.number: SaveDir(save_dir / f"channel-{s.number}") for s in sessions} if save_dir else {}
    )
    events: queue.Queue[ChannelEvent] = queue.Queue()
    gate = ScanGate(settings, time.monotonic)
    service = MonitorService(sessions, gate, on_event=events.put, start_offsets=start_offsets)
    service.start()
    tuned_ms = round((service.tune_in_s or 0) * 1000)
    described = ", ".join(_label(n, names[n], settings) for n in settings.channels)
    _say(
        as_json,
        {
            "event": "tuned_in",
            "channels": list(settings.channels),
            "muted": sorted(settings.muted),
            "priority": settings.priority,
            "ms": tuned_ms,
        },
        f"listening on channels {described} (tuned in in {tuned_ms} ms)",
    )
    try:
        _loop(service, events, player, savers, names, count, timeout, as_json)
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()
        if player is not None:
            player.close()
        for number, saver in savers.items():
            for path in saver.flush():
                _say(
                    as_json,
                    {"event": "saved", "channel": number, "path": str(path)},
                    f"saved {path}",
                )
        profile = sessions[0].profile_name
        for number, position in service.positions.items():
            profiles.remember(profile, POSITION_KEY.format(channel=number), position)
    if service.error is not None:
        raise service.error


def _label(number: int, name: str, settings: ScanSettings) -> str:
    marks = (" (priority)" if number == settings.priority else "") + (
        " (muted)" if number in settings.muted else ""
    )
    return f"{number} \u00b7 {name}{marks}"


def _loop(
    service: MonitorService,
    events: queue.Queue[ChannelEvent],
    player: LivePlayer | None,
    savers: dict[int, SaveDir],
    names: dict[int, str],
    count: int | None,
    timeout: float | None,
    as_json: bool,
) -> None:
    deadline = time.monotonic() + timeout if timeout is not None else None
    ended = 0
    while (count is None or ended < count) and (deadline is None or time.monotonic() < deadline):
        if service.error is not None:
            return
        try:
            item = events.get(timeout=0.1)
        except queue.Empty:
            continue
        if player is not None and item.audible:
            player.feed(item.event)
        saver = savers.get(item.channel)
        path = saver.feed(item.event) if saver else None
        _print(item, names[item.channel], as_json)
        if path is not None:
            _say(
                as_json,
                {"event": "saved", "channel": item.channel, "path": str(path)},
                f"  saved {path}",
            )
        if isinstance(item.event, TalkEnded):
            ended += 1


def _print(item: ChannelEvent, name: str, as_json: bool) -> None:
    event, clock = item.event, dt.datetime.now().strftime("%H:%M:%S")
    where = f"[{item.channel} \u00b7 {name}]"
    if isinstance(event, TalkStarted):
        note = "" if item.audible else " (not played)"
        data = {"event": "talk_started", "played": item.audible}
        text = f"{clock} {where} {event.talker} is talking...{note}"
    elif isinstance(event, TalkEnded):
        note = "" if item.audible else " (unheard)"
        data = {
            "event": "talk_ended",
            "frames": event.frames,
            "duration_ms": event.duration_ms,
            "heard": item.audible,
        }
        length = f"{event.duration_ms / 1000:.1f} s ({event.frames} frames)"
        text = f"{clock} {where} {event.talker}: {length}{note}"
    else:
        return
    _say(as_json, {**data, "channel": item.channel, "talker": event.talker, "tx": event.key}, text)


def _say(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data, ensure_ascii=False) if as_json else text)
