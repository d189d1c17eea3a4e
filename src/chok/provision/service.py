"""The admin's use cases, the same on every backend; this module owns people's.

Adding, re-issuing, revoking and listing people live here. The rest of the
admin's use cases have their own modules and are re-exported here, so the CLI
and the tests keep one place to call: every change's lock and pending
revocations (``changes``), channels (``channels``), what the family's topics
are told (``publish``), bundles and client configurations (``bundles``).

A new person exists entirely (bundle written, access granted, listed) or not
at all: the bundle is staged before the cluster is touched, and a failure
after that takes the new certificate's access away again (see ``changes`` for
the lock and the pending revocations every change relies on).
"""

from __future__ import annotations

import contextlib
from typing import Protocol

from chok import pki
from chok.errors import ChokError, ConfigError, TopicMissingError, UsageError
from chok.pki.cluster import ADMIN_PRINCIPAL, BROKER_PRINCIPAL
from chok.protocol.bundle import Bundle
from chok.protocol.names import validate_user_name
from chok.protocol.people import validate_display_name
from chok.provision import access, registry, userkeys
from chok.provision.backend import Backend, open_backend
from chok.provision.bundles import (
    LIVE_BATCH_SETTING,
    admin_credentials,
    bundle_ca_pem,
    bundle_for,
    client_config,
    make_bundle,
    server_ca_pem,
    set_live_batch,
)
from chok.provision.changes import (
    exclusive,
    now,
    principal_of,
    retire_certificate,
    settle,
)
from chok.provision.channels import (
    MAX_CHANNEL_NAME,
    MAX_CHANNELS,
    ChannelsResult,
    InitResult,
    add_channel,
    check_backend,
    check_channel_count,
    create_channels,
    deny,
    grant,
    list_channels,
)
from chok.provision.family import removed_record
from chok.provision.publish import publish_access, set_display_name, set_up_family, upgrade

__all__ = [
    "LIVE_BATCH_SETTING",
    "MAX_CHANNELS",
    "MAX_CHANNEL_NAME",
    "RESERVED_NAMES",
    "BundleSink",
    "ChannelsResult",
    "InitResult",
    "add_channel",
    "add_user",
    "admin_credentials",
    "bundle_ca_pem",
    "bundle_for",
    "check_backend",
    "check_channel_count",
    "client_config",
    "create_channels",
    "deny",
    "exclusive",
    "get_bundle",
    "grant",
    "list_channels",
    "list_users",
    "make_bundle",
    "principal_of",
    "publish_access",
    "revoke_user",
    "rotate_user",
    "server_ca_pem",
    "set_display_name",
    "set_live_batch",
    "set_up_family",
    "settle",
    "upgrade",
]

RESERVED_NAMES = {ADMIN_PRINCIPAL, BROKER_PRINCIPAL, "ANONYMOUS", "user1", "avnadmin"}


class BundleSink(Protocol):
    """Where a new person's bundle goes: staged before any change, then committed."""

    def stage(self, bundle: Bundle) -> None:
        """Write the bundle next to its final place (raise if that cannot be done)."""
        ...

    def commit(self) -> None:
        """Put the staged bundle in its final place."""
        ...

    def discard(self) -> None:
        """Remove what was staged or committed (the change did not happen)."""
        ...


def _record(
    name: str, numbers: list[int], identity_cert: bytes, principal: str, generation: int
) -> registry.UserRecord:
    return registry.UserRecord(
        name=name,
        channels=numbers,
        created=now(),
        cert_expires=pki.expiry(identity_cert).isoformat(timespec="seconds"),
        cert_serial=format(pki.load_cert(identity_cert).serial_number, "x"),
        generation=generation,
        principal=principal,
    )


def _checked_channels(
    reg: registry.Registry, channels: list[int] | None, fallback: list[int]
) -> list[int]:
    numbers = sorted(set(channels or fallback))
    unknown = [n for n in numbers if reg.channel(n) is None]
    if unknown:
        raise UsageError(
            f"no channel {unknown[0]}", hint="see `chok admin list-channels` or `add-channel`"
        )
    return numbers


@exclusive
def add_user(
    name: str,
    channels: list[int] | None,
    force: bool,
    sink: BundleSink | None = None,
    display_name: str | None = None,
) -> tuple[Bundle, registry.UserRecord]:
    """Give a new person a certificate and access; with force, start them afresh.

    With a ``sink``, the bundle is written there as part of the change: if it
    cannot be written, nobody was created. ``display_name``: what the family
    sees (kept from before when not given).
    """
    name = validate_user_name(name)
    if display_name is not None:
        display_name = validate_display_name(display_name)
    if name in RESERVED_NAMES:
        raise UsageError(f"'{name}' is reserved by chok: choose another name")
    access.check_provisionable(name)
    reg = registry.load()
    if not reg.channels:
        raise ConfigError("no channels yet", hint="run `chok admin init` first")
    existing = reg.user(name)
    if existing is not None and not force:
        raise UsageError(
            f"user '{name}' already exists",
            hint="use `--force` to issue a new certificate for them",
        )
    fallback = existing.channels if existing else [c.number for c in reg.channels]
    numbers = _checked_channels(reg, channels, fallback)
    backend = open_backend(reg)
    settle(reg, backend)
    generation = 1 if existing is None else existing.generation + 1
    shown_as = display_name or (existing.display_name if existing is not None else "")
    bundle, record = _issue(reg, backend, name, generation, numbers, existing, sink, shown_as)
    try:
        set_up_family(reg, backend, [record])
    except ChokError as exc:
        raise type(exc)(
            f"{name} was added, but their family topics are not ready: {exc.message}",
            hint="run `chok admin init` again: it sets them up",
        ) from exc
    return bundle, record


