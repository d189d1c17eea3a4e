"""`chok admin`: set up channels and people (the person who runs the cluster)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from chok.cli.output import emit_json, info
from chok.errors import UsageError
from chok.home import write_private
from chok.provision import local


@click.group("admin")
def admin_group() -> None:
    """Provision the cluster: channels, people, their bundles.

    \b
    A family's set-up on this machine:
      chok admin init --host 192.0.2.10     broker + channels 1 "Main", 2 "Secondary"
      chok admin add-user mum               writes mum.chok: give it to mum
      chok admin add-user dad --channels 1
    """


@admin_group.command("init")
@click.option(
    "--host",
    "hosts",
    multiple=True,
    metavar="NAME",
    help="Name or address other devices use to reach this broker (repeatable).",
)
@click.option(
    "--channels", "channel_count", default=2, show_default=True, help="How many channels."
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def init_cmd(hosts: tuple[str, ...], channel_count: int, as_json: bool) -> None:
    """Start the local broker if needed and create the channels' topics.

    Safe to run again: existing topics and channels are kept.
    """
    result = local.init(list(hosts), channel_count, info)
    if as_json:
        emit_json(asdict(result))
        return
    click.echo(f"broker: {result.bootstrap}" + (" (started)" if result.broker_started else ""))
    for channel in result.channels:
        click.echo(f"channel {channel.number}: {channel.name}")
    if result.topics_created:
        click.echo(f"created topics: {', '.join(result.topics_created)}")
    click.echo("next: `chok admin add-user NAME` for each person")


def parse_channel_list(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        numbers = [int(part) for part in value.split(",") if part.strip()]
    except ValueError as exc:
        raise UsageError(f"--channels takes numbers like 1,2 (got '{value}')") from exc
    if not numbers or any(n < 1 for n in numbers):
        raise UsageError(f"--channels takes channel numbers from 1 (got '{value}')")
    return sorted(set(numbers))


@admin_group.command("add-user")
@click.argument("name")
@click.option("--channels", metavar="1,2", help="Channels NAME belongs to (default: all).")
@click.option("--out", type=click.Path(path_type=Path), help="Bundle path (default: ./NAME.chok).")
@click.option("--force", is_flag=True, help="Re-issue the certificate of an existing user.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def add_user_cmd(
    name: str, channels: str | None, out: Path | None, force: bool, as_json: bool
) -> None:
    """Create NAME's certificate and access, and write their bundle NAME.chok.

    The bundle holds NAME's private key: hand it over privately (in person,
    or with `chok admin serve`), never by e-mail or chat.
    """
    bundle, record = local.add_user(name, parse_channel_list(channels), force)
    path = out or Path(f"{record.name}.chok")
    if path.is_dir():
        path = path / f"{record.name}.chok"
    write_private(path, bundle.to_zip())
    if as_json:
        emit_json({**asdict(record), "bundle": str(path)})
        return
    click.echo(f"user {record.name}: channels {', '.join(map(str, record.channels))}")
    click.echo(f"certificate valid until {record.cert_expires}")
    click.echo(f"bundle written to {path} (keep it private; on their machine: chok join {path})")
