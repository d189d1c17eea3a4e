"""`chok admin` commands about people: add, list, bundles, rotation, revocation."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from chok.cli.output import emit_json
from chok.errors import UsageError
from chok.home import StagedFile, check_writable
from chok.protocol.bundle import Bundle
from chok.provision import android, registry, service


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


def _public(record: registry.UserRecord) -> dict[str, Any]:
    """A user record as shown to anyone: it holds no secret."""
    return asdict(record)


class BundleFile:
    """A bundle written as part of an admin change (service.BundleSink): staged
    in the target folder first, so a folder that is missing, read-only or full
    stops the change before anyone is created."""

    def __init__(self, name: str, out: Path | None) -> None:
        path = out or Path(f"{name}.chok")
        self.path = path / f"{name}.chok" if path.is_dir() else path
        self._staged: StagedFile | None = None
        self._committed = False

    def stage(self, bundle: Bundle) -> None:
        check_writable(self.path, "write the bundle")
        self._staged = StagedFile(self.path, bundle.to_zip(), mode=0o600)

    def commit(self) -> None:
        assert self._staged is not None, "stage() first"
        self._staged.commit()
        self._committed = True

    def discard(self) -> None:
        if self._staged is not None:
            self._staged.discard()
        if self._committed:
            self.path.unlink(missing_ok=True)


def _report(record: registry.UserRecord, path: Path, as_json: bool, what: str) -> None:
    if as_json:
        emit_json({**_public(record), "bundle": str(path)})
        return
    click.echo(f"{what} {record.name}: channels {', '.join(map(str, record.channels))}")
    click.echo(f"certificate valid until {record.cert_expires}")
    click.echo(f"bundle written to {path} (keep it private; on their machine: chok join {path})")
    click.echo(f"or hand it over on this network: chok admin serve {record.name}")


_out_option = click.option(
    "--out", type=click.Path(path_type=Path), help="Bundle path (default: ./NAME.chok)."
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


@click.command("add-user")
@click.argument("name")
@click.option("--channels", metavar="1,2", help="Channels NAME belongs to (default: all).")
@_out_option
@click.option("--force", is_flag=True, help="Start an existing user afresh: new certificate.")
@click.option(
    "--display-name", metavar="TEXT", help='What the family sees, e.g. "Grandma Jo" (UTF-8).'
)
@_json_option
def add_user_cmd(
    name: str,
    channels: str | None,
    out: Path | None,
    force: bool,
    display_name: str | None,
    as_json: bool,
) -> None:
    """Create NAME's certificate and access, and write their bundle NAME.chok.

    The bundle holds NAME's private key: hand it over privately (in person,
    or with `chok admin serve`), never by e-mail or chat.
    """
    target = BundleFile(name, out)
    _, record = service.add_user(
        name, parse_channel_list(channels), force, target, display_name=display_name
    )
    _report(record, target.path, as_json, "user")


@click.command("list-users")
@_json_option
def list_users_cmd(as_json: bool) -> None:
    """List people: channels, when added, certificate expiry, revoked or not."""
    users = service.list_users()
    if as_json:
        emit_json([_public(u) for u in users])
        return
    if not users:
        click.echo("no users yet: `chok admin add-user NAME`")
        return
    click.echo(f"{'name':<16} {'channels':<10} {'created':<20} {'cert until':<20} state")
    for u in users:
        state = f"REVOKED {u.revoked_at[:10]}" if u.revoked else f"active (gen {u.generation})"
        chans = ",".join(map(str, u.channels))
        click.echo(
            f"{u.name:<16} {chans:<10} {u.created[:19]:<20} {u.cert_expires[:19]:<20} {state}"
        )


@click.command("get-bundle")
@click.argument("name")
@click.option("--rotate", is_flag=True, help="Issue a new certificate; the old one stops working.")
@_out_option
@_json_option
def get_bundle_cmd(name: str, rotate: bool, out: Path | None, as_json: bool) -> None:
    """Write NAME's bundle again (same certificate, current channels)."""
    target = BundleFile(name, out)
    _, record = service.get_bundle(name, rotate=rotate, sink=target)
    _report(record, target.path, as_json, "bundle of")


@click.command("rotate-user")
@click.argument("name")
@_out_option
@_json_option
def rotate_user_cmd(name: str, out: Path | None, as_json: bool) -> None:
    """Give NAME a new certificate; their old one stops working at once."""
    target = BundleFile(name, out)
    _, record = service.rotate_user(name, target)
    _report(record, target.path, as_json, "new certificate for")


@click.command("revoke-user")
@click.argument("name")
@_json_option
def revoke_user_cmd(name: str, as_json: bool) -> None:
    """Shut NAME out at once: their certificate no longer opens any channel."""
    record = service.revoke_user(name)
    if as_json:
        emit_json(_public(record))
        return
    click.echo(f"{record.name} is revoked (since {record.revoked_at}): their clients are refused")


@click.command("android-assets")
@click.argument("name")
@click.argument("directory", type=click.Path(path_type=Path))
@_json_option
def android_assets_cmd(name: str, directory: Path, as_json: bool) -> None:
    """Write NAME's files for the original Android app's build into DIRECTORY.

    \b
    DIRECTORY is the app's app/src/main/assets. Then build it with the
    printed property, e.g.:  ./gradlew assembleDebug -PCHOK_USER_ID=NAME
    """
    files, gradle_property, left_out = android.write_assets(name, directory)
    if as_json:
        emit_json(
            {
                "files": [str(f) for f in files],
                "gradle_property": gradle_property,
                "private_channels_left_out": left_out,
            }
        )
        return
    for path in files:
        click.echo(f"wrote {path}")
    if left_out:
        numbers = ", ".join(str(n) for n in left_out)
        click.echo(
            f"left out private channel(s) {numbers}: the Android app cannot decrypt them "
            "(use chok there)"
        )
    click.echo(f"build the app with: ./gradlew assembleDebug {gradle_property}")


@click.command("set-name")
@click.argument("name")
@click.argument("display_name", metavar="DISPLAY_NAME")
@_json_option
def set_name_cmd(name: str, display_name: str, as_json: bool) -> None:
    """Give person NAME the display name the family sees (they may change it)."""
    record = service.set_display_name(name, display_name)
    if as_json:
        emit_json(_public(record))
        return
    click.echo(f"{record.name} is now shown as {record.display_name}")


COMMANDS: list[click.Command] = [
    add_user_cmd,
    set_name_cmd,
    list_users_cmd,
    get_bundle_cmd,
    rotate_user_cmd,
    revoke_user_cmd,
    android_assets_cmd,
]
