"""`chok broker`: the embedded local Apache Kafka broker."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import click

from chok.broker import config, process
from chok.cli.output import emit_json, human_duration, info
from chok.errors import UsageError


@click.group("broker")
def broker_group() -> None:
    """Run the local Apache Kafka broker (mTLS, ACLs) on this machine.

    The broker keeps its data in $CHOK_HOME/broker and survives stop/start.
    Kafka itself is downloaded once per machine from Maven Central. With
    --nodes 3 it is a replicated cluster of three nodes on this machine.
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
@click.option(
    "--nodes",
    type=click.IntRange(1, config.MAX_NODES),
    help="On the first start: how many nodes (3 = a replicated cluster; default 1).",
)
@click.option("--node", "node", type=int, metavar="ID", help="Start only this node.")
def start_cmd(
    port: int | None, hosts: tuple[str, ...], nodes: int | None, node: int | None
) -> None:
    """Start the broker in the background and wait until it accepts clients.

    A cluster's nodes are ready once each holds a full copy of its
    partitions again, so restarting them one by one loses nothing.

    \b
    Examples:
      chok broker start
      chok broker start --host 192.0.2.10 --port 29093
      chok broker start --nodes 3          three nodes, ports 29093..29098
      chok broker start --node 2           bring node 2 back
    """
    if node is not None and nodes is not None:
        raise UsageError("give --nodes (the cluster's size) or --node (one node), not both")
    st, took, started = process.start(
        port=port, hosts=list(hosts), progress=info, nodes=nodes, node=node
    )
    which = f"node {node}" if node is not None else "broker"
    if started:
        click.echo(f"{which} ready at {st.address} in {took:.1f} s (Kafka {st.kafka_version})")
    else:
        click.echo(f"{which} already running at {st.address} (pid {_pid_of(st, node)})")


def _pid_of(st: process.Status, node: int | None) -> int | None:
    return next((n.pid for n in st.nodes if n.id == node), None) if node else st.pid


@broker_group.command("stop")
@click.option("--node", "node", type=int, metavar="ID", help="Stop only this node.")
def stop_cmd(node: int | None) -> None:
    """Stop the broker, or one node of a cluster (the data stays)."""
    which = f"node {node}" if node is not None else "broker"
    click.echo(f"{which} stopped" if process.stop(node=node) else f"{which} was not running")


@broker_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def status_cmd(as_json: bool) -> None:
    """Show whether the broker runs, its address, Kafka version, data dir, uptime."""
    st = process.status()
    if as_json:
        emit_json(asdict(st))
        return
    up = [n for n in st.nodes if n.state == "running"]
    if len(st.nodes) == 1:
        state = ("running" if st.running else "stopped") + (f" (pid {st.pid})" if st.pid else "")
    else:
        state = f"{len(up)} of {len(st.nodes)} nodes running"
    click.echo(f"state:    {state}")
    if len(st.nodes) > 1:
        for n in st.nodes:
            role = ", active controller" if n.controller else ""
            pid = f" (pid {n.pid}{role})" if n.pid else ""
            click.echo(f"node {n.id}:   {n.state}, port {n.port}{pid}")
    click.echo(f"address:  {st.address or '-'}")
    click.echo(f"kafka:    {st.kafka_version}")
    click.echo(f"data:     {st.data_dir}")
    uptime = human_duration(st.uptime_s) if st.uptime_s is not None else "-"
    click.echo(f"uptime:   {uptime}")
    click.echo(f"log:      {st.log_file}")


@broker_group.command("logs")
@click.option("-n", "--lines", default=50, show_default=True, help="How many lines to show.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C to stop).")
@click.option("--node", "node", type=int, default=1, show_default=True, help="Which node's log.")
def logs_cmd(lines: int, follow: bool, node: int) -> None:
    """Show the broker's log."""
    settings = config.load_settings() or config.BrokerSettings()
    if node not in settings.node_ids():
        raise UsageError(f"there is no node {node}")
    path = config.node_paths(settings, node).logs / "server.log"
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
