"""How every admin change runs, whichever use case it is (people, channels, family).

Concurrency: every change holds the admin lock (``<CHOK_HOME>/.admin.lock``)
from reading the registry to writing it, so two admin commands at once run
one after the other and never lose each other's users.

Failure safety: the registry is saved only after the cluster accepted a
change, except for access that may have to be taken back, which is written
down first (as a pending revocation) and then carried out; every later
command retries a pending revocation (``settle``). So an interrupted rotate or
revoke never leaves an old certificate working.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from chok.errors import UsageError
from chok.home import locked
from chok.protocol.names import validate_user_name
from chok.provision import registry, trust
from chok.provision.backend import Backend

P = ParamSpec("P")
R = TypeVar("R")


def exclusive(change: Callable[P, R]) -> Callable[P, R]:
    """Run an admin change under the admin lock (reentrant: changes may nest)."""

    @functools.wraps(change)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with locked("admin"):
            return change(*args, **kwargs)

    return run


def now() -> str:
    """The registry's timestamps: UTC, to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def settle(reg: registry.Registry, backend: Backend) -> None:
    """Carry out revocations that an earlier, interrupted command left pending,
    then publish what trust needs: signed revocations of the certificates they
    retired, and private channels' keys for exactly their current members."""
    while reg.pending_revocations:
        backend.revoke(reg.pending_revocations[0])
        reg.pending_revocations.pop(0)
        registry.save(reg)
    trust.sync_all(reg, backend)


def retire_certificate(reg: registry.Registry, cert_pem: bytes | None) -> None:
    """Remember to publish the revocation of a certificate (protocol.md 9.7)."""
    if cert_pem is None:
        return  # the admin's copy is gone: it was retired already
    fp = trust.cert_fingerprint(cert_pem)
    if fp not in reg.pending_cert_revocations:
        reg.pending_cert_revocations.append(fp)


def principal_of(record: registry.UserRecord) -> str:
    return record.principal or record.name


def active_user(reg: registry.Registry, name: str) -> registry.UserRecord:
    """The person a change is about; UsageError if they were revoked."""
    record = reg.require_user(validate_user_name(name))
    if record.revoked:
        raise UsageError(f"{name} was revoked", hint=f"`chok admin add-user {name} --force` first")
    return record
