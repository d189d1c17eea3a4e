"""Signatures and sealing beyond the vectors: who may sign as whom, certificates
from elsewhere, fresh keys, and hostile bytes in every new parser."""

from __future__ import annotations

import dataclasses
import random

import pytest

from chok import pki
from chok.errors import UsageError
from chok.pki import sealing
from chok.pki.signatures import Authority, Signer
from chok.pki.trust import FORGED, VERIFIED, TrustStore
from chok.protocol.client_config import ChannelConfig, ClientConfig
from chok.protocol.metadata import parse_metadata_record
from chok.protocol.sealed import build_sealed_frame, parse_envelope, parse_sealed_frame
from chok.protocol.signing import (
    FrameDigest,
    b64,
    build_cert_record,
    parse_end_signature,
    signer_name,
    unb64,
)
from chok.protocol.transmission import build_transmission
from tests.unit import vector_identities as ids
from tests.unit.test_protocol_vectors import VECTORS

CASES = 2000


@pytest.mark.parametrize(
    ("common_name", "name"),
    [
        ("alice", "alice"),
        ("alice.2", "alice"),
        ("alice.17", "alice"),
        ("chok-alice", "alice"),
        ("chok-alice.3", "alice"),
        ("chok-admin", "admin"),
        ("alice.0", None),
        ("alice.02", None),
        ("alice.x", None),
        ("alice.2.3", None),
        ("al ice", None),
        ("", None),
        ("chok-", None),
    ],
)
def test_which_name_a_certificate_speaks_for(common_name: str, name: str | None) -> None:
    assert signer_name(common_name) == name


def test_base64url_is_canonical() -> None:
    raw = bytes(range(64))
    assert unb64(b64(raw), 64) == raw and len(b64(raw)) == 86
    assert unb64(b64(raw) + "=", 64) is None
    assert unb64(b64(raw)[:-1] + "B", 64) is None  # the unused low bits are set
    assert unb64(b64(raw[:63]), 64) is None
    assert unb64(b64(raw).replace("-", "+"), 64) in (None, raw)


def test_frame_digest_depends_on_seqs_and_bytes_not_on_arrival() -> None:
    def digest(frames: list[tuple[int, bytes]]) -> bytes:
        d = FrameDigest()
        for seq, value in frames:
            d.add(seq, value)
        return d.digest()

    base = [(0, b"abc"), (1, b"def")]
    # A frame sent again, or arriving after a later one (a talker's re-send):
    # the first copy of each seq counts, in seq order.
    same = [[(1, b"def"), (0, b"abc")], [(0, b"abc"), (1, b"def"), (1, b"def")]]
    assert {digest(v) for v in same} == {digest(base)}
    assert digest([(0, b"abc"), (1, b"def"), (1, b"forged")]) == digest(base)
    assert digest([(0, b"abc"), (1, b"forged"), (1, b"def")]) != digest(base)
    variants = [
        [(0, b"abc"), (2, b"def")],
        [(0, b"abd"), (1, b"def")],
        [(0, b"ab"), (1, b"cdef")],  # lengths are hashed: no moving bytes between frames
        [(0, b"abc")],
        [*base, (2, b"ghi")],
    ]
    assert len({digest(base), *(digest(v) for v in variants)}) == len(variants) + 1


def test_real_certificates_from_another_ca_do_not_verify() -> None:
    ca, other = pki.create_ca(), pki.create_ca("someone else's CA")
    alice = pki.issue(ca, "alice")
    mallory = pki.issue(other, "alice")  # same name, another CA
    authority = Authority.from_pem(ca.cert_pem)
    tx = build_transmission(
        user="alice", channel=1, start_offset=0, end_offset=1, timestamp_ms=pki_now_ms(),
        tx_id="00000001", frames=2, duration_ms=120, frame_ms=60,
    )  # fmt: skip
    for issued, status in ((alice, VERIFIED), (mallory, FORGED)):
        signer = Signer.from_pem(issued.cert_pem, issued.key_pem)
        trust = TrustStore(authority)
        trust.add_cert(build_cert_record(signer.cert_der))
        assert trust.transmission(signer.sign_transmission(tx, bytes(32))).status == status


def test_only_the_first_ca_of_the_bundle_vouches_for_signers() -> None:
    """On a kafka cluster the bundle's ca.pem may hold the brokers' CA second:
    whoever runs the brokers must not be able to mint a signer."""
    people_ca, brokers_ca = pki.create_ca("people"), pki.create_ca("brokers")
    authority = Authority.from_pem(people_ca.cert_pem + brokers_ca.cert_pem)
    for ca, accepted in ((people_ca, True), (brokers_ca, False)):
        issued = pki.issue(ca, "alice")
        der = Signer.from_pem(issued.cert_pem, issued.key_pem).cert_der
        assert (authority.check(der) is not None) is accepted


def pki_now_ms() -> int:
    import time

    return int(time.time() * 1000)


