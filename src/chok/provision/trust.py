"""What the admin publishes so that people can trust each other's records and
keep private channels private (protocol.md, sections 9.7 and 10.2):

- the admin's signing certificate (CN ``chok-admin``, issued by the CA that
  issues people's certificates) in every channel's metadata topic;
- a signed revocation of every certificate revoked or rotated away, on every
  channel, with the offsets below which its records stay good;
- for each private channel, its epoch keys wrapped for each current member's
  current certificate. Whenever someone who held the newest epoch key is no
  longer a member (deny, revoke-user, rotate-user), a new epoch begins, wrapped
  only for the remaining members; the leaver's copies are deleted.

The epoch keys themselves are kept in ``$CHOK_HOME/cluster/private/<n>.json``
(0600), beside the CA key and people's keys, which can recover them anyway.
Every step is idempotent: ``sync`` is run after each change and retried by
every later admin command (changes.settle), so an interruption never leaves a
leaver with the newest key.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from chok import pki
from chok.errors import ConfigError, UsageError
from chok.home import subdir, write_private
from chok.kafka.admin import Admin
from chok.pki import sealing
from chok.pki.cluster import ADMIN_PRINCIPAL, cluster_files
from chok.pki.signatures import Authority, CertInfo, Signer
from chok.protocol.sealed import wrapped_key_key
from chok.protocol.signing import Revocation, SignatureFields, build_cert_record, fingerprint
from chok.protocol.topics import audio_topic, metadata_topic
from chok.provision import registry, userkeys
from chok.provision.backend import Backend
from chok.provision.bundles import bundle_ca_pem

_SIGNER_FILES = ("signer.pem", "signer.key")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _publisher(backend: Backend, what: str) -> Admin:
    admin = backend.publisher()
    if admin is None:
        raise UsageError(
            f"{what} needs the admin to write to the channels' topics, "
            f"which chok cannot do on {backend.name}",
            hint="see docs/security.md (Aiven also issues everyone's keys)",
        )
    return admin


def admin_signer(reg: registry.Registry) -> Signer:
    """The admin's signing identity: a certificate with CN ``chok-admin`` from the
    CA that issues people's certificates (on the local broker, its admin
    certificate; on a kafka cluster, one chok issues once with that CA)."""
    files = cluster_files()
    if reg.backend == "local":
        issued = pki.load(files.admin_cert, files.admin_key)
    elif reg.backend == "kafka":
        cert_path, key_path = (files.root / name for name in _SIGNER_FILES)
        if not cert_path.exists():
            ca = pki.load(Path(reg.settings["ca_cert"]), Path(reg.settings["ca_key"]))
            pki.issue(ca, ADMIN_PRINCIPAL).save(cert_path, key_path)
        issued = pki.load(cert_path, key_path)
    else:
        raise UsageError(f"chok cannot sign for the admin on {reg.backend}")
    return Signer.from_pem(issued.cert_pem, issued.key_pem)


def _authority(reg: registry.Registry) -> Authority:
    return Authority.from_pem(bundle_ca_pem(reg))


def cert_fingerprint(cert_pem: bytes) -> str:
    return fingerprint(Signer.cert_der_of(cert_pem))


# --- revocations -------------------------------------------------------------------


def publish_revocations(reg: registry.Registry, backend: Backend) -> None:
    """Publish the pending certificate revocations on every channel (9.7)."""
    if not reg.pending_cert_revocations or backend.publisher() is None:
        reg.pending_cert_revocations.clear()  # Aiven: nothing chok can publish
        return
    admin = _publisher(backend, "publishing a revocation")
    signer = admin_signer(reg)
    cert = build_cert_record(signer.cert_der)
    while reg.pending_cert_revocations:
        revoked = reg.pending_cert_revocations[0]
        topics = [
            t for c in reg.channels for t in (audio_topic(c.number), metadata_topic(c.number))
        ]
        ends = admin.watermarks(topics)
        for channel in reg.channels:
            audio_end = ends[audio_topic(channel.number)][1]
            metadata_end = ends[metadata_topic(channel.number)][1]
            unsigned = Revocation(revoked, channel.number, audio_end, metadata_end, _now_ms())
            sig = SignatureFields.make(signer.fingerprint, signer.sign(unsigned.message()))
            signed = _signed(unsigned, sig)
            admin.produce(
                metadata_topic(channel.number),
                [(cert.key(), cert.der), (signed.key(), signed.to_value())],
            )
        reg.pending_cert_revocations.pop(0)
        registry.save(reg)


def _signed(revocation: Revocation, sig: SignatureFields) -> Revocation:
    return Revocation(
        revocation.cert,
        revocation.channel,
        revocation.audio_end,
        revocation.metadata_end,
        revocation.timestamp_ms,
        sig,
    )


# --- private channels ----------------------------------------------------------------


@dataclass
class EpochState:
    """The admin's record of one private channel's epochs and who holds which."""

    path: Path
    keys: dict[int, str] = field(default_factory=dict)  # epoch -> key hex
    holders: dict[int, list[str]] = field(default_factory=dict)  # epoch -> fingerprints

    @classmethod
    def load(cls, number: int) -> EpochState:
        path = subdir("cluster", "private") / f"{number}.json"
        state = cls(path)
        if path.exists():
            try:
                raw = json.loads(path.read_text())
                state.keys = {int(k): str(v) for k, v in raw["keys"].items()}
                state.holders = {int(k): list(v) for k, v in raw["holders"].items()}
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ConfigError(f"{path} is damaged; restore it from a backup") from exc
        return state

    def save(self) -> None:
        data = {
            "keys": {str(k): v for k, v in sorted(self.keys.items())},
            "holders": {str(k): sorted(v) for k, v in sorted(self.holders.items())},
        }
        write_private(self.path, json.dumps(data, indent=1).encode())

    @property
    def newest(self) -> int:
        return max(self.keys, default=0)


def _members(reg: registry.Registry, number: int, authority: Authority) -> dict[str, CertInfo]:
    """Fingerprint -> certificate of each current member of a channel."""
    found: dict[str, CertInfo] = {}
    for user in reg.users:
        if user.revoked or number not in user.channels:
            continue
        info = authority.check(Signer.cert_der_of(userkeys.load(user.name).cert_pem))
        if info is None:
            raise ConfigError(f"{user.name}'s certificate is not from the CA of the bundles")
        found[info.fingerprint] = info
    return found


def sync_private_channel(reg: registry.Registry, backend: Backend, number: int) -> int:
    """Make a private channel's keys match its members; return the newest epoch.

    A new epoch begins when the newest one is held by anyone who is no longer a
    current member's current certificate; every member gets every epoch (the
    channel's history); leavers' copies are deleted.
    """
    admin = _publisher(backend, "a private channel")
    signer = admin_signer(reg)
    members = _members(reg, number, _authority(reg))
    state = EpochState.load(number)
    newest = state.newest
    if newest == 0 or set(state.holders.get(newest, [])) - set(members):
        newest += 1
        state.keys[newest] = sealing.new_epoch_key().hex()
        state.holders[newest] = []
        state.save()  # before it is used: a crash must not lose a key in use
    records: list[tuple[bytes, bytes | None]] = []
    cert = build_cert_record(signer.cert_der)
    records.append((cert.key(), cert.der))
    for epoch, key_hex in sorted(state.keys.items()):
        holders = set(state.holders.get(epoch, []))
        for fp, info in members.items():
            if fp not in holders:
                wrapped = sealing.wrap_epoch_key(
                    number, epoch, bytes.fromhex(key_hex), info, signer
                )
                records.append((wrapped.key(), wrapped.to_value()))
        for fp in holders - set(members):
            records.append((wrapped_key_key(number, epoch, fp), None))  # a leaver's copy
    if len(records) > 1:
        admin.produce(metadata_topic(number), records)
    for epoch in state.keys:
        state.holders[epoch] = sorted(members)
    state.save()
    return newest


def sync_all(reg: registry.Registry, backend: Backend) -> None:
    """Publish pending revocations and bring every private channel's keys up to date."""
    publish_revocations(reg, backend)
    for channel in reg.channels:
        if channel.private:
            sync_private_channel(reg, backend, channel.number)
