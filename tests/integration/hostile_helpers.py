"""A channel of its own for hostile records, so that what is written there
disturbs no other test, and checks of what the commands print."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from chok import profiles
from chok.protocol.bundle import read_bundle
from chok.protocol.display import is_unsafe_char
from chok.provision import local, service
from tests.conftest import RunResult

_names = itertools.count()


@dataclass
class Channel:
    number: int
    member: Callable[[str], profiles.Profile]


def own_channel() -> Channel:
    """A new channel (real topics and ACLs) and a factory of its members."""
    record, _ = service.add_channel(f"Hostile {next(_names)}")

    def member(prefix: str) -> profiles.Profile:
        name = f"{prefix}{next(_names)}h"
        bundle, _ = local.add_user(name, [record.number], force=False)
        return profiles.install(read_bundle(bundle.to_zip()), name, force=True)

    return Channel(record.number, member)


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
