"""What `chok listen` says while it listens, for one channel or several: tuning
in, the connection in plain words (Kafka's own text only with --verbose), and
the loop that takes the listener's events until --count or --timeout."""

from __future__ import annotations

import datetime as dt
import queue
import time
from collections.abc import Callable
from typing import Any, TypeVar

import click

from chok import profiles
from chok.channel.connection import ConnState, ConnStatus
from chok.channel.runtime import LiveRuntime
from chok.cli.output import json_dumps, warn
from chok.errors import KafkaError, StorageError

POSITION_KEY = "audio_position_{channel}"
#: How long `listen` waits to be tuned in before it says why not (and keeps trying).
FIRST_WAIT_S = 2.0
Item = TypeVar("Item")


def say(as_json: bool, data: dict[str, Any], text: str) -> None:
    """One line: JSON (unsafe characters escaped) or the words for people."""
    click.echo(json_dumps(data) if as_json else text)


class Shown:
    """What `listen` has said so far about tuning in and the connection."""

    def __init__(self, as_json: bool, verbose: bool) -> None:
        self.as_json, self.verbose = as_json, verbose
        self.tuned_in = False
        self.last: ConnState | None = None

    def tuned(self, service: LiveRuntime[Any], data: dict[str, Any], text: str) -> None:
        """Say once that listening started, when the service is tuned in."""
        if self.tuned_in or not service.tuned_in.is_set():
            return
        self.tuned_in = True
        say(self.as_json, data, text)

    def connection(self, status: ConnStatus) -> None:
        """Changes after tuning in, and any trouble before it (never silent)."""
        quiet_start = self.last is None and status.state is ConnState.CONNECTED
        if status.state is self.last or quiet_start:
            self.last = status.state
            return
        self.last = status.state
        data: dict[str, Any] = {"event": "connection", "state": status.state.value}
        data.update(text=status.text, detail=status.detail)
        text = f"{dt.datetime.now():%H:%M:%S} {status.text}"
        if self.verbose and status.detail:
            text += f" [{status.detail}]"
        say(self.as_json, data, text)


def listen_loop(
    service: LiveRuntime[Any],
    events: queue.Queue[Any],  # Item or ConnStatus
    handle: Callable[[Item], bool],
    shown: Shown,
    tuned: Callable[[], None],
    count: int | None,
    timeout: float | None,
) -> None:
    """Until --count transmissions ended (``handle`` says True at an end), --timeout
    passed, or the service stopped with an error."""
    deadline = time.monotonic() + timeout if timeout is not None else None
    ended = 0
    while (count is None or ended < count) and (deadline is None or time.monotonic() < deadline):
        if service.error is not None:
            return
        tuned()
        try:
            item = events.get(timeout=0.1)
        except queue.Empty:
            continue
        if isinstance(item, ConnStatus):
            shown.connection(item)
        elif handle(item):
            ended += 1


def never_tuned_in(what: str, last: ConnStatus, verbose: bool) -> KafkaError:
    """--timeout ended before the broker ever answered: exit 6, so a script knows."""
    return KafkaError(
        f"never tuned in to {what}: {last.text}", hint=last.detail if verbose else None
    )


def remember_position(profile: str, channel: int, position: int | None) -> None:
    """For --catch-up next time; a home that cannot be written only costs that."""
    if position is None:
        return
    try:
        profiles.remember(profile, POSITION_KEY.format(channel=channel), position)
    except StorageError as exc:
        warn(f"where you stopped listening is not remembered: {exc}")
