"""The vectors of docs/protocol.md sections 9 (signatures) and 10 (private
channels), rebuilt byte for byte from the fixed identities and checked both ways."""

from __future__ import annotations

import dataclasses
import json

import pytest

from chok.pki import sealing
from chok.pki.trust import FORGED, VERIFIED, TrustStore
from chok.protocol.audio import EndOfTransmission, build_audio_frame, build_end_of_transmission
from chok.protocol.metadata import parse_metadata_record
from chok.protocol.reactions import ReactionRecord
from chok.protocol.sealed import (
    SealedRecord,
    WrappedKey,
    build_sealed_frame,
    parse_sealed_frame,
    parse_sealed_reaction_key,
    sealed_reaction_key,
)
from chok.protocol.signing import (
    CertRecord,
    FrameDigest,
    Revocation,
    SignatureFields,
    build_cert_record,
    end_message,
    fingerprint,
    parse_end_signature,
)
from chok.protocol.transmission import Transmission, build_transmission
from tests.unit import vector_identities as ids
from tests.unit.test_protocol_vectors import BYTES, DOC, VECTORS, Rec, one

TX = "8f3a5c0e"
SALT = bytes.fromhex("5a17c0de")
WHO = ("ca", "dan", "ann", "admin")


def store() -> TrustStore:
    """What a receiver knows after reading the certificate records of 9.6."""
    trust = TrustStore(ids.authority())
    for who in ("dan", "ann", "admin"):
        trust.add_cert(build_cert_record(ids.der(who)))
    return trust


def story_digest() -> bytes:
    """9.2: frames 0, 1 and 5 of section 8.2's transmission."""
    digest = FrameDigest()
    for name in ("audio-frame", "audio-silence", "audio-gap"):
        rec = one(name)
        assert rec.headers is not None and rec.headers[0][1] is not None and rec.value
        digest.add(int.from_bytes(rec.headers[0][1][5:8], "big"), rec.value)
    return digest.digest()


def story_tx() -> Transmission:
    return build_transmission(
        user="dan", channel=1, start_offset=25571, end_offset=25573,
        timestamp_ms=1704825600000, tx_id=TX, frames=6, duration_ms=360, frame_ms=60,
    )  # fmt: skip


def parsed(rec: Rec) -> object:
    return parse_metadata_record(rec.key, rec.value)


@pytest.mark.parametrize("who", WHO)
def test_identities(who: str) -> None:
    assert BYTES[f"key-{who}"] == ids.scalar(who).to_bytes(32, "big")
    assert BYTES[f"der-{who}"] == ids.der(who)
    cn = ids.PEOPLE[who][0]
    assert f"| `{cn}` | `{fingerprint(ids.der(who))}` |" in DOC.read_text(encoding="utf-8")


def test_the_ca_accepts_people_and_the_admin_but_not_itself() -> None:
    authority = ids.authority()
    assert authority.check(ids.der("ca")) is None  # a CA never signs records
    infos = {who: authority.check(ids.der(who)) for who in ("dan", "ann", "admin")}
    assert {w: (i.name if i else None) for w, i in infos.items()} == {
        "dan": "dan",
        "ann": "ann",
        "admin": "admin",
    }


def test_cert_record() -> None:
    rec = one("cert-dan")
    built = build_cert_record(ids.der("dan"))
    assert (built.key(), built.der) == (rec.key, rec.value)
    assert parsed(rec) == CertRecord(fingerprint(ids.der("dan")), ids.der("dan"))
    assert parse_metadata_record(b"chok-cert-" + b"0" * 32, rec.value) is None


def test_frame_digest_and_signed_message() -> None:
    assert story_digest() == BYTES["frames-digest"]
    frames = FrameDigest()
    for seq, packet in ((0, bytes(range(1, 31))), (1, b"\xf8\xff\xfe"), (5, bytes(range(31, 61)))):
        frames.add(seq, build_audio_frame("dan", TX, seq, packet, 60).value)
    assert frames.digest() == BYTES["frames-digest"]
    assert story_tx().signed_message(story_digest()) == BYTES["msg-signed-message"]


def test_signed_transmission() -> None:
    rec = one("msg-signed")
    signed = ids.signer("dan").sign_transmission(story_tx(), story_digest())
    assert (signed.key(), signed.to_value()) == (rec.key, rec.value)
    tx = parsed(rec)
    assert tx == signed and isinstance(tx, Transmission)
    verdict = store().transmission(tx)
    assert (verdict.status, verdict.signer) == (VERIFIED, "dan")
    refresh = one("msg-signed-refresh")
    again = signed.with_reactions({"👍": ["ann"]})
    assert (again.key(), again.to_value()) == (refresh.key, refresh.value)
    assert store().transmission(again).status == VERIFIED


