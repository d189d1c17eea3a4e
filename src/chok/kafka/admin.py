"""Admin operations (topics, ACLs) through confluent-kafka's AdminClient."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka import KafkaError as RdKafkaError
from confluent_kafka.admin import (
    AclBinding,
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from chok.errors import AccessDeniedError, ChokError, KafkaTimeoutError
from chok.kafka.acls import Grant, acl_key, principal_filter
from chok.kafka.client import LIBRDKAFKA_LOG, Credentials, raise_pending, with_errors
from chok.kafka.errors import ErrorCollector, convert

# How often an idempotent admin request is sent again after its broker was
# dropped mid-request (see Admin._again_if_dropped).
DROPPED_RETRIES = 2


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    config: dict[str, str]


TopicAccess = str  # "ok" | "denied" | "missing"


@dataclass(frozen=True)
class PartitionView:
    topic: str
    partition: int
    leader: int  # -1 while it has none
    replicas: list[int]
    isr: list[int]


@dataclass(frozen=True)
class ClusterView:
    """The brokers that serve clients now, and where every partition lives."""

    brokers: set[int]
    partitions: list[PartitionView]

    def partition(self, topic: str, partition: int = 0) -> PartitionView:
        for p in self.partitions:
            if p.topic == topic and p.partition == partition:
                return p
        raise KeyError(f"{topic}/{partition}")


class Admin:
    def __init__(
        self,
        creds: Credentials | None,
        timeout: float = 15.0,
        *,
        raw: dict[str, Any] | None = None,
    ) -> None:
        """An admin client from chok credentials, or from a librdkafka config (``raw``).

        ``raw`` carries the admin's own client configuration for a cluster chok
        does not run (the kafka backend): SASL, ssl.* paths, anything librdkafka
        takes. Its values are never printed (they may hold passwords).
        """
        if creds is not None:
            conf, self._errors = with_errors(creds, {})
        else:
            raw = raw or {}
            self._errors = ErrorCollector(str(raw.get("bootstrap.servers", "the cluster")))
            conf = {"client.id": "chok-admin", "logger": LIBRDKAFKA_LOG, **raw}
            conf["error_cb"] = self._errors
        # The same connection settings, for writing records as the admin.
        self.client_conf = {key: value for key, value in conf.items() if key != "error_cb"}
        self._client = AdminClient(conf)
        self._conf = {k: v for k, v in conf.items() if k != "error_cb"}
        self._timeout = timeout

    def ping(self, timeout: float) -> int:
        """Return the number of brokers, or raise the reason none answered."""
        try:
            meta = self._client.list_topics(timeout=timeout)
        except KafkaException as exc:
            raise_pending(self._errors)
            raise convert(exc, "cluster metadata") from exc
        return len(meta.brokers)

    def cluster_view(self, timeout: float | None = None) -> ClusterView:
        """Live brokers (registered, not fenced) and every partition's replicas."""
        try:
            meta = self._client.list_topics(timeout=timeout or self._timeout)
        except KafkaException as exc:
            raise_pending(self._errors)
            raise convert(exc, "cluster metadata") from exc
        partitions = [
            PartitionView(name, p.id, p.leader, list(p.replicas), list(p.isrs))
            for name, t in meta.topics.items()
            for p in t.partitions.values()
        ]
        return ClusterView(set(meta.brokers), partitions)

    def topics(self) -> dict[str, int]:
        """Topic name -> partition count."""
        try:
            meta = self._client.list_topics(timeout=self._timeout)
        except KafkaException as exc:
            raise_pending(self._errors)
            raise convert(exc, "listing topics") from exc
        return {name: len(t.partitions) for name, t in meta.topics.items()}

    def create_topics(self, specs: Iterable[TopicSpec]) -> list[str]:
        """Create the topics that do not exist yet; return the names created."""
        existing = self.topics()
        new = [
            NewTopic(s.name, s.partitions, s.replication, config=s.config)
            for s in specs
            if s.name not in existing
        ]
        if not new:
            return []
        futures = self._client.create_topics(new, operation_timeout=self._timeout)
        for name, future in futures.items():
            self._wait(future, f"creating topic {name}")
        return [t.topic for t in new]

    def delete_topics(self, names: list[str]) -> None:
        for name, future in self._client.delete_topics(names).items():
            self._wait(future, f"deleting topic {name}")

    def grant(self, grants: Iterable[Grant]) -> None:
        """Create ALLOW ACLs and return once the broker enforces them."""
        grants = list(grants)
        bindings = [g.binding() for g in grants]
        if not bindings:
            return

        def attempt() -> None:
            for binding, future in self._client.create_acls(bindings).items():
                self._wait(future, f"granting access to {binding.name}")

        self._again_if_dropped(attempt)  # creating an ACL that exists changes nothing
        self._await_acls(grants, present=True)

    def revoke_all(self, principal: str) -> int:
        """Delete every ACL of a principal; return how many were deleted.

        Returns only once the broker no longer shows any of them, so a caller
        can say "revoked" and mean it.
        """
        deleted = 0
        for future in self._client.delete_acls([principal_filter(principal)]).values():
            deleted += len(self._wait(future, f"revoking access of {principal}"))
        self._await(lambda: not self.acls_of(principal), f"revoking access of {principal}")
        return deleted

    def revoke(self, grants: Iterable[Grant]) -> int:
        """Delete exactly these ACLs; return how many existed (once they are gone)."""
        grants = list(grants)
        filters = [g.filter() for g in grants]
        if not filters:
            return 0
        deleted = 0
        for future in self._client.delete_acls(filters).values():
            deleted += len(self._wait(future, "removing access"))
        self._await_acls(grants, present=False)
        return deleted

    def _await_acls(self, grants: list[Grant], present: bool) -> None:
        """Wait until the broker's view of these ACLs is what was just asked for.

        CreateAcls/DeleteAcls return when the controller committed the change;
        the broker's authorizer applies it a moment later (KRaft metadata).
        """
        wanted = {acl_key(g.binding()) for g in grants}
        principals = {g.principal for g in grants}

        def settled() -> bool:
            seen = {acl_key(b) for p in principals for b in self.acls_of(p)}
            return wanted <= seen if present else not (wanted & seen)

        self._await(settled, "applying access changes")

    def _await(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self._timeout
        while not done():
            if time.monotonic() > deadline:
                raise KafkaTimeoutError(f"{what}: the broker did not apply it in time")
            time.sleep(0.05)  # poll interval while waiting for the condition

    def alter_topic_config(self, topic: str, config: dict[str, str]) -> None:
        entries = [
            ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
            for key, value in config.items()
        ]
        resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=entries)

        def attempt() -> None:
            for future in self._client.incremental_alter_configs([resource]).values():
                self._wait(future, f"changing the configuration of {topic}")

        self._again_if_dropped(attempt)

    def _again_if_dropped(self, attempt: Callable[[], None]) -> None:
        """Run an idempotent request; once more if librdkafka dropped the
        broker it was sent to while it waited. A replicated cluster's
        controller may fence a node that was busy (creating partitions, say)
        for one session timeout; the node is back a moment later, but the
        request is lost with its connection."""
        for left in reversed(range(DROPPED_RETRIES + 1)):
            try:
                return attempt()
            except ChokError as error:
                if not left or not _dropped(error):
                    raise

    def topic_access(self, topics: Iterable[str]) -> dict[str, TopicAccess]:
        """Whether this principal may see each topic: "ok", "denied" or "missing"."""
        result: dict[str, TopicAccess] = {}
        for topic in topics:
            try:
                meta = self._client.list_topics(topic=topic, timeout=self._timeout)
            except KafkaException as exc:
                raise_pending(self._errors)
                raise convert(exc, f"looking up {topic}") from exc
            error = meta.topics[topic].error if topic in meta.topics else None
            if error is None:
                result[topic] = "ok"
            elif error.code() == RdKafkaError.TOPIC_AUTHORIZATION_FAILED:
                result[topic] = "denied"
            else:
                result[topic] = "missing"
        return result

    def verify_access(self, topics: list[str]) -> None:
        """Raise a precise AccessDeniedError when this certificate lost its channels.

        Kafka answers a revoked principal exactly like a stranger: "not
        authorized". A person's bundle lists only channels they were granted,
        so when every one of them is refused, the access was taken away.
        """
        access = self.topic_access(topics)
        denied = [topic for topic, state in access.items() if state == "denied"]
        if topics and len(denied) == len(topics):
            raise AccessDeniedError(
                "access revoked: the cluster no longer lets this certificate use its channels",
                hint="ask your admin for a new bundle",
            )
        if denied:
            raise AccessDeniedError(
                f"access denied to {', '.join(denied)}: you are no longer a member there",
                hint="ask your admin, or get a fresh bundle",
            )

    def broker_settings(self, names: Iterable[str]) -> dict[str, str]:
        """Some settings of one broker (e.g. its authorizer), as the cluster reports them."""
        try:
            meta = self._client.list_topics(timeout=self._timeout)
        except KafkaException as exc:
            raise_pending(self._errors)
            raise convert(exc, "cluster metadata") from exc
        broker = str(min(meta.brokers))
        resource = ConfigResource(ResourceType.BROKER, broker)
        entries = self._wait(self._client.describe_configs([resource])[resource], "broker settings")
        return {n: str(entries[n].value or "") for n in names if n in entries}

    def produce(self, topic: str, records: Iterable[tuple[bytes, bytes | None]]) -> None:
        """Write records (key, value; None is a tombstone) to partition 0 with the
        admin's credentials, and return once the broker acknowledged them all."""
        errors = ErrorCollector(str(self._conf.get("bootstrap.servers", "the cluster")))
        producer = Producer({**self._conf, "error_cb": errors, "enable.idempotence": True})
        failures: list[ChokError] = []

        def report(err: RdKafkaError | None, _msg: Any) -> None:
            if err is not None:
                failures.append(convert(err, f"writing to {topic}"))

        try:
            for key, value in records:
                producer.produce(topic, value=value, key=key, partition=0, on_delivery=report)
        except (BufferError, KafkaException) as exc:
            raise convert(exc, f"writing to {topic}") from exc
        left = producer.flush(self._timeout)
        if failures:
            raise failures[0]
        if left:
            raise errors.take() or KafkaTimeoutError(f"writing to {topic}: not acknowledged")

    def watermarks(self, topics: Iterable[str]) -> dict[str, tuple[int, int]]:
        """(low, high) offsets of partition 0 of each topic, as the broker has them now."""
        errors = ErrorCollector(str(self._conf.get("bootstrap.servers", "the cluster")))
        consumer = Consumer({**self._conf, "error_cb": errors, "group.id": "chok-admin.watermarks"})
        found: dict[str, tuple[int, int]] = {}
        try:
            for topic in topics:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, 0), timeout=self._timeout, cached=False
                )
                found[topic] = (int(low), int(high))
        except KafkaException as exc:
            raise errors.take() or convert(exc, "reading the channels' offsets") from exc
        finally:
            consumer.close()
        return found

    def topic_settings(self, topic: str, names: Iterable[str]) -> dict[str, str]:
        """Some settings of a topic (e.g. min.insync.replicas), as the cluster reports them."""
        resource = ConfigResource(ResourceType.TOPIC, topic)
        entries = self._wait(self._client.describe_configs([resource])[resource], "topic settings")
        return {n: str(entries[n].value or "") for n in names if n in entries}

    def acls_of(self, principal: str) -> list[AclBinding]:
        flt = principal_filter(principal)
        result: list[AclBinding] = self._wait(self._client.describe_acls(flt), "listing ACLs")
        return result

    def _wait(self, future: Any, what: str) -> Any:
        deadline = time.monotonic() + self._timeout
        try:
            return future.result(timeout=max(0.1, deadline - time.monotonic()))
        except KafkaException as exc:
            raise convert(exc, what) from exc
        except TimeoutError as exc:
            pending: ChokError | None = self._errors.take()
            raise pending or KafkaTimeoutError(f"{what}: the broker did not answer") from exc


def _dropped(error: ChokError) -> bool:
    """librdkafka gave up a request because it dropped or lost the broker."""
    cause = error.__cause__
    if not isinstance(cause, KafkaException) or not cause.args:
        return False
    code = getattr(cause.args[0], "code", lambda: None)()
    return code in (RdKafkaError._DESTROY_BROKER, RdKafkaError._TRANSPORT)


def refusal(creds: Credentials, topics: list[str], timeout: float = 10.0) -> ChokError | None:
    """Why these topics are refused, if they are: a revoked person sees "no such
    topic" just like a broker that is restarting; this asks precisely.

    Returns the AccessDeniedError to report, or None when access is fine or the
    cluster cannot be asked right now (then it is a connection problem).
    """
    try:
        Admin(creds, timeout=timeout).verify_access(topics)
    except AccessDeniedError as denied:
        return denied
    except ChokError:
        return None
    return None
