"""Options and helpers shared by the channel commands."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from chok import profiles
from chok.channel import access, family
from chok.channel.session import ChannelSession, open_session
from chok.channel.store import Store
from chok.errors import ChokError
from chok.kafka import handshake
from chok.protocol.topics import MAX_CHANNEL, MIN_CHANNEL

F = TypeVar("F", bound=Callable[..., Any])


def channel_option(func: F) -> F:
    return click.option(
        "--channel",
        "-c",
        type=click.IntRange(MIN_CHANNEL, MAX_CHANNEL),
        metavar="N",
        help="Channel number (default: your first channel).",
    )(func)


# A recording's ID is its Kafka offset: 0 to 2^63 - 1.
RECORDING_ID = click.IntRange(0, 2**63 - 1)


def seconds(limit: float, *, zero: bool = False) -> _FloatParam:
    """Seconds as a finite number above 0 (or from 0) up to ``limit``: click's
    FloatRange lets NaN through (every comparison with NaN is false)."""
    return _Seconds(limit, zero)


if TYPE_CHECKING:  # click's ParamType is generic for type checkers (not at runtime in 8.1)
    _FloatParam = click.ParamType[float]
else:
    _FloatParam = click.ParamType


class _Seconds(_FloatParam):
    name = "seconds"

    def __init__(self, limit: float, zero: bool) -> None:
        self.limit, self.zero = limit, zero

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        low_ok = number >= 0 if self.zero else number > 0
        if not (math.isfinite(number) and low_ok and number <= self.limit):
            low = "0" if self.zero else "more than 0"
            self.fail(f"{value} is not {low} to {self.limit:g} seconds", param, ctx)
        return number


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


def session_from(
    ctx_obj: dict[str, Any],
    channel: int | None,
    live_batch_ms: int | None = None,
    *,
    offline_ok: bool = False,
) -> ChannelSession:
    """The channel session of the active profile, once the broker has accepted
    its certificate: a refused one is exit 7 in milliseconds, not a 10 s wait
    for "cannot reach the broker" (kafka/handshake.py).

    ``offline_ok``: a broker that cannot be reached is no error (talk queues in
    the outbox, listen waits for the broker); a refusal still is.

    The channels are the ones the admin's access record lists now (a channel
    granted since we last looked is asked for first)."""
    bundle_profile = profiles.active(ctx_obj.get("profile"))
    store = Store.existing(bundle_profile)  # read only: a failing command leaves nothing
    profile = access.effective(bundle_profile, store)
    if channel is not None and all(c.number != channel for c in profile.config.channels):
        profile = _granted_since(bundle_profile, channel) or profile
    name = family.display_name_of(profile, store)
    session = open_session(profile, channel, live_batch_ms, display_name=name)
    handshake.check(profile.credentials, unreachable_ok=offline_ok)
    return session


def _granted_since(profile: profiles.Profile, channel: int) -> profiles.Profile | None:
    """The profile with ``channel``, if the admin's access record lists it now
    (asked only of a broker that answers; kept only when it does list it)."""
    if handshake.probe(profile.credentials).verdict is not handshake.Verdict.ACCEPTED:
        return None
    with contextlib.suppress(ChokError):
        record = access.read_access(profile)
        if record is not None and any(c.number == channel for c in record.channels):
            store = Store.for_profile(profile)
            access.remember(store, record)
            return access.effective(profile, store)
    return None
