"""Dispatch of ``chok-metadata-{n}`` records by key (protocol.md, section 5)."""

from __future__ import annotations

from ._util import loads_object
from .reactions import REACTION_KEY_PREFIX, ReactionRecord, parse_reaction_value
from .transmission import (
    TRANSMISSION_KEY_PREFIX,
    Transmission,
    parse_transmission_fast,
    parse_transmission_key,
    parse_transmission_value,
)

_MSG = TRANSMISSION_KEY_PREFIX.encode("ascii")
_REACT = REACTION_KEY_PREFIX.encode("ascii")


def parse_metadata_record(
    key: bytes | None, value: bytes | None, *, channel: int | None = None
) -> Transmission | ReactionRecord | None:
    """What a metadata record is; None means skip it (tombstone, unknown, malformed).

    With ``channel``, records of another channel are skipped too. Never raises.
    """
    if not isinstance(key, bytes) or not isinstance(value, bytes):
        return None
    record: Transmission | ReactionRecord | None = None
    if key.startswith(_MSG):
        fast = parse_transmission_fast(key, value)
        if fast is not False:
            if fast is not None and channel is not None and fast.channel != channel:
                return None
            return fast
        ids = parse_transmission_key(key)
        obj = loads_object(value) if ids is not None else None
        record = parse_transmission_value(obj) if obj is not None else None
        if record is not None and (record.channel, record.start_offset) != ids:
            return None
    elif key.startswith(_REACT):
        obj = loads_object(value)
        record = parse_reaction_value(key, obj) if obj is not None else None
    if record is not None and channel is not None and record.channel != channel:
        return None
    return record
