"""`chok who`, `chok name`, `chok delete`: the family around the walkie-talkie."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import click

from chok.channel import family
from chok.channel.cache import TimelineCache
from chok.channel.delete import delete_transmission
from chok.cli.common import channel_option, json_option, profile_and_store, session_from
from chok.cli.output import emit_json, human_duration
from chok.errors import NotFoundError
from chok.kafka import handshake
from chok.protocol.people import shown


def _ago(last_seen_ms: int | None) -> str:
    if last_seen_ms is None:
        return "never"
    seconds = max(0.0, time.time() - last_seen_ms / 1000)
    return f"{human_duration(seconds)} ago"


@click.command("who")
@json_option
@click.pass_obj
def who_cmd(obj: dict[str, Any], as_json: bool) -> None:
    """Who is in the family, who is online now, and when each was last seen."""
    profile, store = profile_and_store(obj)
    handshake.check(profile.credentials)  # nobody there, or refused: say so at once
    if not family.refresh_family(profile.credentials, profile.user, store):
        raise NotFoundError(
            "this cluster has no family topics for you yet",
            hint="ask your admin to run `chok admin init` again (it upgrades the cluster)",
        )
    members = family.members(store)
    if as_json:
        emit_json([m.as_json() for m in members])
        return
    width = max([len(shown(m.display_name or m.user, 24)) for m in members] + [4])
    for m in members:
        dot = click.style("\u25cf", fg="green") if m.online else click.style("\u25cb", dim=True)
        name = shown(m.display_name or m.user, 24)
        state = "online" if m.online else f"last seen {_ago(m.last_seen_ms)}"
        me = " (you)" if m.user == profile.user else ""
        click.echo(f"{dot} {name:<{width}}  {m.user:<16} {state}{me}")


@click.command("name")
@click.argument("display_name", required=False)
@json_option
@click.pass_obj
def name_cmd(obj: dict[str, Any], display_name: str | None, as_json: bool) -> None:
    """Show your display name, or change it to DISPLAY_NAME for the whole family.

    \b
    chok name "Grandma Jo"      (UTF-8, spaces and accents welcome)
    """
    profile, store = profile_and_store(obj)
    if display_name is not None:
        handshake.check(profile.credentials)  # nobody there, or refused: say so at once
        family.set_display_name(profile, store, display_name)
    current = family.display_name_of(profile, store)
    if as_json:
        emit_json({"user": profile.user, "display_name": current})
        return
    click.echo(f"you are {shown(current or profile.user)} (user name {profile.user})")


@click.command("delete")
@click.argument("tx_id", metavar="ID", type=int)
@channel_option
@json_option
@click.pass_obj
def delete_cmd(obj: dict[str, Any], tx_id: int, channel: int | None, as_json: bool) -> None:
    """Take back your recording ID, for everyone (chok and the original app).

    Its audio stays on the broker until the channel's retention removes it
    (7 days by default), out of everyone's timeline.
    """
    session = session_from(obj, channel)
    _, store = profile_and_store(obj)
    cache = TimelineCache(session, store)
    first = store.first_offset(session.number, tx_id)
    deleted = delete_transmission(session, tx_id, first_offset=first)
    cache.refresh()
    tx = deleted.transmission
    if as_json:
        emit_json({"id": tx_id, "deleted": True, "reactions_removed": deleted.reactions_removed})
        return
    when = dt.datetime.fromtimestamp(tx.timestamp_ms / 1000).strftime("%Y-%m-%d %H:%M")
    click.echo(f"took back recording {tx_id} ({when}, {tx.duration_ms / 1000:.1f} s)")
    click.echo("its audio stays on the broker until retention removes it (7 days by default)")


COMMANDS: list[click.Command] = [who_cmd, name_cmd, delete_cmd]


class ListenFamily:
    """What `chok listen` adds for the family: "online" while it runs, what it
    played counted as heard, and names shown as the family chose them."""

    def __init__(self, obj: dict[str, Any], channel: int, playing: bool) -> None:
        from chok.channel.family_service import FamilyService

        profile, store = profile_and_store(obj)
        self.names = family.Names.of_store(store)
        self.service = FamilyService(profile, store).start()
        self.hearing = self.service.live(channel) if playing else None
        self.channel = channel

    def name(self, user: str) -> str:
        return shown(self.names.of(user), 32)

    def talk_started(self, offset: int) -> None:
        """A transmission began at ``offset``: heard whole only from the first one
        that began after tuning in (so the first offset seen is where it starts)."""
        if self.hearing is not None and self.hearing.since is None:
            self.hearing.tuned_in(offset)

    def talk_ended(self, position: int | None) -> None:
        if self.hearing is not None and position is not None:
            self.hearing.heard_until(position - 1)

    def replayed(self, start_offset: int, end_offset: int) -> None:
        self.service.heard(self.channel, start_offset, end_offset)

    def stop(self) -> None:
        self.service.stop()
