"""`chok broker`: the embedded local Apache Kafka broker."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import click

from chok.broker import process
from chok.broker.config import log_dir
from chok.cli.output import emit_json, human_duration, info


@click.group("broker")
def broker_group() -> None:
    """Run the local Apache Kafka broker (mTLS, ACLs) on this machine.

    The broker keeps its data in $CHOK_HOME/broker and survives stop/start.
    Kafka itself is downloaded once per machine from Maven Central.
    """


@broker_group.command("start")
@click.option("--port", type=int, help="Client port (TLS); the controller uses PORT+1.")
@click.option(
    "--host",
    "hosts",
    multiple=True,
    help="A name or address other devices use to reach this machine (repeatable). "
    "The first one is advertised to clients; with none, only this machine can connect.",
)
def start_cmd(port: int | None, hosts: tuple[str, ...]) -> None:
    """Start the broker in the background and wait until it accepts clients.

    \b
    Examples:
      chok broker start
      chok broker start --host 192.0.2.10 --port 29093
    """
    st, took, started = process.start(port=port, hosts=list(hosts), progress=info)
    if started:
        click.echo(f"broker ready at {st.address} in {took:.1f} s (Kafka {st.kafka_version})")
    else:
        click.echo(f"broker already running at {st.address} (pid {st.pid})")


@broker_group.command("stop")
def stop_cmd() -> None:
    """Stop the broker (its data stays)."""
    click.echo("broker stopped" if process.stop() else "broker was not running")


@broker_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def status_cmd(as_json: bool) -> None:
    """Show whether the broker runs, its address, Kafka version, data dir, uptime."""
    st = process.status()
    if as_json:
        emit_json(asdict(st))
        return
    state = "running" if st.running else "stopped"
    click.echo(f"state:    {state}" + (f" (pid {st.pid})" if st.pid else ""))
    click.echo(f"address:  {st.address or '-'}")
    click.echo(f"kafka:    {st.kafka_version}")
    click.echo(f"data:     {st.data_dir}")
    uptime = human_duration(st.uptime_s) if st.uptime_s is not None else "-"
    click.echo(f"uptime:   {uptime}")
    click.echo(f"log:      {st.log_file}")


@broker_group.command("logs")
@click.option("-n", "--lines", default=50, show_default=True, help="How many lines to show.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C to stop).")
def logs_cmd(lines: int, follow: bool) -> None:
    """Show the broker's log."""
    path = log_dir() / "server.log"
    if not path.exists():
        info("no broker log yet: start the broker with `chok broker start`")
        return
    for line in path.read_text(errors="replace").splitlines()[-lines:]:
        click.echo(line)
    if follow:
        _follow(path)


def _follow(path: Path) -> None:
    with path.open(errors="replace") as fh:
        fh.seek(0, 2)
        try:
            while True:
                line = fh.readline()
                if line:
                    click.echo(line.rstrip("\n"))
                else:
                    time.sleep(0.25)  # tail -f polling
        except KeyboardInterrupt:
            return
