"""The gap a live listener hears when the leader of the channel's audio
partition is killed (kill -9) mid-talk, on a throwaway three-node cluster.

Each run: a listener tunes in, a talker talks 120 frames (7.2 s) in real
time (one warm producer for all runs), the leader is killed after frame 40.
The gap is the latest lateness of a frame sent after the kill (arrival minus
its record timestamp, one clock); frames lost or heard twice are counted too.
The killed node comes back before the next run.

Every other run kills a leader that is also the cluster's active controller:
the others must first elect a new controller, which then fences the dead node
(the slower case). Before such a run the bench kills and restarts the
active controller until the others elect the leader; before the other runs
it moves the leadership back to its preferred replica, or the controller
away, until they are two nodes.
"""

from __future__ import annotations

import functools
import os
import signal
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from chok.bench.pacing import pace
from chok.bench.scale import sent_seqs, warm_producers
from chok.channel.live import Event, FrameArrived
from chok.channel.service import ListenService
from chok.channel.session import ChannelSession
from chok.channel.talk import Talker
from chok.kafka.producer import RecordProducer

Say = Callable[[str], None]
FRAMES = 120
KILL_AT = 40


@dataclass
class Run:
    killed: int
    was_controller: bool
    gap_ms: float
    usual_ms: float  # median lateness of the same transmission
    lost: int
    doubled: int


def run_all(runs: int, say: Say) -> list[Run]:
    os.environ["CHOK_HOME"] = tempfile.mkdtemp(prefix="chok-bench-failover-")
    from chok.broker import process

    try:
        talk, listen, packets = _setup(say)
        producer = warm_producers([talk], packets)[0]
        results = []
        for index in range(runs):
            _arrange(talk.audio_topic, controller=index % 2 == 1)
            result = _one(talk, listen, packets, producer)
            say(
                f"run {index + 1}: killed node {result.killed}"
                f"{' (the active controller)' if result.was_controller else ''}: "
                f"gap {result.gap_ms:.0f} ms, lost {result.lost}, doubled {result.doubled}"
            )
            results.append(result)
            process.start(node=result.killed)
            _wait_in_sync(talk.audio_topic, 60)  # back in every ISR before the next run
        return results
    finally:
        process.stop()


