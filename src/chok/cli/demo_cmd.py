"""`chok demo`: see chok work end to end on this machine."""

from __future__ import annotations

import click

from chok.cli.common import device_option
from chok.errors import AudioDeviceError


@click.command("demo")
@device_option
@click.option("--no-play", is_flag=True, help="Do not play the replay through the speaker.")
def demo_cmd(device: str | None, no_play: bool) -> None:
    """Run the whole walkie-talkie on the local broker, step by step.

    Starts the embedded broker, provisions alice and bob, alice talks, bob
    hears her live and saves it, reacts, shows the timeline and replays.
    Afterwards you are alice: try `chok whoami`, `chok timeline`,
    `chok --profile bob listen`.
    """
    from chok.demo import run_demo

    speaker = None
    if not no_play:
        from chok.audio import open_output

        try:
            speaker = open_output(device)
        except AudioDeviceError as exc:
            click.echo(f"(no sound: {exc}; replaying silently)")
    result = run_demo(click.echo, speaker)
    click.echo("")
    click.echo(f"done. You are now 'alice' on {result.bootstrap}. Next:")
    click.echo("  chok whoami                      who you are, which channels")
    click.echo("  chok timeline                    the recordings")
    click.echo("  chok talk --file speech.wav      send a file (or --seconds 5 from the mic)")
    click.echo("  chok --profile bob listen        listen live as bob")
