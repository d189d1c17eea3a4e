"""`chok join`, `chok whoami`, `chok profiles`: this machine's identities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from chok import profiles
from chok.cli.output import emit_json
from chok.errors import BadBundleError, ChokError
from chok.kafka.admin import Admin
from chok.provision import pki
from chok.provision.bundle import read_bundle


@click.command("join")
@click.argument("source", metavar="FILE")
@click.option("--name", help="Profile name (default: the person's name in the bundle).")
@click.option("--force", is_flag=True, help="Replace an existing profile of that name.")
def join_cmd(source: str, name: str | None, force: bool) -> None:
    """Install a bundle (NAME.chok from your admin) as a profile on this machine.

    The newly joined profile becomes the default; others stay available
    with `--profile NAME`.
    """
    path = Path(source)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise BadBundleError(f"no such file: {source}") from exc
    except IsADirectoryError as exc:
        raise BadBundleError(f"{source} is a directory, not a bundle file") from exc
    profile = profiles.install(read_bundle(data, source), name, force)
    click.echo(
        f"joined as {profile.user} (profile '{profile.name}', broker {profile.config.broker_url})"
    )
    channels = ", ".join(f"{c.number} {c.name}" for c in profile.config.channels)
    click.echo(f"channels: {channels}")


@click.command("whoami")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--offline", is_flag=True, help="Do not check that the broker answers.")
@click.pass_obj
def whoami_cmd(obj: dict[str, Any], as_json: bool, offline: bool) -> None:
    """Show the active profile: who you are, the broker, your channels."""
    profile = profiles.active(obj.get("profile"))
    cert = (profile.path / profile.config.client_cert_asset).read_bytes()
    info: dict[str, Any] = {
        "profile": profile.name,
        "user": profile.user,
        "broker": profile.config.broker_url,
        "channels": [{"number": c.number, "name": c.name} for c in profile.config.channels],
        "certificate_expires": pki.expiry(cert).isoformat(timespec="seconds"),
        "profiles": profiles.names(),
    }
    if not offline:
        info["broker_reachable"], info["broker_error"] = _reachable(profile)
    if as_json:
        emit_json(info)
        return
    click.echo(f"you are:   {info['user']} (profile '{profile.name}')")
    click.echo(f"broker:    {info['broker']}")
    for channel in info["channels"]:
        click.echo(f"channel:   {channel['number']} {channel['name']}")
    click.echo(f"cert until {info['certificate_expires']}")
    if not offline:
        state = "yes" if info["broker_reachable"] else f"NO: {info['broker_error']}"
        click.echo(f"reachable: {state}")


def _reachable(profile: profiles.Profile) -> tuple[bool, str | None]:
    try:
        Admin(profile.credentials).ping(timeout=5.0)
    except ChokError as exc:
        return False, str(exc)
    return True, None


@click.command("profiles")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def profiles_cmd(as_json: bool) -> None:
    """List the profiles joined on this machine (* marks the default)."""
    default = profiles.default_name()
    if as_json:
        emit_json({"default": default, "profiles": profiles.names()})
        return
    for name in profiles.names():
        click.echo(("* " if name == default else "  ") + name)


COMMANDS: list[click.Command] = [join_cmd, whoami_cmd, profiles_cmd]
