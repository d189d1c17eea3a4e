"""The local broker's settings, persisted in ``<CHOK_HOME>/broker/broker.json``,
and the Kafka ``server.properties`` and log4j2 configuration rendered from them.

One node (the default) keeps everything in ``broker/``. A replicated cluster
(``nodes`` > 1, all on this machine) gives node N its own ``broker/node-N/``
(data, logs, pid) and its own two ports: clients on ``port + 2(N-1)``, the
controller quorum on the next one.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from chok.errors import ConfigError
from chok.home import subdir, write_atomic
from chok.pki.cluster import ADMIN_PRINCIPAL, BROKER_PRINCIPAL, ClusterFiles

DEFAULT_PORT = 29093
PORT_STRIDE = 2  # a node's client port, then its controller port
MAX_NODES = 9


@dataclass
class BrokerSettings:
    port: int = DEFAULT_PORT
    controller_port: int = DEFAULT_PORT + 1
    hosts: list[str] = field(default_factory=list)
    cluster_id: str = field(default_factory=lambda: new_cluster_id())
    heap_mb: int = 512
    nodes: int = 1

    def node_ids(self) -> list[int]:
        return list(range(1, self.nodes + 1))

    def client_port(self, node: int) -> int:
        return self.port + PORT_STRIDE * (node - 1)

    def quorum_port(self, node: int) -> int:
        return self.controller_port + PORT_STRIDE * (node - 1)

    @property
    def replication(self) -> int:
        """Copies of every partition: three when there are three nodes or more."""
        return min(3, self.nodes)

    @property
    def min_insync(self) -> int:
        """Copies a write must reach before it is acknowledged (acks=all)."""
        return min_insync_for(self.replication)

    @property
    def advertised_host(self) -> str:
        return self.hosts[0] if self.hosts else "localhost"

    @property
    def bind_address(self) -> str:
        # Listen beyond loopback only when the admin named a host others use.
        return "0.0.0.0" if self.hosts else "127.0.0.1"

    @property
    def bootstrap(self) -> str:
        """What clients connect to: every node, so any one of them is enough."""
        return ",".join(f"{self.advertised_host}:{self.client_port(n)}" for n in self.node_ids())

    @property
    def loopback_bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.client_port(n)}" for n in self.node_ids())


def min_insync_for(replication: int) -> int:
    """Two copies of every acknowledged write when there are three or more, so
    one node may die (or restart) while people keep talking."""
    return min(2, max(1, replication - 1))


@dataclass(frozen=True)
class NodePaths:
    """Where one node keeps its data, logs, pid and configuration."""

    id: int
    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pid_file(self) -> Path:
        return self.root / "broker.pid"

    @property
    def started_at(self) -> Path:
        return self.root / "started_at"

    @property
    def cds_marker(self) -> Path:
        return self.root / "cds-pending"

    @property
    def props(self) -> Path:
        return self.root / "server.properties"


def node_paths(settings: BrokerSettings, node: int) -> NodePaths:
    if settings.nodes == 1:
        return NodePaths(node, broker_dir())  # the layout of a single broker, unchanged
    return NodePaths(node, subdir("broker", f"node-{node}"))


def new_cluster_id() -> str:
    """A cluster id as Kafka makes them (Uuid.randomUuid): URL-safe base64 of 16
    random bytes, never starting with "-" (kafka-storage would take it for an
    option: one first start in 64 failed to format, as a fresh CI clone saw)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def broker_dir() -> Path:
    return subdir("broker")


def settings_path() -> Path:
    return broker_dir() / "broker.json"


def load_settings() -> BrokerSettings | None:
    path = settings_path()
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text())
        return BrokerSettings(**raw)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path} is damaged: delete it to start over ({exc})") from exc


def save_settings(settings: BrokerSettings) -> None:
    write_atomic(settings_path(), json.dumps(asdict(settings), indent=2).encode())


def server_properties(settings: BrokerSettings, files: ClusterFiles, node: int = 1) -> str:
    """Kafka's configuration: mTLS only, KRaft combined mode, ACLs enforced."""
    port, quorum_port = settings.client_port(node), settings.quorum_port(node)
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node),
        **_quorum(settings),
        "listeners": (
            f"CLIENT://{settings.bind_address}:{port},CONTROLLER://127.0.0.1:{quorum_port}"
        ),
        "advertised.listeners": f"CLIENT://{settings.advertised_host}:{port}",
        # Both listeners are TLS with client certificates: no plaintext anywhere,
        # and the controller authenticates as the broker's own principal.
        "listener.security.protocol.map": "CLIENT:SSL,CONTROLLER:SSL",
        "inter.broker.listener.name": "CLIENT",
        "controller.listener.names": "CONTROLLER",
        "ssl.client.auth": "required",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(files.broker_keystore),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(files.ca_cert),
        "ssl.endpoint.identification.algorithm": "https",
        "ssl.enabled.protocols": "TLSv1.3,TLSv1.2",
        # Principal = the certificate's CN: CN=alice,O=chok -> User:alice.
        "ssl.principal.mapping.rules": "RULE:^CN=([^,]+)(,.*)?$/$1/,DEFAULT",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{BROKER_PRINCIPAL};User:{ADMIN_PRINCIPAL}",
        "log.dirs": str(node_paths(settings, node).data),
        "auto.create.topics.enable": "false",
        "num.partitions": "1",
        "offsets.topic.replication.factor": str(settings.replication),
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": str(settings.replication),
        "transaction.state.log.min.isr": str(settings.min_insync),
        "share.coordinator.state.topic.replication.factor": str(settings.replication),
        "share.coordinator.state.topic.min.isr": str(settings.min_insync),
        "group.initial.rebalance.delay.ms": "0",
        "log.cleaner.backoff.ms": "15000",
        **(_replicated(settings, node) if settings.nodes > 1 else SINGLE),
    }
    return "".join(f"{key}={value}\n" for key, value in props.items())