def test_a_timestamp_after_the_certificate_expired_is_forged() -> None:
    tx = build_transmission(
        user="dan", channel=1, start_offset=0, end_offset=1, timestamp_ms=2019686400001,
        tx_id="00000001", frames=2, duration_ms=120, frame_ms=60,
    )  # fmt: skip
    trust = TrustStore(ids.authority())
    trust.add_cert(build_cert_record(ids.der("dan")))
    signed = ids.signer("dan").sign_transmission(tx, bytes(32))
    assert trust.transmission(signed).reason == "signed outside its certificate's validity"
    earlier = ids.signer("dan").sign_transmission(
        dataclasses.replace(tx, timestamp_ms=2019686400000), bytes(32)
    )
    assert trust.transmission(earlier).status == VERIFIED


def test_fresh_keys_wrap_and_seal_round_trip() -> None:
    ca = pki.create_ca()
    member = pki.issue(ca, "alice")
    admin = Signer.from_pem(*dataclasses.astuple(pki.issue(ca, "chok-admin")))
    info = Authority.from_pem(ca.cert_pem).check(
        Signer.from_pem(*dataclasses.astuple(member)).cert_der
    )
    assert info is not None
    epoch_key = sealing.new_epoch_key()
    wrapped = sealing.wrap_epoch_key(7, 2, epoch_key, info, admin)
    again = sealing.wrap_epoch_key(7, 2, epoch_key, info, admin)
    assert wrapped.ephemeral != again.ephemeral  # a one-time key each time
    key = Signer.from_pem(*dataclasses.astuple(member)).key
    assert sealing.unwrap_epoch_key(wrapped, key) == epoch_key
    salt = sealing.new_salt()
    frame_key = sealing.frame_key(epoch_key, 7, "alice", "0a0b0c0d", salt)
    sealed = sealing.seal_frame(frame_key, "0a0b0c0d", 9, 20, salt, b"x" * 40)
    record = build_sealed_frame("alice", "0a0b0c0d", 9, 20, salt, sealed)
    frame = parse_sealed_frame(record.key, record.value, record.headers)
    assert frame is not None and sealing.open_frame(frame_key, frame) == b"x" * 40
    other_talker = sealing.frame_key(epoch_key, 7, "bob", "0a0b0c0d", salt)
    assert sealing.open_frame(other_talker, frame) is None


def test_private_channels_in_the_client_config() -> None:
    config = ClientConfig(
        "h:1",
        [ChannelConfig.standard(1, "Main"), ChannelConfig.standard(3, "Secret")],
        extras={"chokPrivateChannels": [3]},
    )
    assert config.private_channels == frozenset({3})
    assert ClientConfig("h:1", [ChannelConfig.standard(1, "Main")]).private_channels == frozenset()
    weird = ClientConfig(
        "h:1", [ChannelConfig.standard(1, "M")], extras={"chokPrivateChannels": "3"}
    )
    assert weird.private_channels == frozenset()


def _mutations(seed: bytes, rng: random.Random) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        if choice < 0.4 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif choice < 0.6 and data:
            del data[rng.randrange(len(data)) :]
        elif choice < 0.8:
            data.insert(rng.randrange(len(data) + 1), rng.randrange(256))
        else:
            data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(data)


def test_hostile_metadata_records_never_raise() -> None:
    rng = random.Random(10)
    names = ["cert-dan", "msg-signed", "reaction-signed", "revoked", "wrapped-key"]
    names += ["sealed-msg", "sealed-reaction"]
    seeds = [(VECTORS[n][0].key or b"", VECTORS[n][0].value or b"") for n in names]
    for _ in range(CASES):
        key, value = rng.choice(seeds)
        if rng.random() < 0.5:
            value = _mutations(value, rng)
        else:
            key = _mutations(key, rng)
        result = parse_metadata_record(key, value)
        if result is not None and hasattr(result, "to_value"):
            assert parse_metadata_record(result.key() if callable(result.key) else result.key,
                                         result.to_value()) == result  # fmt: skip


def test_hostile_audio_headers_never_raise() -> None:
    rng = random.Random(11)
    end = VECTORS["audio-end-signed"][0]
    sealed = VECTORS["sealed-frames"][0]
    assert end.headers is not None and sealed.headers is not None
    for _ in range(CASES):
        name, value = end.headers[1]
        assert value is not None
        headers: list[tuple[str, bytes | None]] = [(name, _mutations(value, rng))]
        parsed = parse_end_signature(headers)
        assert parsed is None or len(parsed.signature) == 64
        header = sealed.headers[0][1]
        assert header is not None and sealed.value is not None
        frame = parse_sealed_frame(
            sealed.key, _mutations(sealed.value, rng), [("chok", _mutations(header, rng))]
        )
        assert frame is None or len(frame.header) == 12
        envelope = parse_envelope(b"k", _mutations(bytes([1, 0, 0, 0, 1]) + bytes(30), rng))
        assert envelope is None or (envelope.epoch >= 1 and len(envelope.sealed) >= 16)
    with pytest.raises(UsageError):
        build_sealed_frame("dan", "8f3a5c0e", 0, 60, b"abc", bytes(16))


def test_listen_says_when_an_old_transmission_was_said() -> None:
    import time

    from chok.cli.listen_cmd import _said_long_ago

    now_ms = int(time.time() * 1000)
    assert _said_long_ago(None) == "" and _said_long_ago(now_ms - 5_000) == ""
    assert _said_long_ago(now_ms - 3_600_000).startswith(" (said at ")
