"""`chok join`, `chok whoami`, `chok profiles`: this machine's identities."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import click

from chok import pki, profiles
from chok.channel import access, family
from chok.channel.store import Store
from chok.cli.output import emit_json
from chok.errors import (
    AccessDeniedError,
    AuthenticationError,
    BadBundleError,
    ChokError,
    KafkaError,
)
from chok.kafka import handshake
from chok.kafka.admin import Admin
from chok.protocol.bundle import read_bundle
from chok.protocol.people import shown
from chok.provision import handover


@click.command("join")
@click.argument("source", metavar="FILE|LINK|-")
@click.option("--name", help="Profile name (default: the person's name in the bundle).")
@click.option("--force", is_flag=True, help="Replace an existing profile of that name.")
def join_cmd(source: str, name: str | None, force: bool) -> None:
    """Install your bundle: a file (NAME.chok) or a link from `chok admin serve`.

    \b
    chok join alice.chok
    chok join 'http://192.0.2.10:8080/bundle/...#...'   (quote the link)
    chok join -            read the link from standard input, so that its
                           secret part never shows in the process list

    The newly joined profile becomes the default; others stay available
    with `--profile NAME`.
    """
    if source == "-":
        source = sys.stdin.readline().strip()
        if not handover.is_link(source):
            raise BadBundleError("standard input did not hold a bundle link")
    if handover.is_link(source):
        data = handover.fetch(handover.parse_link(source))
        where = "the downloaded bundle"
    else:
        data = _read_file(source)
        where = source
    profile = profiles.install(read_bundle(data, where), name, force)
    click.echo(
        f"joined as {profile.user} (profile '{profile.name}', broker {profile.config.broker_url})"
    )
    channels = ", ".join(f"{c.number} {c.name}" for c in profile.config.channels)
    click.echo(f"channels: {channels}")


def _read_file(source: str) -> bytes:
    path = Path(source)
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise BadBundleError(f"no such file: {source}") from exc
    except IsADirectoryError as exc:
        raise BadBundleError(f"{source} is a directory, not a bundle file") from exc
    except PermissionError as exc:
        raise BadBundleError(f"{source} is not readable by you") from exc
    except OSError as exc:
        raise BadBundleError(f"cannot read {source} ({exc.strerror})") from exc


@click.command("whoami")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--offline", is_flag=True, help="Do not check that the broker answers.")
@click.pass_obj
def whoami_cmd(obj: dict[str, Any], as_json: bool, offline: bool) -> None:
    """Show the active profile: who you are, the broker, your channels.

    The channels are the ones your admin lets you use now (granted or taken
    away since your bundle was made), unless --offline.
    """
    bundle_profile = profiles.active(obj.get("profile"))
    store = Store.for_profile(bundle_profile)
    if not offline and _accepted(bundle_profile):
        with contextlib.suppress(ChokError):  # the broker went away meanwhile: said below
            access.refresh(bundle_profile, store)
    profile = access.effective(bundle_profile, store)
    cert = (profile.path / profile.config.client_cert_asset).read_bytes()
    info: dict[str, Any] = {
        "profile": profile.name,
        "user": profile.user,
        "display_name": family.display_name_of(profile, store),
        "broker": profile.config.broker_url,
        "channels": [{"number": c.number, "name": c.name} for c in profile.config.channels],
        "certificate_expires": pki.expiry(cert).isoformat(timespec="seconds"),
        "profiles": profiles.names(),
    }
    if not offline:
        info.update(_access(profile))
    if as_json:
        emit_json(info)
        return
    shown_as = f", shown as {shown(info['display_name'])}" if info["display_name"] else ""
    click.echo(f"you are:   {info['user']}{shown_as} (profile '{profile.name}')")
    click.echo(f"broker:    {info['broker']}")
    for channel in info["channels"]:
        click.echo(f"channel:   {channel['number']} {channel['name']}")
    click.echo(f"cert until {info['certificate_expires']}")
    if not offline:
        reachable = "yes" if info["broker_reachable"] else f"NO: {info['broker_error']}"
        click.echo(f"reachable: {reachable}")
        state = info["access"]
        said = "ok" if state == "ok" else f"{state.upper()}: {info['access_error']}"
        click.echo(f"access:    {said}")


def _accepted(profile: profiles.Profile) -> bool:
    """The broker takes this certificate (one TLS handshake): only then is the
    admin's access record worth waiting for (a refused or unreachable broker
    would hold whoami for the reader's whole timeout, 10 s)."""
    return handshake.probe(profile.credentials).verdict is handshake.Verdict.ACCEPTED


def _access(profile: profiles.Profile) -> dict[str, Any]:
    """Whether the broker answers, and what it lets this certificate do:
    ok, refused (the TLS handshake), revoked (no channel left), denied (some
    channels), or unknown (the broker could not be asked)."""

    def report(reachable: bool, access: str, error: ChokError | None) -> dict[str, Any]:
        text = str(error) if error else None
        return {
            "broker_reachable": reachable,
            "broker_error": None if reachable else text,
            "access": access,
            "access_error": text if access != "ok" else None,
        }

    try:
        handshake.check(profile.credentials)
    except AuthenticationError as exc:
        return report(True, "refused", exc)
    except KafkaError as exc:
        return report(False, "unknown", exc)
    topics = [t for c in profile.config.channels for t in (c.audio_topic, c.metadata_topic)]
    try:
        admin = Admin(profile.credentials, timeout=5.0)
        admin.ping(timeout=5.0)
    except ChokError as exc:
        return report(False, "unknown", exc)
    try:
        admin.verify_access(topics)
    except AccessDeniedError as exc:
        return report(True, "revoked" if "revoked" in exc.message else "denied", exc)
    except ChokError as exc:
        return report(True, "unknown", exc)
    return report(True, "ok", None)


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
