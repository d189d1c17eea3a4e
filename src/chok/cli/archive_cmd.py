"""`chok archive`: keep every recording of your channels on this machine, and
find, play and export them after the broker's retention removed them."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import click

from chok.channel import family
from chok.channel.archive import archive_channel, archived_packets, archived_pcm, search
from chok.channel.session import open_session
from chok.cli.common import device_option, json_option, profile_and_store
from chok.cli.output import emit_json, info
from chok.codec import EXPORT_SUFFIXES, export
from chok.errors import NotFoundError, UsageError
from chok.protocol.people import shown

FOLLOW_EVERY_S = 30.0
_DATE = click.DateTime(["%Y-%m-%d", "%Y-%m-%d %H:%M"])


def _channels(profile: Any, only: tuple[int, ...]) -> list[int]:
    mine = [c.number for c in profile.config.channels]
    for number in only:
        if number not in mine:
            raise UsageError(f"you are not a member of channel {number} (yours: {mine})")
    return list(only) or mine


@click.group("archive", invoke_without_command=True)
@click.option("--channel", "-c", "only", type=int, multiple=True, help="Only channel N (repeat).")
@click.option("--follow", is_flag=True, help="Keep archiving new recordings until Ctrl-C.")
@json_option
@click.pass_context
def archive_group(ctx: click.Context, only: tuple[int, ...], follow: bool, as_json: bool) -> None:
    """Keep every recording of your channels here, beyond the broker's retention.

    \b
    chok archive                 archive what is new on all your channels
    chok archive --follow        ... and keep doing it (a family server)
    chok archive list --user jo --from 2026-01-01
    chok archive play ID         play it, even when the broker removed it
    chok archive export ID FILE  save it as .ogg/.opus or .wav

    Recordings go to $CHOK_HOME/archive/<profile>/ (SQLite + Opus files).
    """
    if ctx.invoked_subcommand is not None:
        return
    profile, store = profile_and_store(ctx.obj)
    stop = threading.Event()
    total: dict[str, int] = {"archived": 0, "bytes": 0, "expired": 0}
    try:
        while True:
            for number in _channels(profile, only):
                result = archive_channel(open_session(profile, number), store, stop=stop)
                total["archived"] += result.archived
                total["bytes"] += result.bytes
                total["expired"] = result.expired
                if result.archived and not as_json:
                    info(f"channel {number}: archived {result.archived} recording(s)")
            if not follow or stop.wait(FOLLOW_EVERY_S):
                break
    except KeyboardInterrupt:
        stop.set()
    where = str(store.path.parent) if store.path is not None else None
    if as_json:
        emit_json({**total, "where": where})
        return
    click.echo(
        f"archived {total['archived']} recording(s), {total['bytes'] / 1000:.0f} KB in {where}"
    )
    if total["expired"]:
        click.echo(f"{total['expired']} older recording(s) had already expired on the broker")


@archive_group.command("list")
@click.option("--user", "-u", help="Only this person (user name or display name).")
@click.option("--from", "since", type=_DATE, help="From this date (YYYY-MM-DD[ HH:MM]).")
@click.option("--to", "until", type=_DATE, help="Up to this date, included.")
@click.option("--channel", "-c", "only", type=int, multiple=True, help="Only channel N.")
@json_option
@click.pass_obj
def list_cmd(
    obj: dict[str, Any],
    user: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    only: tuple[int, ...],
    as_json: bool,
) -> None:
    """Search the recordings kept here by person and date (newest first)."""
    profile, store = profile_and_store(obj)
    names = family.Names.of_store(store)
    if until is not None and until.hour == until.minute == 0:
        until += dt.timedelta(days=1)  # a date means the whole day
    found = search(store, _channels(profile, only), user, since, until, names.names)
    if as_json:
        emit_json([_found_json(f, names) for f in found])
        return
    if not found:
        click.echo("nothing found (run `chok archive` to keep what is on the broker)")
        return
    click.echo(f"{'ID':>8} {'CH':>3}  {'WHO':<20} {'WHEN':<16} {'LENGTH':>7}  KEPT")
    for f in found:
        tx = f.entry.transmission
        who = shown(names.of(tx.user_id, tx.display_name), 20)
        when = dt.datetime.fromtimestamp(tx.timestamp_ms / 1000).strftime("%Y-%m-%d %H:%M")
        kept = "archived" if f.path else ("on broker" if f.entry.audio_available else "expired")
        click.echo(
            f"{f.entry.id:>8} {tx.channel:>3}  {who:<20} {when:<16} "
            f"{tx.duration_ms / 1000:>6.1f}s  {kept}"
        )


def _found_json(found: Any, names: family.Names) -> dict[str, Any]:
    tx = found.entry.transmission
    return {
        "id": found.entry.id,
        "channel": tx.channel,
        "user": tx.user_id,
        "display_name": names.display(tx.user_id) or tx.display_name,
        "timestamp_ms": tx.timestamp_ms,
        "duration_ms": tx.duration_ms,
        "archived": found.path is not None,
        "path": str(found.path) if found.path else None,
        "audio_available": found.entry.audio_available,
    }


def _archived_entry(obj: dict[str, Any], tx_id: int, channel: int | None) -> tuple[Any, Any]:
    profile, store = profile_and_store(obj)
    for number in _channels(profile, (channel,) if channel else ()):
        entry = store.entry(number, tx_id)
        if entry is not None and entry.archived:
            return store, entry
    raise NotFoundError(
        f"recording {tx_id} is not in this machine's archive",
        hint="see `chok archive list`; `chok archive` keeps what is on the broker",
    )


@archive_group.command("play")
@click.argument("tx_id", metavar="ID", type=int)
@click.option("--channel", "-c", type=int, help="Its channel (default: any of yours).")
@device_option
@click.pass_obj
def play_cmd(obj: dict[str, Any], tx_id: int, channel: int | None, device: str | None) -> None:
    """Play archived recording ID."""
    from chok.audio import open_output

    store, entry = _archived_entry(obj, tx_id, channel)
    frames = archived_pcm(store, entry)
    with open_output(device) as speaker:
        for pcm in frames:
            speaker.write(pcm)
        speaker.drain()
    seconds = len(frames) * entry.transmission.frame_ms / 1000
    click.echo(f"played {shown(entry.transmission.user_id)}'s {seconds:.1f} s (from the archive)")


@archive_group.command("export")
@click.argument("tx_id", metavar="ID", type=int)
@click.argument("path", metavar="FILE", type=click.Path(path_type=Path))
@click.option("--channel", "-c", type=int, help="Its channel (default: any of yours).")
@click.pass_obj
def export_cmd(obj: dict[str, Any], tx_id: int, path: Path, channel: int | None) -> None:
    """Save archived recording ID to FILE (.ogg/.opus: the exact packets; .wav)."""
    if path.suffix.lower() not in EXPORT_SUFFIXES:
        raise UsageError(f"cannot export to '{path.name}': use a .wav, .ogg or .opus file name")
    store, entry = _archived_entry(obj, tx_id, channel)
    packets = archived_packets(store, entry)
    export(path, packets, frame_ms=entry.transmission.frame_ms)
    click.echo(f"wrote {path} ({len(packets)} frames, from the archive)")
