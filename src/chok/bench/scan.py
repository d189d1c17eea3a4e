"""`chok bench --scan`: what hearing several channels costs, and replay at speed.

Each listener runs in a child process of its own (``python -m chok.bench.scan``)
so its CPU time and memory are its own, not the talkers': one consumer for N
channels (scan) beside N consumers (one listener per channel). Connections
are the child's established TCP sockets to the broker.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Say = Callable[[str], None]
IDLE_S, TALK_S = 10.0, 10.0


def broker_connections(port: int) -> int:
    """This process's established TCP connections to ``port`` (Linux /proc)."""
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01" and fields[9] in inodes:
                count += 1
    return count


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _child(profile: str, channels: list[int], mode: str, seconds: float) -> dict[str, Any]:
    """(In the child) listen for ``seconds``; report CPU, memory, connections."""
    from chok import profiles
    from chok.channel.monitor import MonitorService
    from chok.channel.scan import ScanGate, ScanSettings
    from chok.channel.service import ListenService
    from chok.channel.session import open_session

    person = profiles.load(profile)
    sessions = [open_session(person, n) for n in channels]
    events = [0]

    def count(_event: object) -> None:
        events[0] += 1

    stop: list[Callable[[], None]] = []
    if mode == "scan":
        gate = ScanGate(ScanSettings(tuple(channels)), time.monotonic)
        stop.append(MonitorService(sessions, gate, on_event=count).start().stop)
    else:
        for session in sessions:
            stop.append(ListenService(session, on_event=count).start().stop)
    print("ready", flush=True)
    cpu0, wall0 = time.process_time(), time.monotonic()
    time.sleep(seconds)  # the listeners work on their threads meanwhile
    cpu = time.process_time() - cpu0
    port = int(person.config.broker_url.rsplit(":", 1)[1])
    result = {
        "cpu_percent": 100 * cpu / (time.monotonic() - wall0),
        "rss_mb": rss_mb(),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "connections": broker_connections(port),
        "events": events[0],
    }
    for halt in stop:
        halt()
    return result


def _measure_child(
    profile: str, channels: list[int], mode: str, seconds: float, during: Callable[[], None]
) -> dict[str, Any]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "chok.bench.scan", profile, ",".join(map(str, channels)), mode,
         str(seconds)],
        stdout=subprocess.PIPE, text=True, env=os.environ.copy(),
    )  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.readline()  # "ready": tuned in
    during()
    out, _ = proc.communicate(timeout=seconds + 60)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _talk_on(sessions: list[Any], packets: list[bytes], seconds: float) -> Callable[[], None]:
    """Someone talking in real time on each channel, for ``seconds``."""

    def run() -> None:
        from chok.channel.talk import Talker

        def one(session: Any) -> None:
            talker = Talker(session)
            began = time.monotonic()
            for index in range(int(seconds / 0.06)):
                time.sleep(max(0.0, began + index * 0.06 - time.monotonic()))
                talker.send_packet(packets[index % len(packets)])
            talker.end()

        threads = [threading.Thread(target=one, args=(s,)) for s in sessions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    return run


def replay_start_ms(session: Any, tx: Any, speed: float, runs: int) -> float:
    """Asked to play (record known) to the first audio ready for the speaker, median."""
    from chok.channel.replay import replay_frames
    from chok.codec import OpusDecoder
    from chok.codec.tempo import Tempo

    times = []
    for _ in range(runs):
        began = time.perf_counter()
        decoder, tempo = OpusDecoder(tx.frame_ms), Tempo(speed)
        for frame in replay_frames(session, tx):
            if tempo.process(decoder.decode(frame.packet)).size:
                break
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def run_scan(say: Say, runs: int, isolated: bool) -> list[dict[str, Any]]:
    """On a throwaway local broker (unless not ``isolated``) with channels 1..3."""
    import tempfile

    if isolated:
        os.environ["CHOK_HOME"] = tempfile.mkdtemp(prefix="chok-bench-scan-")
    from chok.broker import process
    from chok.provision import local

    started_here = not process.status().running
    try:
        say("starting the local broker...")
        process.start(port=process.free_port_pair() if isolated else None, progress=say)
        local.init([], 3, say)
        return run_scan_bench(say, runs)
    finally:
        if isolated and started_here:
            process.stop()


def run_scan_bench(say: Say, runs: int) -> list[dict[str, Any]]:
    """On the running local broker with channels 1..3."""
    from chok import profiles
    from chok.channel.session import open_session
    from chok.channel.talk import Talker
    from chok.codec import encode_pcm, make_speech
    from chok.protocol.bundle import read_bundle
    from chok.provision import local

    people = []
    for name in ("scanner", "tina", "tom", "tess"):
        channels = [1, 2, 3] if name == "scanner" else None
        bundle, _ = local.add_user(name, channels, force=True)
        people.append(profiles.install(read_bundle(bundle.to_zip()), name, force=True))
    scanner = people[0].name
    packets = encode_pcm(make_speech("Testing one two three, can you hear me. Over."), flush=False)
    talkers = [open_session(p, n) for p, n in zip(people[1:], (1, 2, 3), strict=True)]
    rows = []
    for mode, channels in (("scan", [1]), ("scan", [1, 2, 3]), ("one-per-channel", [1, 2, 3])):
        say(f"{mode}, {len(channels)} channel(s): idle {IDLE_S:.0f} s, then talk {TALK_S:.0f} s")
        idle = _measure_child(scanner, channels, mode, IDLE_S, lambda: None)
        busy = _measure_child(
            scanner, channels, mode, TALK_S, _talk_on(talkers[: len(channels)], packets, TALK_S)
        )
        rows.append({"mode": mode, "channels": len(channels), "idle": idle, "talking": busy})
    say("replay at speed: asked -> first audio for the speaker")
    talker = Talker(talkers[0])
    for packet in packets:
        talker.send_packet(packet)
    tx = talker.end().transmission
    assert tx is not None
    listen = open_session(people[0], 1)
    for speed in (1.0, 1.5, 2.0):
        rows.append({"replay_speed": speed, "start_ms": replay_start_ms(listen, tx, speed, runs)})
    return rows


def scan_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| listener | channels | idle CPU % | idle RSS MB | talking CPU % | talking RSS MB"
        " | idle connections | talking connections |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if "mode" in row:
            idle, busy = row["idle"], row["talking"]
            lines.append(
                f"| {row['mode']} | {row['channels']} | {idle['cpu_percent']:.1f} | "
                f"{idle['rss_mb']:.0f} | {busy['cpu_percent']:.1f} | {busy['rss_mb']:.0f} | "
                f"{idle['connections']} | {busy['connections']} |"
            )
    lines += ["", "| replay speed | asked -> first audio (median ms) |", "|---|---|"]
    lines += [
        f"| {row['replay_speed']:g}x | {row['start_ms']:.1f} |"
        for row in rows
        if "replay_speed" in row
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    profile_name, channel_list, listen_mode, duration = sys.argv[1:5]
    report = _child(
        profile_name, [int(c) for c in channel_list.split(",")], listen_mode, float(duration)
    )
    print(json.dumps(report), flush=True)
