"""What the admin tells the family through its topics (provision.family):
each person's channels (their access record) and display name.

A change of a person's channels or name is published here after the
registry and the cluster accepted it; on a cluster provisioned before the
family topics existed, ``upgrade`` (run by `chok admin init`) sets them up.
"""

from __future__ import annotations

import contextlib

from chok.errors import TopicMissingError
from chok.kafka.records import Record
from chok.protocol.client_config import ChannelConfig
from chok.protocol.people import validate_display_name
from chok.provision import registry
from chok.provision.backend import Backend, open_backend
from chok.provision.changes import active_user, exclusive, principal_of
from chok.provision.family import access_record, profile_record


def _channel_configs(reg: registry.Registry, record: registry.UserRecord) -> list[ChannelConfig]:
    return [
        ChannelConfig.standard(number, channel.name)
        for number in record.channels
        if (channel := reg.channel(number)) is not None
    ]


def _access_record(reg: registry.Registry, record: registry.UserRecord) -> Record:
    configs = _channel_configs(reg, record)
    private = [c.number for c in configs if (ch := reg.channel(c.number)) and ch.private]
    return access_record(record.name, configs, private)


def publish_access(reg: registry.Registry, backend: Backend, record: registry.UserRecord) -> None:
    """Tell a person which channels they may use now (read by their chok).

    On a cluster not upgraded yet (no family topics) the person learns it from
    a new bundle, as before: `chok admin init` upgrades it."""
    family = backend.family()
    if family is not None:
        with contextlib.suppress(TopicMissingError):
            family.write([_access_record(reg, record)])


def set_up_family(
    reg: registry.Registry, backend: Backend, records: list[registry.UserRecord]
) -> list[str]:
    """Each person's two family topics, their access record and their display
    name; returns the topics created. Does nothing where the backend cannot."""
    family = backend.family()
    if family is None or not records:
        return []
    created = family.ensure_topics(r.name for r in records)
    writes = [_access_record(reg, r) for r in records]
    writes += [profile_record(r.name, r.display_name) for r in records if r.display_name]
    family.write(writes, created=created)
    return created


def upgrade(reg: registry.Registry, backend: Backend) -> list[str]:
    """Bring a cluster provisioned by an older chok up to date (re-running
    `chok admin init` does it): family topics and ACLs for every active person,
    and the metadata topics' compaction settings for deletion."""
    family = backend.family()
    if family is None:
        return []
    active = [u for u in reg.users if not u.revoked]
    for record in active:
        backend.grant(principal_of(record), record.name, [])
    family.upgrade_channels(c.number for c in reg.channels)
    return set_up_family(reg, backend, active)


@exclusive
def set_display_name(name: str, display_name: str) -> registry.UserRecord:
    """The admin names a person for the family (they may change it themselves)."""
    reg = registry.load()
    record = active_user(reg, name)
    record.display_name = validate_display_name(display_name)
    backend = open_backend(reg)
    family = backend.family()
    if family is not None:
        family.write([profile_record(record.name, record.display_name)])
    registry.save(reg)
    return record
