"""The channel layer's keys and checks without a broker: what a talker writes
(signed, sealed) opens and verifies for a receiver, epoch keys are taken only
from the admin and only for oneself, and what was learnt survives a restart."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from chok import pki
from chok.channel.incoming import AudioReader, FrameCheck, open_reaction, open_transmission
from chok.channel.outgoing import OutgoingTransmission, reaction_record
from chok.channel.security import ChannelSecurity
from chok.channel.trust_cache import VerifiedCache
from chok.errors import AccessDeniedError
from chok.kafka.client import Credentials
from chok.pki import sealing
from chok.pki.signatures import Signer
from chok.protocol.metadata import parse_metadata_record
from chok.protocol.reactions import ReactionRecord
from chok.protocol.sealed import SealedRecord
from chok.protocol.signing import build_cert_record
from chok.protocol.transmission import build_transmission

CHANNEL = 7


@dataclasses.dataclass
class Family:
    ca: pki.Issued
    admin: Signer
    root: Path

    def person(self, name: str) -> Credentials:
        issued = pki.issue(self.ca, name)
        folder = self.root / name
        folder.mkdir()
        issued.save(folder / "client.pem", folder / "client.key")
        (folder / "ca.pem").write_bytes(self.ca.cert_pem)
        return Credentials(
            "localhost:1", folder / "ca.pem", folder / "client.pem", folder / "client.key"
        )

    def security(self, creds: Credentials, private: bool = True) -> ChannelSecurity:
        security = ChannelSecurity(creds, CHANNEL, private, creds.cert.parent)
        security.learn(build_cert_record(self.admin.cert_der))
        return security

    def give_key(self, security: ChannelSecurity, epoch: int, key: bytes) -> None:
        member = security.store.authority.check(security.signer.cert_der)
        assert member is not None
        security.learn(sealing.wrap_epoch_key(CHANNEL, epoch, key, member, self.admin))


@pytest.fixture
def family(tmp_path: Path) -> Family:
    ca = pki.create_ca()
    admin = pki.issue(ca, "chok-admin")
    return Family(ca, Signer.from_pem(admin.cert_pem, admin.key_pem), tmp_path)


def _tx(talker: str, frames: int) -> object:
    return build_transmission(
        user=talker, channel=CHANNEL, start_offset=100, end_offset=100 + frames - 1,
        timestamp_ms=1_800_000_000_000, tx_id="0badcafe", frames=frames,
        duration_ms=60 * frames, frame_ms=60,
    )  # fmt: skip


def test_what_a_talker_seals_and_signs_opens_and_verifies(family: Family) -> None:
    alice, bob = family.security(family.person("alice")), family.security(family.person("bob"))
    key = sealing.new_epoch_key()
    for who in (alice, bob):
        family.give_key(who, 1, key)
    bob.learn(build_cert_record(alice.signer.cert_der))
    out = OutgoingTransmission(alice, "alice", "0badcafe", 60)
    packets = [bytes([n]) * 40 for n in range(5)] + [b"\x01"]  # the last: silence
    values = {seq: out.value(seq, packet) for seq, packet in enumerate(packets)}
    build = out.records()  # what any process sending the outbox entry does
    records = [build.frame(seq, value) for seq, value in values.items()]
    reader, check = AudioReader(bob), FrameCheck()
    played = []
    for record in records:
        received = reader.read(record.key, record.value, record.headers)
        assert received is not None and received.record is not None
        check.add(received.belongs_to("alice", "0badcafe") or 0, received.wire)
        played.append(received.record.packet)  # type: ignore[union-attr]
    assert played == [*packets[:5], b"\x00\x00"]
    end = build.end(values, 6, 360, 1_800_000_000_000)
    assert end.headers[1][0] == "chok-sig"
    signed, meta_key, meta_value = build.transmission(_tx("alice", 6), values)  # type: ignore[arg-type]
    sealed = parse_metadata_record(meta_key, meta_value)
    assert isinstance(sealed, SealedRecord) and b"alice" not in meta_value
    opened = open_transmission(bob, sealed)
    assert opened == signed
    verdict = bob.store.transmission(opened)
    assert verdict.verified and check.verdict(verdict, opened).verified
    # A reaction: signed, sealed, its emoji hidden in the key's tag.
    react_key, react_value = reaction_record(
        bob, ReactionRecord(CHANNEL, 100, "bob", "🔥", True, 1_800_000_001_000), 1
    )
    assert "🔥".encode().hex().encode() not in react_key
    envelope = parse_metadata_record(react_key, react_value)
    assert isinstance(envelope, SealedRecord)
    reaction = open_reaction(alice, envelope, target_epoch=1)
    assert reaction is not None and reaction.emoji == "🔥"
    alice.learn(build_cert_record(bob.signer.cert_der))
    assert alice.store.reaction(reaction, 5).verified
    assert open_reaction(alice, envelope, target_epoch=2) is None  # the tag must match


def test_epoch_keys_come_from_the_admin_and_for_oneself_only(family: Family) -> None:
    alice, bob = family.security(family.person("alice")), family.security(family.person("bob"))
    with pytest.raises(AccessDeniedError, match="none of its keys"):
        alice.current_epoch()
    member = bob.store.authority.check(alice.signer.cert_der)
    assert member is not None
    # bob (a member, not the admin) hands alice a key of his choosing: ignored
    alice.learn(sealing.wrap_epoch_key(CHANNEL, 9, bytes(32), member, bob.signer))
    alice.learn(build_cert_record(bob.signer.cert_der))  # known, but not the admin
    assert alice.epochs_newest_first() == []
    # bob's own copy of a real key is not alice's
    family.give_key(bob, 1, b"k" * 32)
    assert alice.epochs_newest_first() == []
    family.give_key(alice, 1, b"k" * 32)
    family.give_key(alice, 2, b"n" * 32)
    assert alice.current_epoch() == (2, b"n" * 32)


def test_what_was_learnt_survives_a_restart(family: Family) -> None:
    creds = family.person("alice")
    first = family.security(creds)
    family.give_key(first, 1, b"k" * 32)
    first.read_up_to(42)
    digest = b"d" * 32
    first.verified.add(digest)
    first.save()
    again = ChannelSecurity(creds, CHANNEL, True, creds.cert.parent)
    assert again.current_epoch() == (1, b"k" * 32)
    assert digest in again.verified
    assert again.store.knows(family.admin.fingerprint)
    assert oct((creds.cert.parent / f"trust-{CHANNEL}.json").stat().st_mode & 0o777) == "0o600"


def test_a_damaged_cache_is_rebuilt_not_fatal(family: Family) -> None:
    creds = family.person("alice")
    (creds.cert.parent / f"trust-{CHANNEL}.json").write_text("{not json")
    (creds.cert.parent / "verified.sqlite3").write_bytes(b"not a database at all")
    security = ChannelSecurity(creds, CHANNEL, False, creds.cert.parent)
    assert security.epochs_newest_first() == [] and len(security.verified) == 0
    cache = VerifiedCache(None)
    cache.add(b"x")
    cache.flush()  # no file: nothing to write, no error
    assert b"x" in cache


def test_a_key_that_cannot_sign_talks_unsigned(family: Family, tmp_path: Path) -> None:
    """Some services issue RSA keys: such a person is heard, unsigned, like the Android app."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chok-rita")]))
        .issuer_name(family.ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(serialization.load_pem_private_key(family.ca.key_pem, None), hashes.SHA256())  # type: ignore[arg-type]
    )
    folder = tmp_path / "rita"
    folder.mkdir()
    (folder / "ca.pem").write_bytes(family.ca.cert_pem)
    (folder / "client.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "client.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    creds = Credentials("h:1", folder / "ca.pem", folder / "client.pem", folder / "client.key")
    security = ChannelSecurity(creds, CHANNEL, False, folder)
    assert security.signer is None
    out = OutgoingTransmission(security, "rita", "0badcafe", 60)
    values = {0: out.value(0, b"x" * 30)}
    end = out.records().end(values, 1, 60, 1_800_000_000_000)
    tx, _key, value = out.records().transmission(_tx("rita", 1), values)  # type: ignore[arg-type]
    assert tx.sig is None and [name for name, _ in end.headers] == ["chok-end"]
    assert b"chokSig" not in value
