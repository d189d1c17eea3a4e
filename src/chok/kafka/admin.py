"""Admin operations (topics, ACLs) through confluent-kafka's AdminClient."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)

from chok.errors import ChokError, KafkaTimeoutError
from chok.kafka.client import Credentials, raise_pending, with_errors
from chok.kafka.errors import convert


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    config: dict[str, str]


@dataclass(frozen=True)
class Grant:
    """One ALLOW ACL: principal may do operation on a topic or group (name or prefix)."""

    principal: str
    resource: str  # "topic" | "group"
    name: str
    operation: str  # "READ" | "WRITE" | "DESCRIBE" | ...
    prefixed: bool = False

    def binding(self) -> AclBinding:
        return AclBinding(
            ResourceType.TOPIC if self.resource == "topic" else ResourceType.GROUP,
            self.name,
            ResourcePatternType.PREFIXED if self.prefixed else ResourcePatternType.LITERAL,
            f"User:{self.principal}",
            "*",
            AclOperation[self.operation],
            AclPermissionType.ALLOW,
        )


class Admin:
    def __init__(self, creds: Credentials, timeout: float = 15.0) -> None:
        conf, self._errors = with_errors(creds, {})
        self._client = AdminClient(conf)
        self._timeout = timeout

    def ping(self, timeout: float) -> int:
        """Return the number of brokers, or raise the reason none answered."""
        try:
            meta = self._client.list_topics(timeout=timeout)
        except KafkaException as exc:
            raise_pending(self._errors)
            raise convert(exc, "cluster metadata") from exc
        return len(meta.brokers)

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
        bindings = [g.binding() for g in grants]
        if not bindings:
            return
        for binding, future in self._client.create_acls(bindings).items():
            self._wait(future, f"granting access to {binding.name}")

    def revoke_all(self, principal: str) -> int:
        """Delete every ACL of a principal; return how many were deleted."""
        deleted = 0
        for future in self._client.delete_acls([_principal_filter(principal)]).values():
            deleted += len(self._wait(future, f"revoking access of {principal}"))
        return deleted

    def acls_of(self, principal: str) -> list[AclBinding]:
        flt = _principal_filter(principal)
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


def _principal_filter(principal: str) -> AclBindingFilter:
    """Match every ACL of one principal, on any resource, from any host."""
    anything: Any = None  # librdkafka's wildcard for name and host
    return AclBindingFilter(
        ResourceType.ANY,
        anything,
        ResourcePatternType.ANY,
        f"User:{principal}",
        anything,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