def _issue(
    reg: registry.Registry,
    backend: Backend,
    name: str,
    generation: int,
    numbers: list[int],
    previous: registry.UserRecord | None,
    sink: BundleSink | None,
    display_name: str = "",
) -> tuple[Bundle, registry.UserRecord]:
    """Issue a certificate generation, grant it, and retire the previous one."""
    identity = backend.issue(name, generation)  # on Aiven, a service user: undone below
    kept_key = userkeys.load_if_any(name)
    try:
        record = _record(name, numbers, identity.issued.cert_pem, identity.principal, generation)
        record.display_name = display_name
        if previous is not None:
            record.created = previous.created
            record.rotated_at = now()
        bundle = bundle_for(reg, record, identity.issued)
        if sink is not None:
            sink.stage(bundle)
        # Written down before access exists: if this command dies from here
        # on, the next admin command takes that access away again.
        reg.pending_revocations.append(identity.principal)
        registry.save(reg)
        backend.grant(identity.principal, name, numbers)
        userkeys.save(name, identity.issued)
        if sink is not None:
            sink.commit()
        reg.pending_revocations.remove(identity.principal)
        if previous is not None and not previous.revoked:
            reg.pending_revocations.append(principal_of(previous))
            retire_certificate(reg, kept_key.cert_pem if kept_key is not None else None)
        reg.put_user(record)
        registry.save(reg)
    except BaseException:
        if sink is not None:
            sink.discard()
        userkeys.restore(name, kept_key)
        _undo_grant(backend, identity.principal)
        raise
    try:
        settle(reg, backend)
    except ChokError as exc:
        raise type(exc)(
            f"{name}'s new certificate is ready (`chok admin get-bundle {name}`), "
            f"but the old one is not revoked yet: {exc.message}",
            hint="run the command again to retry the revocation",
        ) from exc
    return bundle, record


def _undo_grant(backend: Backend, principal: str) -> None:
    """Take a half-made person's access away again (best effort: what cannot be
    done now stays a pending revocation that the next admin command carries out)."""
    with contextlib.suppress(ChokError):
        backend.revoke(principal)
        reg = registry.load()
        if principal in reg.pending_revocations:
            reg.pending_revocations.remove(principal)
            registry.save(reg)


@exclusive
def rotate_user(name: str, sink: BundleSink | None = None) -> tuple[Bundle, registry.UserRecord]:
    """A new certificate (and principal) for a person; the old one stops working."""
    reg = registry.load()
    record = reg.require_user(validate_user_name(name))
    if record.revoked:
        raise UsageError(
            f"{name} was revoked", hint=f"to let them back in: `chok admin add-user {name} --force`"
        )
    return add_user(name, record.channels, force=True, sink=sink)


def get_bundle(
    name: str, rotate: bool = False, sink: BundleSink | None = None
) -> tuple[Bundle, registry.UserRecord]:
    """A person's bundle again, with their current certificate (or a new one)."""
    if rotate:
        return rotate_user(name, sink)
    reg = registry.load()
    record = reg.require_user(validate_user_name(name))
    if record.revoked:
        raise UsageError(
            f"{name} was revoked: their old bundle no longer works",
            hint=f"to let them back in: `chok admin add-user {name} --force`",
        )
    bundle = make_bundle(reg, record)
    if sink is not None:
        sink.stage(bundle)
        sink.commit()
    return bundle, record


@exclusive
def revoke_user(name: str) -> registry.UserRecord:
    """Take every access away from a person, at once."""
    reg = registry.load()
    record = reg.require_user(validate_user_name(name))
    backend = open_backend(reg)
    if not record.revoked:
        record.revoked, record.revoked_at = True, now()
        # Written down before it is done: an interruption is retried later.
        reg.pending_revocations.append(principal_of(record))
        kept = userkeys.load_if_any(record.name)
        retire_certificate(reg, kept.cert_pem if kept is not None else None)
        registry.save(reg)
    settle(reg, backend)
    userkeys.delete(record.name)
    family = backend.family()
    if family is not None:
        # A cluster not upgraded yet has no family topics: nothing to mark there.
        with contextlib.suppress(TopicMissingError):
            family.write([removed_record(record.name)])
    return record


def list_users() -> list[registry.UserRecord]:
    return sorted(registry.load().users, key=lambda u: u.name)
