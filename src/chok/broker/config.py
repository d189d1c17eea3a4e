"""The local broker's settings, persisted in ``<CHOK_HOME>/broker/broker.json``,
and the Kafka ``server.properties`` and log4j2 configuration rendered from them.
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


@dataclass
class BrokerSettings:
    port: int = DEFAULT_PORT
    controller_port: int = DEFAULT_PORT + 1
    hosts: list[str] = field(default_factory=list)
    cluster_id: str = field(default_factory=lambda: new_cluster_id())
    heap_mb: int = 512

    @property
    def advertised_host(self) -> str:
        return self.hosts[0] if self.hosts else "localhost"

    @property
    def bind_address(self) -> str:
        # Listen beyond loopback only when the admin named a host others use.
        return "0.0.0.0" if self.hosts else "127.0.0.1"

    @property
    def bootstrap(self) -> str:
        return f"{self.advertised_host}:{self.port}"


def new_cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def broker_dir() -> Path:
    return subdir("broker")


def data_dir() -> Path:
    return broker_dir() / "data"


def log_dir() -> Path:
    return broker_dir() / "logs"


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


def server_properties(settings: BrokerSettings, files: ClusterFiles) -> str:
    """Kafka's configuration: mTLS only, KRaft combined mode, ACLs enforced."""
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"127.0.0.1:{settings.controller_port}",
        "listeners": (
            f"CLIENT://{settings.bind_address}:{settings.port},"
            f"CONTROLLER://127.0.0.1:{settings.controller_port}"
        ),
        "advertised.listeners": f"CLIENT://{settings.bootstrap}",
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
        "log.dirs": str(data_dir()),
        "auto.create.topics.enable": "false",
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.cleaner.backoff.ms": "15000",
    }
    return "".join(f"{key}={value}\n" for key, value in props.items())


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


def write_configs(settings: BrokerSettings, files: ClusterFiles) -> tuple[Path, Path]:
    props = broker_dir() / "server.properties"
    log4j = broker_dir() / "log4j2.properties"
    log_dir().mkdir(parents=True, exist_ok=True)
    write_atomic(props, server_properties(settings, files).encode(), mode=0o600)
    write_atomic(log4j, LOG4J2.format(log_dir=log_dir()).encode(), mode=0o600)
    return props, log4j
