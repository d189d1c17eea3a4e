"""`chok listen` on several channels at once (`--channel 1 --channel 2`, `--channel all`).

One connection for every channel (``MonitorService``); a ``ScanGate`` gives
the speaker to one channel at a time (first come, or the ``--priority``
channel, which interrupts); ``--mute N`` shows a channel's activity without
playing it. Every printed line and JSON object names its channel. The
connection is said as for one channel: `listen` starts while the broker is
away, says each change, and exits 6 if --timeout ends before it ever tuned in.
Names come from records anyone may write: shown through chok.protocol.display.
"""

from __future__ import annotations

import datetime as dt
import queue
import time
from pathlib import Path
from typing import Any

from chok.channel.connection import ConnStatus
from chok.channel.live import TalkEnded, TalkStarted
from chok.channel.monitor import ChannelEvent, MonitorService
from chok.channel.player import LivePlayer
from chok.channel.recorder import SaveDir
from chok.channel.scan import ScanGate, ScanSettings
from chok.channel.session import ChannelSession
from chok.cli.listen_output import (
    FIRST_WAIT_S,
    Shown,
    listen_loop,
    never_tuned_in,
    remember_position,
    say,
)
from chok.errors import StorageError
from chok.protocol.display import safe_text, seconds_text


def listen_several(
    sessions: list[ChannelSession],
    settings: ScanSettings,
    player: LivePlayer | None,
    save_dir: Path | None,
    count: int | None,
    timeout: float | None,
    shown: Shown,
    start_offsets: dict[int, int] | None = None,
) -> None:
    as_json = shown.as_json
    names = {s.number: s.config.name for s in sessions}
    savers = (
        {s.number: SaveDir(save_dir / f"channel-{s.number}") for s in sessions} if save_dir else {}
    )
    events: queue.Queue[ChannelEvent | ConnStatus] = queue.Queue()
    service = MonitorService(
        sessions,
        ScanGate(settings, time.monotonic),
        on_event=events.put,
        start_offsets=start_offsets,
        on_state=events.put,
        fill_silence=bool(savers),
    ).start(timeout=FIRST_WAIT_S, require=False)  # then say why not, and keep trying

    def handle(item: ChannelEvent) -> bool:
        return _heard(item, player, savers, names[item.channel], as_json)

    def tuned() -> None:
        ms = round((service.tune_in_s or 0) * 1000)
        described = ", ".join(_label(n, names[n], settings) for n in settings.channels)
        data = {
            "event": "tuned_in",
            "channels": list(settings.channels),
            "muted": sorted(settings.muted),
            "priority": settings.priority,
            "ms": ms,
        }
        shown.tuned(service, data, f"listening on channels {described} (tuned in in {ms} ms)")

    try:
        listen_loop(service, events, handle, shown, tuned, count, timeout)
    except KeyboardInterrupt:
        pass
    finally:
        last = service.status
        service.stop()
        if player is not None:
            player.close()
        for number, saver in savers.items():
            for path in saver.flush():
                data = {"event": "saved", "channel": number, "path": str(path)}
                say(as_json, data, f"saved {path}")
        for number, position in service.positions.items():
            remember_position(sessions[0].profile_name, number, position)
    if service.error is not None:
        raise service.error
    failed = [f for saver in savers.values() for f in saver.failed]
    if failed:
        raise StorageError(f"{len(failed)} recording(s) could not be saved: {failed[0].message}")
    if not service.tuned_in.is_set():  # the broker never answered: a script must know
        raise never_tuned_in(service.what, last, shown.verbose)


def _label(number: int, name: str, settings: ScanSettings) -> str:
    marks = (" (priority)" if number == settings.priority else "") + (
        " (muted)" if number in settings.muted else ""
    )
    return f"{number} \u00b7 {safe_text(name)}{marks}"


def _heard(
    item: ChannelEvent,
    player: LivePlayer | None,
    savers: dict[int, SaveDir],
    name: str,
    as_json: bool,
) -> bool:
    """Play (if it has the speaker), save and print one event; True at a transmission's end."""
    if player is not None and item.audible:
        player.feed(item.event)
    saver = savers.get(item.channel)
    path = saver.feed(item.event) if saver else None
    _print(item, name, as_json)
    if path is not None:
        data = {"event": "saved", "channel": item.channel, "path": str(path)}
        say(as_json, data, f"  saved {path}")
    return isinstance(item.event, TalkEnded)


def _print(item: ChannelEvent, name: str, as_json: bool) -> None:
    event, clock = item.event, dt.datetime.now().strftime("%H:%M:%S")
    where = f"[{item.channel} \u00b7 {safe_text(name)}]"
    talker = safe_text(event.talker)
    data: dict[str, Any]
    if isinstance(event, TalkStarted):
        note = "" if item.audible else " (not played)"
        data = {"event": "talk_started", "played": item.audible}
        text = f"{clock} {where} {talker} is talking...{note}"
    elif isinstance(event, TalkEnded):
        note = "" if item.audible else " (unheard)"
        data = {
            "event": "talk_ended",
            "frames": event.frames,
            "duration_ms": event.duration_ms,
            "heard": item.audible,
        }
        length = f"{seconds_text(event.duration_ms)} ({event.frames} frames)"
        text = f"{clock} {where} {talker}: {length}{note}"
    else:
        return
    say(as_json, {**data, "channel": item.channel, "talker": event.talker, "tx": event.key}, text)