def _quorum(settings: BrokerSettings) -> dict[str, str]:
    if settings.nodes == 1:  # a dynamic quorum of one, formatted --standalone
        return {"controller.quorum.bootstrap.servers": f"127.0.0.1:{settings.controller_port}"}
    voters = (f"{n}@127.0.0.1:{settings.quorum_port(n)}" for n in settings.node_ids())
    return {"controller.quorum.voters": ",".join(voters)}


# How fast a replicated cluster notices a node that died without a word
# (kill -9, power cut): its partitions get a new leader only once the active
# controller fences it, broker.session.timeout.ms after its last heartbeat
# (Kafka's 9 s default would be 9 s of silence on the channel). The surviving
# follower must then copy from the new leader before an acks=all frame is
# acknowledged, and a fetch it had parked there (replica.fetch.wait.max.ms,
# 500 ms by default) delayed that by up to half a second.
#
# If the dead node was the active controller, the others first elect a new
# one after controller.quorum.fetch.timeout.ms without an answer, and that new
# controller gives every broker a whole session before it fences one (it never
# saw their heartbeats). An active controller holds an idle fetch up to 500 ms
# (not settable) but answers at once when it appends, so a no-op record every
# metadata.max.idle.interval.ms (100 ms; 500 by default) lets that timeout be
# 225-275 ms. Two survivors with the same timeout time out on the same
# answer and often split their first vote, and a candidate then waits a
# random 1-2x election timeout before it tries again (0.2-0.4 s with 200 ms,
# in half the runs): so each node waits QUORUM_STAGGER_MS longer than the
# one before it, and 50 ms bounds what a split still costs. With pre-vote
# (Kafka 4) a follower still hearing the controller refuses to elect, so a
# short timeout does not depose a live one: two busy loops on both cores for
# two minutes caused no election and no fencing.
# Idle CPU of three nodes: 13-14 % of one core (8.6 % with 500 ms no-ops).
# Shorter sessions (300 ms, with 50 ms heartbeats) fenced live nodes while
# three of them started on this 2-core machine: see docs/admin.md section 7
# and docs/benchmarks.md.
FAILOVER = {
    "broker.heartbeat.interval.ms": "100",
    "broker.session.timeout.ms": "400",
    "replica.fetch.wait.max.ms": "100",
    "controller.quorum.fetch.timeout.ms": "225",  # node 1; +25 ms per node
    "metadata.max.idle.interval.ms": "100",
    "controller.quorum.election.timeout.ms": "50",
    "controller.quorum.election.backoff.max.ms": "100",
}


# A single node restarted after a crash (kill -9, power cut) finds its own old
# registration still alive: its controller gives it a whole session before
# the new one may register, 9 s with Kafka's defaults (12 s to restart in
# all, against 2 s after a clean stop). Nobody else is there to fence, so
# only a pause longer than the session (6 missed heartbeats) would fence it.
SINGLE = {
    "broker.heartbeat.interval.ms": "500",
    "broker.session.timeout.ms": "3000",
}


# Each node waits this much longer than the one before it for the active
# controller, so that the two survivors do not time out together and split
# their vote: the first to time out is refused (the other still hears the
# controller) and waits, then grants the second its vote.
QUORUM_STAGGER_MS = 25


def _replicated(settings: BrokerSettings, node: int) -> dict[str, str]:
    fetch_timeout = int(FAILOVER["controller.quorum.fetch.timeout.ms"])
    return {
        "default.replication.factor": str(settings.replication),
        "min.insync.replicas": str(settings.min_insync),
        "unclean.leader.election.enable": "false",  # never lose acknowledged frames
        **FAILOVER,
        "controller.quorum.fetch.timeout.ms": str(fetch_timeout + QUORUM_STAGGER_MS * (node - 1)),
    }


LOG4J2 = """\
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = {log_dir}/server.log
appender.file.filePattern = {log_dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 10MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.kafka.name = org.apache.kafka
logger.kafka.level = info
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = warn
"""


def write_configs(
    settings: BrokerSettings, files: ClusterFiles, node: int = 1
) -> tuple[Path, Path]:
    paths = node_paths(settings, node)
    log4j = paths.root / "log4j2.properties"
    paths.logs.mkdir(parents=True, exist_ok=True)
    write_atomic(paths.props, server_properties(settings, files, node).encode(), mode=0o600)
    write_atomic(log4j, LOG4J2.format(log_dir=paths.logs).encode(), mode=0o600)
    return paths.props, log4j
