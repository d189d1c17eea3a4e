"""A private (end-to-end encrypted) channel made with the admin's own command
for one test, and taken away afterwards: other tests of the session count the
channels and topics, and must not see it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator

import pytest

from chok.errors import ChokError
from chok.provision import registry, service
from chok.provision.local import admin_client
from chok.provision.trust import EpochState


@pytest.fixture
def sealed_channel(cluster) -> Iterator[Callable[[], int]]:  # type: ignore[no-untyped-def]
    """Factory: `chok admin add-channel NAME --private`; the channel's number."""
    made: list[int] = []

    def make() -> int:
        channel, _created = service.add_channel(f"Secret {uuid.uuid4().hex[:6]}", private=True)
        assert channel.private
        made.append(channel.number)
        return channel.number

    yield make
    if not made:
        return
    reg = registry.load()
    reg.channels = [c for c in reg.channels if c.number not in made]
    for user in reg.users:
        user.channels = [n for n in user.channels if n not in made] or [1]
    registry.save(reg)
    admin, _ = admin_client()
    with contextlib.suppress(ChokError):
        admin.delete_topics([f"chok-{kind}-{n}" for n in made for kind in ("audio", "metadata")])
    for number in made:
        EpochState.load(number).path.unlink(missing_ok=True)