def test_signed_end_record_verifies_live() -> None:
    rec = one("audio-end-signed")
    said = {"channel": 1, "tx_id": TX, "talker": "dan", "timestamp_ms": 1704825600000}
    said |= {"duration_ms": 360, "frame_ms": 60, "frames": 6, "frames_hash": story_digest()}
    assert end_message(**said) == BYTES["end-signed-message"]
    end = build_end_of_transmission("dan", TX, 6, 360, frame_ms=60)
    headers = [*end.headers, ids.signer("dan").end_signature(**said).header()]
    assert (end.key, end.value, headers) == (rec.key, rec.value, rec.headers)
    from chok.protocol.audio import parse_audio_record

    assert parse_audio_record(rec.key, rec.value, rec.headers) == EndOfTransmission(
        "dan", TX, 6, 360
    )
    end_sig = parse_end_signature(rec.headers)
    common = {"channel": 1, "talker": "dan", "tx_id": TX, "frames": 6, "duration_ms": 360}
    common |= {"frame_ms": 60, "frames_hash": story_digest(), "end_sig": end_sig}
    verdict = store().end(**common)
    # Live, it says when it was said (an old transmission sent again is verified, but old).
    assert (verdict.status, verdict.said_ms) == (VERIFIED, 1704825600000)
    # A frame altered, added or dropped changes the digest; so does another count.
    assert store().end(**{**common, "frames_hash": bytes(32)}).status == FORGED
    assert store().end(**{**common, "frames": 7}).status == FORGED


def test_signed_reaction() -> None:
    rec = one("reaction-signed")
    record = ReactionRecord(1, 25571, "ann", "👍", True, 1704825660000)
    signed = ids.signer("ann").sign_reaction(record)
    assert (signed.key(), signed.to_value()) == (rec.key, rec.value)
    assert parsed(rec) == signed
    assert store().reaction(signed, 10).status == VERIFIED
    stolen = dataclasses.replace(signed, on=False)  # someone takes it back in ann's name
    assert store().reaction(stolen, 11).status == FORGED


def test_revocation() -> None:
    rec = one("revoked")
    unsigned = Revocation(fingerprint(ids.der("ann")), 1, 30000, 500, 1704912000000)
    raw = ids.signer("admin").sign(unsigned.message())
    revocation = dataclasses.replace(
        unsigned, sig=SignatureFields.make(fingerprint(ids.der("admin")), raw)
    )
    assert (revocation.key(), revocation.to_value()) == (rec.key, rec.value)
    assert parsed(rec) == revocation
    trust = store()
    trust.add_revocation(revocation)
    reaction = ids.signer("ann").sign_reaction(
        ReactionRecord(1, 25571, "ann", "👍", True, 1704825660000)
    )
    assert trust.reaction(reaction, 499).status == VERIFIED  # written before
    assert trust.reaction(reaction, 500).status == FORGED
    before = dataclasses.replace(story_tx(), user_id="ann")
    signer = ids.signer("ann")
    assert trust.transmission(signer.sign_transmission(before, bytes(32))).status == VERIFIED
    after = dataclasses.replace(before, start_offset=30000, end_offset=30002)
    verdict = trust.transmission(signer.sign_transmission(after, bytes(32)))
    assert (verdict.status, verdict.reason) == (FORGED, "signed with a revoked certificate")
    # A revocation not signed by the admin (dan's key) changes nothing.
    trust = store()
    fake = ids.signer("dan").sign(unsigned.message())
    trust.add_revocation(dataclasses.replace(unsigned, sig=SignatureFields.make(
        fingerprint(ids.der("dan")), fake)))  # fmt: skip
    assert trust.reaction(reaction, 600).status == VERIFIED


def test_forged_records() -> None:
    records = VECTORS["forged-msg"]
    reasons = [
        "signed by dan, not ann",
        "its signature does not match the record",
        "its signature does not match the record",
        "signed by ann, not dan",
        "its signature does not match the record",
        "its signature is broken",
    ]
    assert len(records) == len(reasons)
    for rec, reason in zip(records, reasons, strict=True):
        tx = parsed(rec)
        assert isinstance(tx, Transmission), rec
        verdict = store().transmission(tx)
        assert (verdict.status, verdict.reason) == (FORGED, reason)


def test_unknown_or_foreign_certificates_are_forged() -> None:
    tx = parsed(one("msg-signed"))
    assert isinstance(tx, Transmission)
    empty = TrustStore(ids.authority())
    assert empty.transmission(tx).reason == "the signing certificate was never published"
    other_ca = TrustStore(ids.authority())
    # dan's certificate published, but the receiver's CA is ann's key: not from its CA
    other_ca.authority = type(ids.authority())(ids.certificate("ann"))
    other_ca.add_cert(build_cert_record(ids.der("dan")))
    assert (
        other_ca.transmission(tx).reason == "the signing certificate is not from this cluster's CA"
    )
    assert store().transmission(parsed(one("msg-chok"))).status == "unsigned"  # type: ignore[arg-type]


