"""Options and helpers shared by the channel commands."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

import click

from chok import profiles
from chok.channel import access, family
from chok.channel.session import ChannelSession, open_session
from chok.channel.store import Store
from chok.errors import ChokError

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


def profile_and_store(ctx_obj: dict[str, Any]) -> tuple[profiles.Profile, Store]:
    """The active profile (with the channels the admin says now) and its database."""
    profile = profiles.active(ctx_obj.get("profile"))
    store = Store.for_profile(profile)
    return access.effective(profile, store), store


def session_from(ctx_obj: dict[str, Any], channel: int | None) -> ChannelSession:
    profile, store = profile_and_store(ctx_obj)
    if channel is not None and all(c.number != channel for c in profile.config.channels):
        # Granted since we last looked? Ask the admin's access record first.
        with contextlib.suppress(ChokError):
            access.refresh(profile, store)
        profile = access.effective(profile, store)
    return open_session(profile, channel, family.display_name_of(profile, store))
