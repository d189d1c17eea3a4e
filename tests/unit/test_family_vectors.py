"""The vectors of docs/protocol.md section 11 (the family's topics, take-back)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chok.protocol import build_transmission, parse_metadata_record
from chok.protocol.client_config import ChannelConfig
from chok.protocol.heard import HeardIndex, HeardRecord
from chok.protocol.people import (
    AccessRecord,
    PersonProfile,
    Presence,
    parse_access_record,
    parse_person_record,
    validate_display_name,
)
from chok.protocol.transmission import Transmission
from tests.unit.test_protocol_vectors import VECTORS, one

MSG_CHOK = dict(
    user="dan", channel=1, start_offset=25571, end_offset=25604, timestamp_ms=1704825600000,
    tx_id="8f3a5c0e", frames=40, duration_ms=2400, frame_ms=60,
)  # fmt: skip


def test_msg_chok_named() -> None:
    rec = one("msg-chok-named")
    built = build_transmission(**MSG_CHOK, display_name="Grandma Jo")  # type: ignore[arg-type]
    assert (built.key(), built.to_value()) == (rec.key, rec.value)
    assert parse_metadata_record(rec.key, rec.value) == built
    assert built.display_name == "Grandma Jo"


def test_msg_deleted_marker_then_tombstone() -> None:
    marker, tombstone = VECTORS["msg-deleted"]
    tx = parse_metadata_record(one("msg-chok").key, one("msg-chok").value)
    assert isinstance(tx, Transmission)
    built = tx.deletion_marker("dan")
    assert (built.key(), built.to_value()) == (marker.key, marker.value)
    parsed = parse_metadata_record(marker.key, marker.value)
    assert isinstance(parsed, Transmission) and parsed.deleted and parsed.timestamp_ms == 0
    assert tombstone.key == marker.key and tombstone.value is None
    # What the original app's parser needs is there: it keeps the marker (in 1970).
    import json

    from chok.protocol.transmission import REQUIRED_FIELDS

    obj = json.loads(marker.value or b"")
    assert all(name in obj for name in REQUIRED_FIELDS) and obj["timestamp"] == 0


def test_presence_vectors() -> None:
    online, offline = VECTORS["presence"]
    records = [
        Presence("dan", "online", 1704825600000, 60000),
        Presence("dan", "offline", 1704829200000, 60000),
    ]
    for rec, record in zip((online, offline), records, strict=True):
        assert (b"presence", record.to_value()) == (rec.key, rec.value)
        assert parse_person_record("dan", rec.key, rec.value) == record
    assert records[0].online(1704825600000 + 150_000)
    assert not records[0].online(1704825600000 + 150_001)
    assert not records[1].online(1704829200000)


def test_profile_vector() -> None:
    rec = one("profile")
    record = PersonProfile("emilie", "Émilie", 1704825600000)
    assert (b"profile", record.to_value()) == (rec.key, rec.value)
    assert parse_person_record("emilie", rec.key, rec.value) == record
    assert rec.value is not None and b"\xc3\x89milie" in rec.value
    # A decomposed É (E + U+0301) is written as the composed one.
    assert validate_display_name("E\u0301milie") == "Émilie"


def test_heard_vector() -> None:
    rec = one("heard")
    record = HeardRecord("mum", 1, 6, ((25571, 25604), (25610, 25700)), 1704825660000)
    assert (record.key(), record.to_value()) == (rec.key, rec.value)
    parsed = parse_person_record("mum", rec.key, rec.value)
    assert parsed == record and isinstance(parsed, HeardRecord)
    index = HeardIndex.of_records([parsed])
    assert index.heard_by(25571, 25604) == ["mum"]  # msg-chok was heard by mum
    assert index.heard_by(25571, 25604, talker="mum") == []
    assert index.heard_by(25600, 25620) == []  # 25605..25609 not heard


def test_access_vector() -> None:
    rec = one("access")
    record = AccessRecord("dan", (ChannelConfig.standard(1, "Main"),), 1704825600000)
    assert (b"access", record.to_value()) == (rec.key, rec.value)
    assert parse_access_record("dan", rec.key, rec.value) == record
    assert parse_access_record("eve", rec.key, rec.value) is None


def test_skip_family_vectors() -> None:
    records = VECTORS["skip-family"]
    assert len(records) >= 10
    for rec in records:
        if rec.key == b"access":
            assert parse_access_record("dan", rec.key, rec.value) is None, rec
        else:
            assert parse_person_record("dan", rec.key, rec.value) is None, rec


@given(st.binary(max_size=40), st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_family_records_never_raise(key: bytes, value: bytes) -> None:
    for candidate in (key, b"presence", b"profile", b"heard-1-6", b"access"):
        parse_person_record("dan", candidate, value)
        parse_access_record("dan", candidate, value)


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_a_valid_display_name_stays_valid(text: str) -> None:
    from chok.errors import UsageError
    from chok.protocol.people import is_display_name, shown

    try:
        name = validate_display_name(text)
    except UsageError:
        return
    assert is_display_name(name) and validate_display_name(name) == name
    assert shown(name) == name  # nothing to escape in a valid name
