"""Options and helpers shared by the channel commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from chok import profiles
from chok.channel.session import ChannelSession, open_session

F = TypeVar("F", bound=Callable[..., Any])


def channel_option(func: F) -> F:
    return click.option(
        "--channel",
        "-c",
        type=int,
        metavar="N",
        help="Channel number (default: your first channel).",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(
        func
    )


def device_option(func: F) -> F:
    return click.option(
        "--device",
        metavar="NAME",
        help="Sound device name or index (default: the system's default; see `chok devices`).",
    )(func)


def session_from(
    ctx_obj: dict[str, Any], channel: int | None, live_batch_ms: int | None = None
) -> ChannelSession:
    return open_session(profiles.active(ctx_obj.get("profile")), channel, live_batch_ms)