def test_wrapped_key() -> None:
    rec = one("wrapped-key")
    epoch_key = BYTES["epoch-key"]
    assert BYTES["key-ephemeral"] == ids.scalar("ephemeral").to_bytes(32, "big")
    dan = ids.authority().check(ids.der("dan"))
    assert dan is not None
    wrapped = sealing.wrap_epoch_key(
        3, 1, epoch_key, dan, ids.signer("admin"), ids.private_key("ephemeral")
    )
    assert (wrapped.key(), wrapped.to_value()) == (rec.key, rec.value)
    record = parsed(rec)
    assert record == wrapped and isinstance(record, WrappedKey)
    assert store().accepts_wrapped_key(record)
    assert sealing.unwrap_epoch_key(record, ids.private_key("dan")) == epoch_key
    assert sealing.unwrap_epoch_key(record, ids.private_key("ann")) is None
    # A member who signs an epoch key of their own is not the admin.
    forged = dataclasses.replace(
        record, signer=fingerprint(ids.der("ann")),
        signature=ids.signer("ann").sign(record.signed_message()),
    )  # fmt: skip
    assert not store().accepts_wrapped_key(forged)
    assert rec.value is not None
    flipped = bytearray(rec.value)
    flipped[70] ^= 1
    altered = parse_metadata_record(rec.key, bytes(flipped))
    assert isinstance(altered, WrappedKey) and not store().accepts_wrapped_key(altered)


def test_sealed_frames() -> None:
    frame_key = sealing.frame_key(BYTES["epoch-key"], 3, "dan", TX, SALT)
    assert frame_key == BYTES["frame-key"]
    records = VECTORS["sealed-frames"]
    packets = [bytes(range(1, 31)), b"\x00\x00"]
    for seq, (rec, packet) in enumerate(zip(records, packets, strict=True)):
        sealed = sealing.seal_frame(frame_key, TX, seq, 60, SALT, packet)
        built = build_sealed_frame("dan", TX, seq, 60, SALT, sealed)
        assert (built.key, built.value, built.headers) == (rec.key, rec.value, rec.headers)
        frame = parse_sealed_frame(rec.key, rec.value, rec.headers)
        assert frame is not None and (frame.talker, frame.tx_id, frame.seq) == ("dan", TX, seq)
        assert sealing.open_frame(frame_key, frame) == packet
        wrong = sealing.frame_key(bytes(32), 3, "dan", TX, SALT)
        assert sealing.open_frame(wrong, frame) is None
        moved = dataclasses.replace(
            frame, seq=seq + 1, header=frame.header[:7] + bytes([seq + 1]) + SALT
        )
        assert sealing.open_frame(frame_key, moved) is None
        assert packet not in (rec.value or b"")


def test_sealed_metadata_records() -> None:
    epoch_key = BYTES["epoch-key"]
    rec = one("sealed-msg")
    record = parsed(rec)
    assert isinstance(record, SealedRecord) and record.epoch == 1
    plaintext = sealing.open_record(epoch_key, 3, record)
    assert plaintext is not None
    inner = parse_metadata_record(rec.key, plaintext, channel=3)
    assert isinstance(inner, Transmission) and store().transmission(inner).status == VERIFIED
    again = sealing.seal_record(1, epoch_key, 3, inner.key(), inner.to_value(), record.nonce)
    assert again.to_value() == rec.value
    assert json.loads(plaintext)["userId"] == "dan"
    assert sealing.open_record(bytes(32), 3, record) is None
    moved = dataclasses.replace(record, key=b"msg-3-121")
    assert sealing.open_record(epoch_key, 3, moved) is None
    reaction = one("sealed-reaction")
    sealed = parsed(reaction)
    assert isinstance(sealed, SealedRecord) and reaction.key is not None
    ids_of = parse_sealed_reaction_key(reaction.key)
    assert ids_of is not None and (ids_of.channel, ids_of.start_offset, ids_of.user) == (
        3,
        120,
        "ann",
    )
    tag = sealing.reaction_tag(epoch_key, 3, 120, "ann", "👍")
    assert sealed_reaction_key(3, 120, "ann", tag) == reaction.key
    inner_value = sealing.open_record(epoch_key, 3, sealed)
    assert inner_value is not None
    inner_reaction = parse_metadata_record(
        ReactionRecord(3, 120, "ann", "👍", True, 0).key(), inner_value
    )
    assert isinstance(inner_reaction, ReactionRecord)
    assert store().reaction(inner_reaction, 5).status == VERIFIED
    rebuilt = sealing.seal_record(1, epoch_key, 3, reaction.key, inner_value, sealed.nonce)
    assert rebuilt.to_value() == reaction.value
    # The plaintexts written in the document are what the records hold.
    text = DOC.read_text(encoding="utf-8")
    assert plaintext.decode() in text and inner_value.decode() in text