def _setup(say: Say) -> tuple[ChannelSession, ChannelSession, list[bytes]]:
    from chok import profiles
    from chok.bench.run import BENCH_TEXT
    from chok.broker import process
    from chok.channel.session import open_session
    from chok.codec import encode_pcm, make_speech
    from chok.protocol.bundle import read_bundle
    from chok.provision import local

    say("starting a three-node cluster...")
    _, took, _ = process.start(port=process.free_port_pair(3), nodes=3, progress=say)
    say(f"three nodes ready in {took:.1f} s")
    local.init([], 1, say)
    people = []
    for name in ("ann", "ben"):
        bundle, _ = local.add_user(name, None, force=True)
        people.append(profiles.install(read_bundle(bundle.to_zip()), name, force=True))
    packets = encode_pcm(make_speech(BENCH_TEXT), flush=False)
    packets = (packets * (FRAMES // len(packets) + 1))[:FRAMES]
    return open_session(people[0], 1), open_session(people[1], 1), packets


def _one(
    talk: ChannelSession, listen: ChannelSession, packets: list[bytes], producer: RecordProducer
) -> Run:
    from chok.broker import process
    from chok.provision.local import admin_client

    heard: list[tuple[str, int, float]] = []

    def on_event(event: Event) -> None:
        if isinstance(event, FrameArrived) and not event.synthesized:
            heard.append((event.key, event.frame.seq or 0, time.time() * 1000 - event.sent_ms))

    admin, _ = admin_client()
    leader = admin.cluster_view().partition(talk.audio_topic).leader
    node = next(n for n in process.status().nodes if n.id == leader)
    assert node.pid is not None
    service = ListenService(listen, on_event=on_event).start()
    talker = Talker(talk, producer=producer)
    sent = sent_seqs(packets)
    began = time.perf_counter()
    for index, packet in enumerate(packets):
        pace(index, began)
        talker.send_packet(packet)
        if index == KILL_AT:
            os.kill(node.pid, signal.SIGKILL)
    result = talker.end(timeout=60)
    _wait(lambda: len([h for h in heard if h[0] == result.tx_id]) >= len(sent), 30)
    service.stop()
    mine = [(seq, late) for key, seq, late in heard if key == result.tx_id]
    counts = Counter(seq for seq, _ in mine)
    lates = [late for seq, late in mine if seq > KILL_AT]
    return Run(
        leader,
        node.controller,
        max(lates, default=float("nan")),
        statistics.median(lates) if lates else float("nan"),
        len(set(sent) - set(counts)),
        sum(n - 1 for n in counts.values() if n > 1),
    )


def _leader_and_controller(topic: str) -> tuple[int, int | None]:
    from chok.broker import process
    from chok.provision.local import admin_client

    admin, _ = admin_client()
    leader = admin.cluster_view().partition(topic).leader
    controller = next((n.id for n in process.status().nodes if n.controller), None)
    return leader, controller


def _arrange(topic: str, controller: bool, attempts: int = 8) -> None:
    """Until the partition's leader is (or is not) the active controller, move
    one of them: the leader back to its preferred replica (another node, when
    the controller leads), or the controller, by killing and restarting it (the
    others elect one of theirs, maybe the leader)."""
    from chok.broker import process

    for _ in range(attempts):
        leader, active = _leader_and_controller(topic)
        if active is None or (leader == active) == controller:
            return
        if not controller and _elect_preferred(topic, leader):
            continue
        victim = active
        node = next(n for n in process.status().nodes if n.id == victim)
        assert node.pid is not None
        os.kill(node.pid, signal.SIGKILL)
        _wait(functools.partial(_controller_moved_from, topic, victim), 30)
        process.start(node=victim)
        _wait_in_sync(topic, 60)


def _elect_preferred(topic: str, leader: int) -> bool:
    """Ask for the partition's preferred leader; whether the leadership moved."""
    from confluent_kafka import ElectionType, TopicPartition
    from confluent_kafka.admin import AdminClient

    from chok.provision.local import admin_client

    admin, _ = admin_client()
    client = AdminClient(admin.client_conf)
    try:
        errors = client.elect_leaders(ElectionType.PREFERRED, [TopicPartition(topic, 0)]).result(10)
    except Exception:  # KafkaException: no answer
        return False
    if any(error is not None for error in errors.values()):
        return False  # ELECTION_NOT_NEEDED: the preferred replica leads already
    _wait(lambda: _leader_and_controller(topic)[0] not in (leader, -1), 10)
    return True


def _controller_moved_from(topic: str, node: int) -> bool:
    return _leader_and_controller(topic)[1] not in (node, None)


def _wait_in_sync(topic: str, timeout: float) -> None:
    from chok.provision.local import admin_client

    admin, _ = admin_client()
    _wait(lambda: len(admin.cluster_view().partition(topic).isr) == 3, timeout)


def _wait(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for the listener thread to catch the last frames


def summary(runs: list[Run]) -> str:
    def line(label: str, chosen: list[Run]) -> str:
        if not chosen:
            return f"{label}: no run"
        gaps = [r.gap_ms for r in chosen]
        usual = statistics.median(r.usual_ms for r in chosen)
        return (
            f"{label}: {len(chosen)} runs, gap p50 {statistics.median(gaps):.0f} ms, "
            f"max {max(gaps):.0f} ms (usual lateness {usual:.0f} ms)"
        )

    lost = sum(r.lost for r in runs)
    doubled = sum(r.doubled for r in runs)
    return "\n".join(
        [
            line("all runs", runs),
            line("leader only", [r for r in runs if not r.was_controller]),
            line("leader and active controller", [r for r in runs if r.was_controller]),
            f"frames lost: {lost}, heard twice: {doubled}",
        ]
    )
