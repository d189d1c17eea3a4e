"""Run every benchmark on an isolated local broker and build the table."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from chok.profiles import Profile

Say = Callable[[str], None]

BENCH_TEXT = (
    "Hello, this is chok calling. Dinner is at seven tonight, and please bring "
    "some bread on your way home. The weather looks fine for the weekend. Over."
)


@dataclass
class Row:
    metric: str
    chok: float
    original: float
    unit: str
    target: str


def run_all(say: Say, frames: int, runs: int, timeline_size: int, isolated: bool) -> list[Row]:
    return on_local_broker(isolated, lambda: _measure(say, frames, runs, timeline_size, isolated))


T = TypeVar("T")


def on_local_broker(isolated: bool, measure: Callable[[], T]) -> T:
    """Run ``measure`` with a throwaway CHOK_HOME (and its broker, stopped after)."""
    if isolated:
        os.environ["CHOK_HOME"] = tempfile.mkdtemp(prefix="chok-bench-")
    from chok.broker import process

    started_here = not process.status().running
    try:
        return measure()
    finally:
        if isolated and started_here:
            process.stop()


def family(say: Say, isolated: bool, names: tuple[str, ...], channels: int = 3) -> list[Profile]:
    """Start the local broker, create the channels, provision and join ``names``."""
    from chok import profiles
    from chok.broker.process import free_port_pair, start
    from chok.protocol.bundle import read_bundle
    from chok.provision import local

    port = free_port_pair() if isolated else None
    say("starting the local broker...")
    start(port=port, progress=say)
    local.init([], channels, say)
    joined = []
    for name in names:  # family-sized names: the key is on every record
        bundle, _ = local.add_user(name, None, force=True)
        joined.append(profiles.install(read_bundle(bundle.to_zip()), name, force=True))
    return joined


def _measure(say: Say, frames: int, runs: int, timeline_size: int, isolated: bool) -> list[Row]:
    import numpy as np

    from chok.bench import measure as m
    from chok.channel.session import open_session
    from chok.codec import encode_pcm, make_speech

    sessions = family(say, isolated, ("ann", "ben"))
    talk, listen = open_session(sessions[0], 1), open_session(sessions[1], 1)
    speech = make_speech(BENCH_TEXT)
    # The same speech for both: chok says it through its press runtime (and
    # encodes it), the original-like client sends the very same Opus packets.
    said = np.tile(speech, -(-frames * 2880 // speech.size))[: frames * 2880]
    packets = encode_pcm(said, flush=False)
    rows: list[Row] = []
    say("warming up the broker's JVM with both clients (not measured)...")
    m.chok_live(talk, listen, said[: 40 * 2880])
    m.original_live(talk, listen, packets[:40])
    say(f"live latency: {frames} frames ({frames * 0.06:.0f} s of speech) per client...")
    chok_lat, chok_wire = m.chok_live(talk, listen, said)
    orig_lat, orig_wire = m.original_live(talk, listen, packets)
    for name, attr in (("p50", "p50"), ("p95", "p95"), ("p99", "p99")):
        target = "<= 50" if name == "p99" else ""
        rows.append(
            Row(
                f"live latency {name}",
                getattr(chok_lat, attr),
                getattr(orig_lat, attr),
                "ms",
                target,
            )
        )
    say(f"tune-in: {runs} runs per client...")
    chok_tune, orig_tune = m.tune_in(listen, runs)
    rows.append(
        Row("tune-in (median)", m.median_ms(chok_tune), m.median_ms(orig_tune), "ms", "<= 500")
    )
    rows.append(Row("tune-in (max)", max(chok_tune) * 1000, max(orig_tune) * 1000, "ms", ""))
    say(f"timeline: writing {timeline_size} transmissions...")
    timeline_session = open_session(sessions[1], 3)
    m.fill_timeline(timeline_session, timeline_size)
    chok_tl, orig_tl = m.timeline_load(timeline_session, timeline_size, 3)
    rows.append(
        Row(
            f"timeline load, {timeline_size} tx",
            m.median_ms(chok_tl),
            m.median_ms(orig_tl),
            "ms",
            "<= 1000",
        )
    )
    say("replay: asked -> first decoded frame...")
    from chok.channel.timeline import load_timeline

    newest = load_timeline(listen).entries[0]
    chok_rp, orig_rp = m.replay_first(listen, newest.id, runs)
    rows.append(
        Row("replay to first frame", m.median_ms(chok_rp), m.median_ms(orig_rp), "ms", "<= 200")
    )
    rows.append(
        Row("wire bytes / s of speech", chok_wire / 1000, orig_wire / 1000, "KB/s", "<= 4.25")
    )
    score = m.pesq_wb(speech)
    rows.append(Row("PESQ-WB, espeak-ng voice", score, score, "MOS-LQO", ">= 3.5"))
    human_like = m.flite_speech(BENCH_TEXT)
    if human_like is not None:
        score = m.pesq_wb(human_like)
        rows.append(Row("PESQ-WB, flite voice", score, score, "MOS-LQO", ">= 3.5"))
    return rows


def table(rows: list[Row]) -> str:
    head = f"| {'metric':<30} | {'chok':>9} | {'original-like':>13} | {'unit':<7} | {'target':<8} |"
    sep = "|" + "-" * 32 + "|" + "-" * 11 + "|" + "-" * 15 + "|" + "-" * 9 + "|" + "-" * 10 + "|"
    lines = [head, sep]
    width = max([30, *(len(r.metric) for r in rows)])
    head = head.replace(f"{'metric':<30}", f"{'metric':<{width}}")
    sep = "|" + "-" * (width + 2) + sep[33:]
    lines = [head, sep]
    for r in rows:
        orig = "-" if r.original != r.original else f"{r.original:.2f}"  # NaN: no equivalent
        cells = f"{r.chok:>9.2f} | {orig:>13} | {r.unit:<7} | {r.target:<8}"
        lines.append(f"| {r.metric:<{width}} | {cells} |")
    return "\n".join(lines)


def as_json(rows: list[Row]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]
