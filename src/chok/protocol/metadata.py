"""Dispatch of ``chok-metadata-{n}`` records by key (protocol.md, sections 5, 9, 10)."""

from __future__ import annotations

from ._util import loads_object
from .reactions import REACTION_KEY_PREFIX, ReactionRecord, parse_reaction_value
from .sealed import (
    SEALED_REACTION_PREFIX,
    WRAPPED_KEY_PREFIX,
    SealedRecord,
    WrappedKey,
    is_envelope,
    parse_envelope,
    parse_sealed_reaction_key,
    parse_wrapped_key,
)
from .signing import (
    CERT_KEY_PREFIX,
    REVOKED_KEY_PREFIX,
    CertRecord,
    Revocation,
    parse_cert_record,
    parse_revocation_value,
)
from .transmission import (
    TRANSMISSION_KEY_PREFIX,
    Transmission,
    parse_transmission_key,
    parse_transmission_value,
)
from .transmission_fast import parse_transmission_fast

_MSG = TRANSMISSION_KEY_PREFIX.encode("ascii")
_REACT = REACTION_KEY_PREFIX.encode("ascii")
_CERT = CERT_KEY_PREFIX.encode("ascii")
_REVOKED = REVOKED_KEY_PREFIX.encode("ascii")
_WRAPPED = WRAPPED_KEY_PREFIX.encode("ascii")
_SEALED_REACT = SEALED_REACTION_PREFIX.encode("ascii")

MetadataRecord = Transmission | ReactionRecord | CertRecord | Revocation | WrappedKey | SealedRecord


def parse_metadata_record(
    key: bytes | None, value: bytes | None, *, channel: int | None = None
) -> MetadataRecord | None:
    """What a metadata record is; None means skip it (tombstone, unknown, malformed).

    With ``channel``, records of another channel are skipped too. Never raises.
    Signatures are not checked here (chok.pki does that), and a sealed record
    (private channel) comes back as a SealedRecord for whoever holds its key.
    """
    if not isinstance(key, bytes) or not isinstance(value, bytes):
        return None
    if key.startswith(_MSG):
        return _transmission(key, value, channel)
    if key.startswith(_REACT):
        obj = loads_object(value)
        record = parse_reaction_value(key, obj) if obj is not None else None
        return record if record is not None and channel in (None, record.channel) else None
    if key.startswith(_CERT):
        return parse_cert_record(key, value)
    if key.startswith(_REVOKED):
        obj = loads_object(value)
        revocation = parse_revocation_value(key, obj) if obj is not None else None
        ok = revocation is not None and channel in (None, revocation.channel)
        return revocation if ok else None
    if key.startswith(_WRAPPED):
        wrapped = parse_wrapped_key(key, value)
        return wrapped if wrapped is not None and channel in (None, wrapped.channel) else None
    if key.startswith(_SEALED_REACT):
        ids = parse_sealed_reaction_key(key)
        if ids is None or channel not in (None, ids.channel):
            return None
        return parse_envelope(key, value)
    return None


def _transmission(key: bytes, value: bytes, channel: int | None) -> MetadataRecord | None:
    fast = parse_transmission_fast(key, value)  # the usual layout, 3x quicker
    if fast is not False:
        return fast if fast is None or channel in (None, fast.channel) else None
    ids = parse_transmission_key(key)
    if ids is None or channel not in (None, ids[0]):
        return None
    if is_envelope(value):
        return parse_envelope(key, value)
    obj = loads_object(value)
    record = parse_transmission_value(obj) if obj is not None else None
    if record is not None and (record.channel, record.start_offset) != ids:
        return None
    return record
