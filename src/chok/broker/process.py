"""Start, stop and inspect the local Kafka broker: one node, or a replicated
cluster of several nodes on this machine (``chok broker start --nodes 3``)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chok.broker import KAFKA_VERSION, jvm
from chok.broker import config as cfg
from chok.broker.jars import ensure_kafka_jars
from chok.broker.java import find_java
from chok.errors import BrokerError, ChokError, PortInUseError, UsageError
from chok.kafka.admin import Admin
from chok.kafka.client import Credentials
from chok.pki.cluster import ClusterFiles, cluster_files, ensure_credentials

Progress = Callable[[str], None]
READY_TIMEOUT = 90.0
STOP_TIMEOUT = jvm.STOP_TIMEOUT


@dataclass(frozen=True)
class NodeStatus:
    id: int
    state: str  # "running" | "stopped"
    port: int
    pid: int | None
    uptime_s: float | None
    data_dir: str
    log_file: str
    controller: bool  # the active controller of the KRaft quorum


@dataclass(frozen=True)
class Status:
    running: bool  # at least one node runs
    pid: int | None  # the first running node's
    address: str | None
    kafka_version: str
    data_dir: str
    uptime_s: float | None
    log_file: str
    nodes: list[NodeStatus] = field(default_factory=list)


def admin_credentials(settings: cfg.BrokerSettings, files: ClusterFiles) -> Credentials:
    # chok's own admin work goes over loopback: the advertised name may be
    # a LAN address that this machine reaches only through its router.
    return Credentials(
        settings.loopback_bootstrap, files.ca_cert, files.admin_cert, files.admin_key
    )


def _port_free(port: int, address: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def _check_ports(settings: cfg.BrokerSettings, nodes: list[int]) -> None:
    for node in nodes:
        for port, addr in (
            (settings.client_port(node), settings.bind_address),
            (settings.quorum_port(node), "127.0.0.1"),
        ):
            if not _port_free(port, addr):
                raise PortInUseError(
                    f"port {port} is already in use by another program",
                    hint="stop it, or pick other ports with `chok broker start --port N`",
                )


def start(
    *,
    port: int | None = None,
    hosts: list[str] | None = None,
    progress: Progress | None = None,
    nodes: int | None = None,
    node: int | None = None,
) -> tuple[Status, float, bool]:
    """Start the broker's nodes that are not running (idempotent), or only ``node``.

    Return the status, seconds taken, and whether anything was started.
    """
    began = time.monotonic()
    say = progress or (lambda _line: None)
    settings = cfg.load_settings() or cfg.BrokerSettings()
    settings = _apply_options(settings, port, hosts, nodes)
    wanted = _wanted_nodes(settings, node)
    to_start = [n for n in wanted if jvm.running_pid(cfg.node_paths(settings, n)) is None]
    if not to_start:
        return status(), time.monotonic() - began, False
    java = find_java()
    libs = ensure_kafka_jars(say)
    files = cluster_files()
    ensure_credentials(files, settings.hosts)
    _check_ports(settings, to_start)
    paths = {n: cfg.node_paths(settings, n) for n in to_start}
    unformatted = [n for n in to_start if not jvm.check_data_dir(paths[n], settings.cluster_id)]
    configs = {n: cfg.write_configs(settings, files, n) for n in to_start}
    cfg.save_settings(settings)
    if unformatted:
        say("formatting the broker's storage (first start)...")
        jvm.format_storage(
            java, libs, [configs[n][0] for n in unformatted], settings.cluster_id,
            standalone=settings.nodes == 1,
        )  # fmt: skip
    if settings.nodes > 1:
        say(f"starting node(s) {', '.join(map(str, to_start))} of {settings.nodes}...")
    procs = {
        n: jvm.spawn(
            jvm.java_command(
                java,
                libs,
                paths[n],
                configs[n][1],
                settings.heap_mb,
                write_archive=n == to_start[0],
            ),
            paths[n],
        )
        for n in to_start
    }
    _wait_ready(procs, settings, files, say)
    return status(), time.monotonic() - began, True


def _apply_options(
    settings: cfg.BrokerSettings, port: int | None, hosts: list[str] | None, nodes: int | None
) -> cfg.BrokerSettings:
    if port is not None:
        if not 1024 <= port <= 65534 - cfg.PORT_STRIDE * (max(settings.nodes, nodes or 1) - 1):
            raise BrokerError(f"port {port} is out of range: use 1024 to 65534")
        settings.port, settings.controller_port = port, port + 1
    for host in hosts or []:
        if host not in settings.hosts:
            settings.hosts.append(host)
    if nodes is not None and nodes != settings.nodes:
        if not 1 <= nodes <= cfg.MAX_NODES:
            raise UsageError(f"--nodes must be between 1 and {cfg.MAX_NODES}, not {nodes}")
        if _has_data(settings):
            raise UsageError(
                f"this broker was set up with {settings.nodes} node(s) and keeps data",
                hint="use another CHOK_HOME for a cluster of another size",
            )
        settings.nodes = nodes
    return settings


def _has_data(settings: cfg.BrokerSettings) -> bool:
    for n in settings.node_ids():
        data = cfg.node_paths(settings, n).data
        if data.exists() and any(data.iterdir()):
            return True
    return False


def _wanted_nodes(settings: cfg.BrokerSettings, node: int | None) -> list[int]:
    if node is None:
        return settings.node_ids()
    if node not in settings.node_ids():
        have = ", ".join(map(str, settings.node_ids()))
        raise UsageError(f"there is no node {node}: this broker's nodes are {have}")
    return [node]


def _wait_ready(
    procs: dict[int, subprocess.Popen[bytes]],
    settings: cfg.BrokerSettings,
    files: ClusterFiles,
    say: Progress,
) -> None:
    """Return once mTLS clients can use every started node (and, in a cluster,
    once each holds a full copy of its partitions again); fail if one dies."""
    admin = Admin(admin_credentials(settings, files))
    deadline = time.monotonic() + READY_TIMEOUT
    last_error: ChokError | None = None
    say("waiting for the broker to accept mTLS clients...")
    while time.monotonic() < deadline:
        for node, proc in procs.items():
            if proc.poll() is not None:
                raise jvm.explain_exit(cfg.node_paths(settings, node))
        try:
            if _serving(admin, settings, set(procs)):
                return
        except ChokError as exc:
            last_error = exc
        time.sleep(0.2)  # poll interval between readiness probes, not a fixed wait
    jvm.stop_nodes([cfg.node_paths(settings, n) for n in procs])
    detail = f": {last_error}" if last_error else ""
    raise BrokerError(f"the broker did not become ready in {READY_TIMEOUT:.0f} s{detail}")


def _serving(admin: Admin, settings: cfg.BrokerSettings, started: set[int]) -> bool:
    if settings.nodes == 1:
        return admin.ping(timeout=1.0) >= 1
    view = admin.cluster_view(timeout=1.0)
    if not started <= view.brokers:
        return False
    # A restarted node is back once it caught up: then the next one may go
    # down (a rolling restart) without any partition losing its second copy.
    return not any(started & (set(p.replicas) - set(p.isr)) for p in view.partitions)


def stop(timeout: float = STOP_TIMEOUT, node: int | None = None) -> bool:
    """Stop every node (or only ``node``); return False when none was running."""
    settings = cfg.load_settings() or cfg.BrokerSettings()
    nodes = _wanted_nodes(settings, node)
    return bool(jvm.stop_nodes([cfg.node_paths(settings, n) for n in nodes], timeout))


def status() -> Status:
    settings = cfg.load_settings()
    current = settings or cfg.BrokerSettings()
    leader = _quorum_leader(current)
    nodes = []
    for n in current.node_ids():
        paths = cfg.node_paths(current, n)
        pid = jvm.running_pid(paths)
        nodes.append(
            NodeStatus(
                id=n,
                state="running" if pid is not None else "stopped",
                port=current.client_port(n),
                pid=pid,
                uptime_s=jvm.uptime(paths) if pid is not None else None,
                data_dir=str(paths.data),
                log_file=str(paths.logs / "server.log"),
                controller=pid is not None and n == leader,
            )
        )
    first = next((s for s in nodes if s.pid is not None), nodes[0])
    return Status(
        running=first.pid is not None,
        pid=first.pid,
        address=settings.bootstrap if settings else None,
        kafka_version=KAFKA_VERSION,
        data_dir=first.data_dir if current.nodes == 1 else str(cfg.broker_dir()),
        uptime_s=first.uptime_s,
        log_file=first.log_file,
        nodes=nodes,
    )


def _quorum_leader(settings: cfg.BrokerSettings) -> int | None:
    """The active controller, as the nodes' KRaft quorum-state files say
    (the newest election epoch wins)."""
    best: tuple[int, int] | None = None
    for n in settings.node_ids():
        path = cfg.node_paths(settings, n).data / "__cluster_metadata-0" / "quorum-state"
        try:
            state = json.loads(path.read_text())
            epoch, leader = int(state["leaderEpoch"]), int(state["leaderId"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if leader >= 0 and (best is None or epoch > best[0]):
            best = (epoch, leader)
    return best[1] if best else None


def free_port_pair(nodes: int = 1) -> int:
    """A port p such that p .. p + 2*nodes - 1 are free on loopback (for each
    node a client port and a controller port)."""
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        span = range(port + 1, port + cfg.PORT_STRIDE * nodes)
        if port + cfg.PORT_STRIDE * nodes <= 65535 and all(
            _port_free(p, "127.0.0.1") for p in span
        ):
            return port
    raise BrokerError("no free ports on this machine")
