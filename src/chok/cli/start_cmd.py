"""`chok start` and `chok devices`: the newcomer's entry point and sound devices."""

from __future__ import annotations

import os
from dataclasses import asdict

import click

from chok.cli.output import emit_json


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or (
        os.environ.get("QT_QPA_PLATFORM") not in (None, "", "offscreen", "minimal")
    )


@click.command("start")
@click.pass_context
def start_cmd(ctx: click.Context) -> None:
    """Open the desktop app where there is a display, else run the headless demo.

    On first use the app asks for your bundle (file or link) to join.
    """
    from chok.cli.demo_cmd import demo_cmd

    if not has_display():
        click.echo("no display here: running the headless demo (`chok gui` needs a screen)")
        ctx.invoke(demo_cmd, device=None, no_play=False)
        return
    from chok.cli.gui_cmd import gui_cmd

    ctx.invoke(gui_cmd)


@click.command("devices")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def devices_cmd(as_json: bool) -> None:
    """List sound devices (for --device NAME or NUMBER)."""
    from chok.audio import list_devices

    devices = list_devices()
    if as_json:
        emit_json([asdict(d) for d in devices])
        return
    if not devices:
        click.echo("no sound devices found (listening still works with --no-play or --save DIR)")
    for d in devices:
        roles = ("in " if d.max_input_channels else "   ") + (
            "out" if d.max_output_channels else "   "
        )
        default = " (default)" if d.is_default_input or d.is_default_output else ""
        click.echo(f"{d.index:>3}  {roles}  {d.name} [{d.host_api}]{default}")
