"""A channel of its own for hostile records, so that what is written there
disturbs no other test, and checks of what the commands print."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace

from chok import pki, profiles
from chok.protocol.client_config import ChannelConfig
from chok.protocol.display import is_unsafe_char
from chok.provision import access, local
from chok.provision.topics import channel_topics
from tests.conftest import RunResult

_names = itertools.count()
_numbers = itertools.count(8000)  # tests/gui/conftest.py's private channels use 9000 on


@dataclass
class Channel:
    number: int
    member: Callable[..., profiles.Profile]


def own_channel() -> Channel:
    """A channel of its own (real topics and ACLs) and a factory of its members.

    Like tests/gui/conftest.py's private_channel, it is not in the admin's
    registry, so that tests counting channels or reading channel 1 see nothing of it.
    """
    number = next(_numbers)
    admin, _ = local.admin_client()
    admin.create_topics(channel_topics(number))

    def member(prefix: str, channel_name: str | None = None) -> profiles.Profile:
        """A member whose bundle calls the channel ``channel_name`` (any text a
        bundle may hold), else "hostile N"."""
        name = f"{prefix}{next(_names)}h"
        bundle, _ = local.add_user(name, [1], force=False)
        principal = access.principal_for(pki.common_name(bundle.cert_pem))
        admin.grant(access.channel_grants(principal, number))
        shown = channel_name or f"hostile {number}"
        config = replace(bundle.config, channels=[ChannelConfig.standard(number, shown)])
        return profiles.install(replace(bundle, config=config), name, force=True)

    return Channel(number, member)


def shown_raw(text: str) -> list[str]:
    """Unsafe characters in output (a line break only ends a line)."""
    return [c for line in text.splitlines() for c in line if is_unsafe_char(c)]


def assert_survived(result: RunResult, *allowed_codes: int) -> None:
    """Exit 0 (or a documented code with one clean line), no traceback, nothing unsafe shown."""
    assert "Traceback" not in result.err, result.err[-3000:]
    assert result.code in (0, *allowed_codes), (result.code, result.err[-3000:])
    if result.code != 0:
        assert len([ln for ln in result.err.splitlines() if ln.startswith("chok: error:")]) == 1
    assert shown_raw(result.out) == [] and shown_raw(result.err) == []
