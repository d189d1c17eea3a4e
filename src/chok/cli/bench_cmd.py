"""`chok bench`: measure chok beside a client that behaves like the original app."""

from __future__ import annotations

from typing import Any

import click

from chok.cli.output import emit_json, info
from chok.errors import UsageError


@click.command("bench")
@click.option(
    "--frames", default=250, show_default=True, help="Live frames per client (60 ms each)."
)
@click.option("--runs", default=10, show_default=True, help="Repetitions of tune-in and replay.")
@click.option(
    "--timeline",
    "timeline_size",
    default=10_000,
    show_default=True,
    help="Transmissions in the timeline test.",
)
@click.option(
    "--here", is_flag=True, help="Use this CHOK_HOME's broker instead of a throwaway one."
)
@click.option(
    "--broker-start",
    "broker_starts",
    type=int,
    metavar="N",
    help="Instead: time N starts of the local broker (until mTLS clients work).",
)
@click.option(
    "--private",
    "private",
    is_flag=True,
    help="Instead: an open and a private channel side by side (signatures, sealing).",
)
@click.option(
    "--family",
    "family_bench",
    is_flag=True,
    help="Instead: the timeline cache, presence and heard-by (use --timeline 100000).",
)
@click.option(
    "--traffic-seconds", default=120.0, show_default=True, help="--family: idle time measured."
)
@click.option("--people", default=4, show_default=True, help="--family: people in the family.")
@click.option(
    "--scan",
    is_flag=True,
    help="Instead: CPU, memory and connections of hearing 1 vs 3 channels; replay at speed.",
)
@click.option(
    "--outage",
    "outage_s",
    type=float,
    metavar="S",
    help="Instead: kill a throwaway broker mid-talk for S seconds (frames lost, time to timeline).",
)
@click.option(
    "--press",
    "presses",
    type=int,
    metavar="N",
    help="Instead: N holds per case through the virtual sound devices: audio lost at "
    "press and release, press to permit cue, mouth to ear (chok talk and the app).",
)
@click.option(
    "--nodes",
    type=click.IntRange(1, 9),
    default=1,
    show_default=True,
    help="With --broker-start: nodes of the cluster started.",
)
@click.option(
    "--egress", is_flag=True, help="Instead: broker bytes out per listener, idle and talking."
)
@click.option("--idle-seconds", default=30.0, show_default=True, help="With --egress: idle window.")
@click.option(
    "--listeners",
    "listener_sizes",
    metavar="N,N,...",
    help="Instead: that many `chok listen` processes at once (e.g. 1,10,50).",
)
@click.option(
    "--talkers",
    "talker_sizes",
    metavar="N,N,...",
    help="Instead: that many people talking at once on one channel (e.g. 1,5,20).",
)
@click.option(
    "--failover",
    "failover_runs",
    type=int,
    metavar="RUNS",
    help="Instead: kill the leader mid-talk on a three-node cluster RUNS times.",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def bench_cmd(
    frames: int,
    runs: int,
    timeline_size: int,
    here: bool,
    broker_starts: int | None,
    private: bool,
    family_bench: bool,
    traffic_seconds: float,
    people: int,
    scan: bool,
    outage_s: float | None,
    presses: int | None,
    nodes: int,
    egress: bool,
    idle_seconds: float,
    listener_sizes: str | None,
    talker_sizes: str | None,
    failover_runs: int | None,
    as_json: bool,
) -> None:
    """Measure live latency, tune-in, timeline load, replay start and bytes on the wire.

    Runs on a throwaway local mTLS broker (unless --here), chok and an
    original-app-like client side by side, and prints a table. The other
    measurements (--broker-start, --egress, --listeners, --talkers,
    --failover) run one at a time, each on a throwaway broker or cluster.
    """
    from chok.bench.run import as_json as rows_json
    from chok.bench.run import run_all, table

    if broker_starts is not None:
        from chok.bench.broker_start import measure_starts

        result = measure_starts(broker_starts, info, nodes)
        if as_json:
            emit_json(result)
        else:
            for name, value in result.items():
                click.echo(f"{name}: {value:.2f}")
        return
    if egress or listener_sizes or talker_sizes or failover_runs:
        _cost(egress, idle_seconds, listener_sizes, talker_sizes, failover_runs, as_json)
        return

    if private:
        from dataclasses import asdict

        from chok.bench.private import run_private
        from chok.bench.private import table as private_table

        private_rows = run_private(info, frames, runs, timeline_size, isolated=not here)
        if as_json:
            emit_json([asdict(r) for r in private_rows])
        else:
            click.echo(private_table(private_rows))
        return

    if scan:
        from chok.bench.scan import run_scan, scan_table

        scan_rows = run_scan(info, runs, isolated=not here)
        if as_json:
            emit_json(scan_rows)
        else:
            click.echo(scan_table(scan_rows))
        return

    if outage_s is not None:
        from chok.bench.outage import measure_outage

        outcome = measure_outage(info, outage_s).rows()
        if as_json:
            emit_json(outcome)
        else:
            for name, value in outcome.items():
                shown = f"{value:.2f}" if isinstance(value, float) else str(value)
                click.echo(f"{name}: {shown}")
        return

    if presses is not None:
        _press(presses, here, as_json)
        return
    if family_bench:
        from chok.bench.family import run_family

        rows = run_family(info, timeline_size, traffic_seconds, people, isolated=not here)
    else:
        rows = run_all(info, frames, runs, timeline_size, isolated=not here)
    if as_json:
        emit_json(rows_json(rows))
    else:
        click.echo(table(rows))


def _press(trials: int, here: bool, as_json: bool) -> None:
    from dataclasses import asdict

    from chok.bench.press import AppDriver, run_press, table

    app: AppDriver | None
    try:
        from chok.gui.press_bench import app_cases

        app = app_cases
    except ImportError:  # no PySide6: the app's cases are left out
        info("PySide6 is not installed: measuring chok talk only")
        app = None
    rows = run_press(info, trials, isolated=not here, app=app)
    if as_json:
        emit_json([asdict(r) for r in rows])
    else:
        click.echo(table(rows))


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError as exc:
        raise UsageError(f"expected sizes like 1,10,50, not {text!r}") from exc
    if not sizes or min(sizes) < 1:
        raise UsageError(f"sizes must be 1 or more, not {text!r}")
    return sizes


def _cost(
    egress: bool,
    idle_s: float,
    listener_sizes: str | None,
    talker_sizes: str | None,
    failover_runs: int | None,
    as_json: bool,
) -> None:
    from dataclasses import asdict

    from chok.bench import cost, failover, scale
    from chok.bench import egress as egress_bench

    rows: list[Any]
    if egress:
        rows = cost.egress_rows(info, idle_s)
        batches = cost.batch_latency_rows(info)
        text = egress_bench.table(rows) + "\n\n" + cost.batch_table(batches)
        rows = [*rows, *batches]
    elif listener_sizes:
        rows = cost.listener_rows(info, _sizes(listener_sizes))
        text = scale.table(rows)
    elif talker_sizes:
        rows = cost.talker_rows(info, _sizes(talker_sizes))
        text = scale.table(rows)
    else:
        assert failover_runs is not None
        if failover_runs < 1:
            raise UsageError("--failover takes 1 run or more")
        rows = failover.run_all(failover_runs, info)
        text = failover.summary(rows)
    if as_json:
        emit_json([asdict(r) for r in rows])
    else:
        click.echo(text)
