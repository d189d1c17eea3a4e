"""Cost as the work grows, on a throwaway local broker: egress per listener
(idle and per second of speech), listeners on one machine, talkers on one
channel. ``chok bench --egress / --listeners / --talkers`` print the tables."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from chok.bench import egress, scale
from chok.channel.session import ChannelSession
from chok.kafka.producer import RecordProducer

Say = Callable[[str], None]
SPEECH_FRAMES = 333  # 20 s of speech, as in the measurement
HOSTED_BATCH_MS = 240


@dataclass
class Bench:
    ports: list[int]
    broker_pids: list[int]
    talkers: list[ChannelSession]
    packets: list[bytes]
    producers: list[RecordProducer]  # warm, one per session


@contextmanager
def throwaway_broker(say: Say, people: int) -> Iterator[Bench]:
    """A local broker in a throwaway CHOK_HOME with people p0..pN joined."""
    os.environ["CHOK_HOME"] = tempfile.mkdtemp(prefix="chok-bench-cost-")
    from chok import profiles
    from chok.bench.run import BENCH_TEXT
    from chok.broker import process
    from chok.channel.session import open_session
    from chok.codec import encode_pcm, make_speech
    from chok.protocol.bundle import read_bundle
    from chok.provision import local

    port = process.free_port_pair()
    say("starting the local broker...")
    status, _, _ = process.start(port=port, progress=say)
    try:
        local.init([], 1, say)
        sessions = []
        for index in range(people):
            name = f"p{index}"
            bundle, _ = local.add_user(name, None, force=True)
            profile = profiles.install(read_bundle(bundle.to_zip()), name, force=True)
            sessions.append(open_session(profile, 1))
        packets = encode_pcm(make_speech(BENCH_TEXT), flush=False)
        packets = (packets * (SPEECH_FRAMES // len(packets) + 1))[:SPEECH_FRAMES]
        pids = [n.pid for n in status.nodes if n.pid is not None]
        say("warming up the talkers' producers and the broker (not measured)...")
        yield Bench([port], pids, sessions, packets, scale.warm_producers(sessions, packets))
    finally:
        process.stop()


def egress_rows(say: Say, idle_s: float) -> list[egress.Egress]:
    with throwaway_broker(say, 2) as bench:
        talk, listener = bench.talkers[0], bench.talkers[1].profile_name
        makers: list[Callable[[], egress.ListenerProcess]] = [
            lambda: egress.chok_listen(listener, 1),
            lambda: egress.chok_listen(listener, 1, "--batch-ms", str(HOSTED_BATCH_MS)),
            lambda: egress.gui_listen(listener, bench.ports),
            lambda: egress.original_listen(listener, talk.audio_topic),
        ]
        rows = []
        for make in makers:
            process = make()
            say(f"{process.name}: {idle_s:.0f} s idle, then 20 s of speech...")
            rows.append(
                egress.measure(
                    process, bench.ports, talk, bench.packets, idle_s, bench.producers[0]
                )
            )
        return rows


@dataclass
class BatchLatency:
    batch_ms: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


def batch_latency_rows(
    say: Say, batches: tuple[int, ...] = (0, HOSTED_BATCH_MS)
) -> list[BatchLatency]:
    """What batching costs: live latency (sent -> decoded) with and without it."""
    from chok import profiles
    from chok.bench.measure import chok_live
    from chok.channel.session import open_session
    from chok.codec import decode_packets

    with throwaway_broker(say, 2) as bench:
        talk, listener = bench.talkers[0], profiles.load(bench.talkers[1].profile_name)
        speech = decode_packets(bench.packets)  # the same 20 s, as a microphone says them
        chok_live(talk, open_session(listener, 1), speech[: 40 * 2880])  # warm-up
        rows = []
        for batch in batches:
            say(f"live latency, --batch-ms {batch}: 20 s of speech...")
            latency, _ = chok_live(talk, open_session(listener, 1, batch), speech)
            rows.append(BatchLatency(batch, latency.p50, latency.p95, latency.p99))
        return rows


def batch_table(rows: list[BatchLatency]) -> str:
    lines = ["| --batch-ms | p50 ms | p95 ms | p99 ms |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.batch_ms} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | {r.p99_ms:.1f} |")
    return "\n".join(lines)


def listener_rows(say: Say, sizes: list[int]) -> list[scale.ScaleRow]:
    with throwaway_broker(say, 2) as bench:
        rows = []
        for size in sizes:
            say(f"{size} chok listen process(es), one talker, 20 s of speech...")
            listeners = scale.start_listeners(size, bench.talkers[1].profile_name, 1)
            try:
                rows.append(
                    scale.measure(
                        f"{size} listener(s)", listeners, bench.talkers[:1], bench.packets,
                        bench.broker_pids, bench.producers[:1],
                    )
                )  # fmt: skip
            finally:
                for listener in listeners:
                    listener.stop()
        return rows


def talker_rows(say: Say, sizes: list[int]) -> list[scale.ScaleRow]:
    with throwaway_broker(say, max(sizes) + 1) as bench:
        rows = []
        listener = scale.start_listeners(1, bench.talkers[-1].profile_name, 1)
        try:
            for size in sizes:
                say(f"{size} talker(s) at once, one chok listen, 20 s of speech...")
                rows.append(
                    scale.measure(
                        f"{size} talker(s)", listener, bench.talkers[:size], bench.packets,
                        bench.broker_pids, bench.producers[:size],
                    )
                )  # fmt: skip
        finally:
            listener[0].stop()
        return rows
