"""`chok gui`: the desktop walkie-talkie."""

from __future__ import annotations

from typing import Any

import click

from chok.cli.common import channel_option


@click.command("gui")
@channel_option
@click.option(
    "--input",
    "input_device",
    envvar="CHOK_AUDIO_INPUT",
    metavar="DEVICE",
    help="Microphone: a device name or number, 'none' (listen only), or file:AUDIO "
    "(each press talks that file). Env: CHOK_AUDIO_INPUT. Default: as in Settings.",
)
@click.option(
    "--output",
    "output_device",
    envvar="CHOK_AUDIO_OUTPUT",
    metavar="DEVICE",
    help="Speaker: a device name or number, or 'null' (no sound). Env: CHOK_AUDIO_OUTPUT.",
)
@click.option(
    "--minimized",
    is_flag=True,
    help="Start in the tray (a minimised window where the desktop has no tray).",
)
@click.pass_obj
def gui_cmd(
    obj: dict[str, Any],
    channel: int | None,
    input_device: str | None,
    output_device: str | None,
    minimized: bool,
) -> int:
    """Open the desktop app: hold the big button (or Space) to talk.

    \b
    First start: join with the .chok file or link from your admin.
    Then: hear whoever talks, scroll back through the timeline, replay,
    react, save recordings. Keys: F1 in the app.
    """
    from chok.gui import run_app

    return run_app(obj.get("profile"), channel, input_device, output_device, minimized)
