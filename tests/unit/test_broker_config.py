"""The broker's configuration: one node as before, or a replicated cluster."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from chok.broker import config as cfg
from chok.pki.cluster import ClusterFiles


def _props(settings: cfg.BrokerSettings, node: int = 1) -> dict[str, str]:
    text = cfg.server_properties(settings, ClusterFiles(Path("/c")), node)
    return dict(line.split("=", 1) for line in text.splitlines())


def test_a_single_node_keeps_its_dynamic_quorum_and_one_copy() -> None:
    props = _props(cfg.BrokerSettings(port=29093, controller_port=29094, cluster_id="x"))
    assert props["node.id"] == "1"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:29094"
    assert "controller.quorum.voters" not in props
    assert props["listeners"] == "CLIENT://127.0.0.1:29093,CONTROLLER://127.0.0.1:29094"
    assert props["advertised.listeners"] == "CLIENT://localhost:29093"
    assert props["offsets.topic.replication.factor"] == "1"
    assert "min.insync.replicas" not in props
    # A restart after a crash waits one session for the old registration.
    assert int(props["broker.session.timeout.ms"]) <= 3000
    assert props["log.dirs"].endswith("/broker/data")


def test_three_nodes_each_have_ports_data_and_the_same_voters() -> None:
    settings = cfg.BrokerSettings(port=40000, controller_port=40001, cluster_id="x", nodes=3)
    voters = "1@127.0.0.1:40001,2@127.0.0.1:40003,3@127.0.0.1:40005"
    seen_dirs = set()
    for node, port in ((1, 40000), (2, 40002), (3, 40004)):
        props = _props(settings, node)
        assert props["node.id"] == str(node)
        assert props["controller.quorum.voters"] == voters
        assert "controller.quorum.bootstrap.servers" not in props
        assert props["listeners"] == f"CLIENT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{port + 1}"
        assert props["advertised.listeners"] == f"CLIENT://localhost:{port}"
        assert props["default.replication.factor"] == "3"
        assert props["min.insync.replicas"] == "2"
        assert props["offsets.topic.replication.factor"] == "3"
        assert props["unclean.leader.election.enable"] == "false"
        # Same mTLS and authorizer set-up as the single node.
        assert props["ssl.client.auth"] == "required"
        assert props["authorizer.class.name"].endswith("StandardAuthorizer")
        assert props["listener.security.protocol.map"] == "CLIENT:SSL,CONTROLLER:SSL"
        seen_dirs.add(props["log.dirs"])
        assert props["log.dirs"].endswith(f"/broker/node-{node}/data")
    assert len(seen_dirs) == 3
    assert settings.bootstrap == "localhost:40000,localhost:40002,localhost:40004"
    assert settings.loopback_bootstrap == "127.0.0.1:40000,127.0.0.1:40002,127.0.0.1:40004"


def test_a_dead_active_controller_leaves_time_for_listeners_to_hear_the_rest() -> None:
    """Killing the node that leads the channel and is the active controller:
    the survivors notice (each after its quorum fetch timeout; the later one
    is elected) and the new controller gives the dead node a whole session
    before it fences it. What is left of the 1 s a listener may hear silence
    must cover the vote, moving the partition and the clients (~0.25 s
    measured by ``chok bench --failover``)."""
    settings = cfg.BrokerSettings(port=40000, controller_port=40001, cluster_id="x", nodes=3)
    nodes = [_props(settings, node) for node in (1, 2, 3)]
    timeouts = sorted(int(p["controller.quorum.fetch.timeout.ms"]) for p in nodes)
    session = int(nodes[0]["broker.session.timeout.ms"])
    assert timeouts[-1] + session <= 1000 - 250
    # The survivors time out one after the other, not together (a split vote
    # costs one more election timeout), and the second times out while the
    # first still waits for votes (one election timeout at least), so the
    # first grants it its vote.
    election = int(nodes[0]["controller.quorum.election.timeout.ms"])
    steps = [later - earlier for earlier, later in itertools.pairwise(timeouts)]
    assert all(0 < step < election for step in steps)
    # The active controller answers idle fetches only with its no-op records:
    # every timeout must outlast more than one of them.
    assert timeouts[0] >= 2 * int(nodes[0]["metadata.max.idle.interval.ms"])
    # A session spans several heartbeats, or one late heartbeat fences a live node.
    assert session >= 3 * int(nodes[0]["broker.heartbeat.interval.ms"])


@pytest.mark.parametrize(("replication", "min_insync"), [(1, 1), (2, 1), (3, 2), (5, 2)])
def test_an_acknowledged_write_is_on_two_copies_when_three_exist(
    replication: int, min_insync: int
) -> None:
    assert cfg.min_insync_for(replication) == min_insync


def test_settings_saved_before_clusters_existed_still_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHOK_HOME", str(tmp_path))
    old = {"port": 29093, "controller_port": 29094, "hosts": [], "cluster_id": "x", "heap_mb": 512}
    cfg.settings_path().write_text(json.dumps(old))
    loaded = cfg.load_settings()
    assert loaded is not None and loaded.nodes == 1
    assert cfg.node_paths(loaded, 1).root == cfg.broker_dir()


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # 0xf8 encodes as "-": kafka-storage took such an id for an option.
    import uuid

    from chok.broker import config as broker_config

    made = iter([uuid.UUID(bytes=b"\xf8" * 16), uuid.UUID(bytes=b"\x01" * 16)])
    monkeypatch.setattr(broker_config.uuid, "uuid4", lambda: next(made))
    cluster_id = broker_config.new_cluster_id()
    assert not cluster_id.startswith("-") and len(cluster_id) == 22
