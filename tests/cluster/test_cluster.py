"""chok on a real three-node cluster: replicated channels, and nothing lost when
a node dies mid-talk, stays down, or all of them restart one by one."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from chok.channel.connection import ConnState
from chok.channel.talk import TalkResult
from chok.kafka.producer import PRODUCER_SETTINGS
from tests.cluster.helpers import (
    Ear,
    RecordingProducer,
    ThreeNodes,
    assert_heard_whole,
    assert_replays_whole,
    talk,
)
from tests.conftest import assert_clean_error, run_chok
from tests.integration.talk_helpers import speech_packets
from tests.kafka_helpers import produce_one
from tests.provision_helpers import profile_creds, unique, wait_until

CONNECTED = ConnState.CONNECTED.value  # what ListenService.state says when it is

pytestmark = pytest.mark.broker


def _packets(frames: int) -> list[bytes]:
    speech = list(speech_packets("Testing one two three, the cluster keeps every word. Over."))
    return (speech * (frames // len(speech) + 1))[:frames]


def test_the_cluster_lists_its_nodes_and_replicates_every_channel(three_nodes: ThreeNodes) -> None:
    status = three_nodes.status()
    ports = [three_nodes.port + 2 * i for i in range(3)]
    assert [(n["id"], n["state"], n["port"]) for n in status["nodes"]] == [
        (1, "running", ports[0]),
        (2, "running", ports[1]),
        (3, "running", ports[2]),
    ]
    assert sum(n["controller"] for n in status["nodes"]) == 1
    assert three_nodes.bootstrap == ",".join(f"localhost:{p}" for p in ports)
    admin = three_nodes.admin()
    view = admin.cluster_view()
    assert view.brokers == {1, 2, 3}
    for topic in ("chok-audio-1", "chok-metadata-1", "chok-audio-2", "chok-metadata-2"):
        for partition in (0, 1):
            assert sorted(view.partition(topic, partition).replicas) == [1, 2, 3]
        assert admin.topic_settings(topic, ["min.insync.replicas"]) == {"min.insync.replicas": "2"}


def test_bad_node_options_are_refused_in_one_line(three_nodes: ThreeNodes) -> None:
    for args, words in (
        (["start", "--node", "9"], "there is no node 9"),
        (["stop", "--node", "0"], "there is no node 0"),
        (["start", "--nodes", "1"], "set up with 3 node(s)"),
        (["start", "--nodes", "3", "--node", "2"], "not both"),
    ):
        line = assert_clean_error(run_chok("broker", *args, home=three_nodes.home), code=2)
        assert words in line, (args, line)


def test_the_kafka_backend_provisions_the_cluster_from_another_home(
    three_nodes: ThreeNodes, tmp_path: Path
) -> None:
    files = three_nodes.home / "cluster"
    settings = {
        "bootstrap.servers": ",".join(f"127.0.0.1:{three_nodes.port + 2 * i}" for i in range(3)),
        "security.protocol": "SSL",
        "ssl.ca.location": str(files / "ca.pem"),
        "ssl.certificate.location": str(files / "admin.pem"),
        "ssl.key.location": str(files / "admin.key"),
    }
    (tmp_path / "admin.json").write_text(json.dumps(settings))
    home = tmp_path / "their-admin"
    init = run_chok(
        "admin", "init", "--backend", "kafka", "--admin-config", str(tmp_path / "admin.json"),
        "--ca-cert", str(files / "ca.pem"), "--ca-key", str(files / "ca.key"),
        "--user-bootstrap", three_nodes.bootstrap, "--json", home=home,
    )  # fmt: skip
    assert init.code == 0, init.err
    assert json.loads(init.out)["bootstrap"] == three_nodes.bootstrap
    added = run_chok("admin", "add-channel", unique("Garden"), "--json", home=home)
    assert added.code == 0, added.err
    topic = f"chok-audio-{json.loads(added.out)['number']}"
    admin = three_nodes.admin()
    assert sorted(admin.cluster_view().partition(topic).replicas) == [1, 2, 3]
    assert admin.topic_settings(topic, ["min.insync.replicas"]) == {"min.insync.replicas": "2"}
    name = unique("dee")
    made = run_chok("admin", "add-user", name, "--channels", "1", "--out", str(tmp_path), home=home)
    assert made.code == 0, made.err
    person = tmp_path / "dee-laptop"
    assert run_chok("join", str(tmp_path / f"{name}.chok"), home=person).code == 0
    assert isinstance(produce_one(profile_creds(person, name), "chok-audio-1", b"hi"), int)


def test_killing_the_leader_mid_talk_loses_and_doubles_nothing(three_nodes: ThreeNodes) -> None:
    ann, ben, cat = (three_nodes.session(n) for n in ("ann", "ben", "cat"))
    ears = [Ear(ben).start(), Ear(cat).start()]
    producer = RecordingProducer(ann.creds)
    producer.connect(ann.audio_topic)
    leader = three_nodes.leader()
    try:
        result = talk(ann, producer, _packets(120), {40: lambda: three_nodes.kill(leader)})
        assert result.transmission is not None and result.frames == 120
        for ear in ears:
            ear.wait_for_end(result.tx_id)
            assert_heard_whole(ear, producer, result)
        assert three_nodes.leader() != leader
        assert_replays_whole(cat, producer, result)
    finally:
        for ear in ears:
            ear.stop()
        three_nodes.start(leader)


def test_a_node_down_longer_than_the_producers_timeouts(three_nodes: ThreeNodes) -> None:
    ann, ben, cat = (three_nodes.session(n) for n in ("ann", "ben", "cat"))
    ears = [Ear(ben).start()]
    producer = RecordingProducer(ann.creds)
    producer.connect(ann.audio_topic)
    down = three_nodes.leader()
    three_nodes.kill(down)
    killed = time.monotonic()
    longer = PRODUCER_SETTINGS["message.timeout.ms"] / 1000 + 1
    results: list[TalkResult] = []
    try:
        ears.append(Ear(cat).start())  # tuning in while the dead node still leads
        # Two of three nodes keep the channel writable (min.insync.replicas 2).
        while time.monotonic() - killed < longer:
            results.append(talk(ann, producer, _packets(40)))
        for result in results:
            for each in ears:
                each.wait_for_end(result.tx_id)
                assert_heard_whole(each, producer, result)
            assert_replays_whole(ben, producer, result)
    finally:
        for each in ears:
            each.stop()
        three_nodes.start(down)
    assert len(results) >= 5


def test_a_rolling_restart_of_every_node_while_people_talk_and_listen(
    three_nodes: ThreeNodes,
) -> None:
    ann, ben, cat = (three_nodes.session(n) for n in ("ann", "ben", "cat"))
    ears = [Ear(ben).start(), Ear(cat).start()]
    producer = RecordingProducer(ann.creds)
    producer.connect(ann.audio_topic)
    results: list[TalkResult] = []
    done = threading.Event()
    failures: list[BaseException] = []

    def keep_talking() -> None:
        try:
            while not done.is_set():
                results.append(talk(ann, producer, _packets(30)))
        except BaseException as exc:  # reported by the test below
            failures.append(exc)

    talker = threading.Thread(target=keep_talking, daemon=True)
    talker.start()
    latecomers = []
    try:
        for node in (1, 2, 3):
            three_nodes.stop(node)
            three_nodes.start(node)
            latecomers.append(Ear(three_nodes.session("ben", 2)).start())  # tuning in works
        done.set()
        talker.join(120)
        assert not failures, failures
        assert len(results) >= 3
        for ear in ears:
            for result in results:
                ear.wait_for_end(result.tx_id)
                assert_heard_whole(ear, producer, result)
            wait_until(lambda ear=ear: ear.service.state == CONNECTED, 30, "reconnected")  # type: ignore[misc]
            assert ear.service.error is None
        for result in results:
            assert_replays_whole(ben, producer, result)
    finally:
        done.set()
        for ear in ears + latecomers:
            ear.stop()
    assert [n["state"] for n in three_nodes.status()["nodes"]] == ["running"] * 3
