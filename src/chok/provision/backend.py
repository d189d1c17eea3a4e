"""What a provisioning backend does, whatever runs the cluster.

Three backends implement it: ``local`` (the embedded broker), ``kafka`` (any
cluster the admin holds admin credentials for) and ``aiven`` (Aiven's API).
The admin's use cases (``service``, ``channels``, ``publish``) speak only
this interface, so every command works the same on all three.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from chok import pki
from chok.errors import ConfigError
from chok.kafka.admin import Admin
from chok.provision import registry
from chok.provision.family import FamilyAdmin

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Identity:
    """A freshly issued certificate and the principal the cluster sees for it."""

    issued: pki.Issued
    principal: str


class Backend(Protocol):
    name: str

    def bootstrap(self) -> str:
        """The address clients connect to (``host:port``, comma-separated)."""
        ...

    def ensure_channel(self, number: int) -> list[str]:
        """Create the channel's topics that are missing; return their names."""
        ...

    def issue(self, user: str, generation: int) -> Identity:
        """A certificate for one generation of a user (no access yet)."""
        ...

    def grant(self, principal: str, user: str, channels: list[int]) -> None:
        """Let a principal use these channels (and its own group prefix)."""
        ...

    def deny(self, principal: str, user: str, channels: list[int]) -> None:
        """Take these channels away from a principal."""
        ...

    def revoke(self, principal: str) -> None:
        """Remove every access of a principal (idempotent)."""
        ...

    def publisher(self) -> Admin | None:
        """A super-user client that writes records to channels' topics (the admin's
        signed revocations and a private channel's epoch keys); None where chok
        holds no such credentials (Aiven)."""
        ...

    def family(self) -> FamilyAdmin | None:
        """The family's topics and records (provision.family), where the backend
        can make them; None where it cannot."""
        ...


def open_backend(reg: registry.Registry) -> Backend:
    """The backend this CHOK_HOME was initialised with."""
    if not reg.channels and not reg.bootstrap:
        raise ConfigError("no cluster set up here yet", hint="run `chok admin init` first")
    if reg.backend == "local":
        from chok.provision.kafka_backend import open_local

        return open_local(reg)
    if reg.backend == "kafka":
        from chok.provision.kafka_backend import open_kafka

        return open_kafka(reg)
    if reg.backend == "aiven":
        from chok.provision.aiven_backend import open_aiven

        return open_aiven(reg)
    raise ConfigError(f"unknown backend '{reg.backend}' in the registry")
