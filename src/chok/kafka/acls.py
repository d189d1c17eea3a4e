"""The ACL rules chok grants: one ALLOW binding per person, operation and
topic or group (exact name or prefix), and the filters that find them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)


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

    def filter(self) -> AclBindingFilter:
        """A filter matching exactly this ACL (to delete it)."""
        b = self.binding()
        return AclBindingFilter(
            b.restype,
            b.name,
            b.resource_pattern_type,
            b.principal,
            b.host,
            b.operation,
            b.permission_type,
        )


def acl_key(b: AclBinding) -> tuple[Any, ...]:
    """What makes two ACL bindings the same rule."""
    return (b.restype, b.name, b.resource_pattern_type, b.principal, b.operation, b.permission_type)


def principal_filter(principal: str) -> AclBindingFilter:
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
