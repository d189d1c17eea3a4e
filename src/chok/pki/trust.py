"""Deciding whether a record is authentic: verified, unsigned or forged
(protocol.md, section 9.8).

A TrustStore collects what a channel's metadata topic publishes (signers'
certificates, the admin's revocations) and judges records against the CA of
one's own bundle. Checking an ECDSA signature costs ~0.1 ms, so results that
passed are remembered in an optional cache (chok.channel keeps one on disk):
a timeline of 10,000 signed transmissions is checked once, not on every load.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Literal, Protocol

from chok.pki.signatures import Authority, CertInfo
from chok.protocol.display import safe_text
from chok.protocol.reactions import ReactionRecord
from chok.protocol.sealed import WrappedKey
from chok.protocol.signing import (
    ADMIN_SIGNER_NAME,
    CertRecord,
    EndSignature,
    Revocation,
    SignatureFields,
    end_message,
    is_fingerprint,
)
from chok.protocol.transmission import Transmission

Status = Literal["verified", "unsigned", "forged"]
VERIFIED: Status = "verified"
UNSIGNED: Status = "unsigned"
FORGED: Status = "forged"
#: A signature made up to a day before the certificate says it starts is
#: still accepted (talkers' clocks are not exact; chok back-dates by 5 min).
CLOCK_SLACK_MS = 86_400_000


@dataclass(frozen=True)
class Authenticity:
    status: Status
    reason: str = ""
    signer: str | None = None  # the user name the signing certificate speaks for
    #: When the talker says it was said (a live verdict: its release time).
    said_ms: int | None = None

    @property
    def verified(self) -> bool:
        return self.status == VERIFIED

    @property
    def forged(self) -> bool:
        return self.status == FORGED

    @property
    def provisional(self) -> bool:
        """Forged only because the signer's certificate is not known yet: it may
        still be learnt (a reader that has not read the channel's records so far)."""
        return self.forged and self.reason == UNPUBLISHED


UNPUBLISHED = "the signing certificate was never published"
NOT_SIGNED = Authenticity(UNSIGNED, "not signed (the Android app, or an older chok)")


class SignatureCache(Protocol):
    """Signatures already found valid (keys are SHA-256 digests)."""

    def __contains__(self, key: bytes) -> bool: ...

    def add(self, key: bytes) -> None: ...


def _forged(reason: str, signer: str | None = None) -> Authenticity:
    return Authenticity(FORGED, reason, signer)


class TrustStore:
    def __init__(self, authority: Authority, cache: SignatureCache | None = None) -> None:
        self.authority = authority
        self.cache = cache
        self._certs: dict[str, CertInfo | None] = {}
        self._der: dict[str, bytes] = {}
        self._revocations: dict[str, Revocation] = {}
        self._lock = threading.Lock()

    # --- what the channel publishes ---------------------------------------------

    def add_cert(self, record: CertRecord) -> None:
        with self._lock:
            if record.fingerprint not in self._der:
                self._der[record.fingerprint] = record.der

    def add_revocation(self, revocation: Revocation) -> None:
        with self._lock:
            self._revocations[revocation.cert] = revocation

    def knows(self, fp: str) -> bool:
        with self._lock:
            return fp in self._der

    def cert(self, fp: str) -> CertInfo | None:
        """The checked certificate of a fingerprint, or None (unknown, or not from the CA)."""
        with self._lock:
            if fp in self._certs:
                return self._certs[fp]
            der = self._der.get(fp)
        info = self.authority.check(der) if der is not None else None
        if der is not None:
            with self._lock:
                self._certs[fp] = info
        return info

    # --- checking signatures ----------------------------------------------------

    def _valid(self, info: CertInfo, message: bytes, signature: bytes) -> bool:
        key = hashlib.sha256(bytes.fromhex(info.fingerprint) + signature + message).digest()
        if self.cache is not None and key in self.cache:
            return True
        if not info.verify(message, signature):
            return False
        if self.cache is not None:
            self.cache.add(key)
        return True

    def admin_signed(self, signer: str, message: bytes, signature: bytes) -> bool:
        """True if the admin's signing certificate (CN chok-admin) signed ``message``."""
        info = self.cert(signer) if is_fingerprint(signer) else None
        return (
            info is not None
            and info.common_name == ADMIN_SIGNER_NAME
            and self._valid(info, message, signature)
        )

    def _revoked_after(self, fp: str) -> Revocation | None:
        """The revocation of a certificate if the admin really signed it."""
        with self._lock:
            revocation = self._revocations.get(fp)
        if revocation is None or revocation.sig is None:
            return None
        raw = revocation.sig.signature_bytes
        if raw is None or not self.admin_signed(revocation.sig.signer, revocation.message(), raw):
            return None
        return revocation

    def _signer(
        self, sig: SignatureFields, name: str, timestamp_ms: int
    ) -> tuple[CertInfo | None, Authenticity | None]:
        fp = sig.signer_fingerprint
        if fp is None:
            return None, _forged("its signature is broken")
        info = self.cert(fp)
        if info is None:
            known = self.knows(fp)
            if not known:
                return None, _forged(UNPUBLISHED)
            return None, _forged("the signing certificate is not from this cluster's CA")
        if info.name != name:
            who = safe_text(info.name or info.common_name)  # names come from records:
            return info, _forged(f"signed by {who}, not {safe_text(name)}", info.name)
        if not info.not_before_ms - CLOCK_SLACK_MS <= timestamp_ms <= info.not_after_ms:
            return info, _forged("signed outside its certificate's validity", info.name)
        return info, None

    def transmission(self, tx: Transmission) -> Authenticity:
        """Is this transmission record what its talker signed? (not its audio: see
        ``frames``, which replay checks)."""
        sig = tx.sig
        if sig is None:
            return NOT_SIGNED
        if tx.tx_id is None:
            return _forged("a signed record without its talk details")
        info, problem = self._signer(sig, tx.user_id, tx.timestamp_ms)
        if problem is not None or info is None:
            return problem or _forged("unknown signer")
        frames_hash, raw = sig.frames_hash_bytes, sig.signature_bytes
        if frames_hash is None or raw is None:
            return _forged("its signature is broken", info.name)
        if not self._valid(info, tx.signed_message(frames_hash), raw):
            return _forged("its signature does not match the record", info.name)
        revocation = self._revoked_after(info.fingerprint)
        if revocation is not None and tx.end_offset >= revocation.audio_end:
            return _forged("signed with a revoked certificate", info.name)
        return Authenticity(VERIFIED, "", info.name)

    def reaction(self, record: ReactionRecord, metadata_offset: int | None) -> Authenticity:
        sig = record.sig
        if sig is None:
            return NOT_SIGNED
        info, problem = self._signer(sig, record.user, record.timestamp_ms)
        if problem is not None or info is None:
            return problem or _forged("unknown signer")
        raw = sig.signature_bytes
        if raw is None or not self._valid(info, record.signed_message(), raw):
            return _forged("its signature does not match the record", info.name)
        revocation = self._revoked_after(info.fingerprint)
        if revocation is not None and (
            metadata_offset is None or metadata_offset >= revocation.metadata_end
        ):
            return _forged("signed with a revoked certificate", info.name)
        return Authenticity(VERIFIED, "", info.name)

    def end(
        self,
        *,
        channel: int,
        talker: str,
        tx_id: str,
        frames: int,
        duration_ms: int,
        frame_ms: int,
        frames_hash: bytes,
        end_sig: EndSignature | None,
        end_offset: int | None = None,
    ) -> Authenticity:
        """A transmission heard live, from its frames and its end record's signature.

        ``end_offset``: where its end record is, for a revocation's cut-off."""
        if end_sig is None:
            return NOT_SIGNED
        fields = SignatureFields.make(end_sig.signer, end_sig.signature)
        info, problem = self._signer(fields, talker, end_sig.timestamp_ms)
        if problem is not None or info is None:
            return problem or _forged("unknown signer")
        message = end_message(
            channel=channel,
            tx_id=tx_id,
            talker=talker,
            timestamp_ms=end_sig.timestamp_ms,
            duration_ms=duration_ms,
            frame_ms=frame_ms,
            frames=frames,
            frames_hash=frames_hash,
        )
        if not self._valid(info, message, end_sig.signature):
            return _forged("its audio does not match what the talker signed", info.name)
        revocation = self._revoked_after(info.fingerprint)
        if revocation is not None and (end_offset is None or end_offset >= revocation.audio_end):
            return _forged("signed with a revoked certificate", info.name)
        return Authenticity(VERIFIED, "", info.name, end_sig.timestamp_ms)

    def accepts_wrapped_key(self, record: WrappedKey) -> bool:
        """True if the admin signed this wrapped epoch key."""
        return self.admin_signed(record.signer, record.signed_message(), record.signature)


def frames_match(tx: Transmission, frames_hash: bytes) -> bool:
    """True if the frames a receiver read are those the talker signed."""
    return tx.sig is not None and tx.sig.frames_hash_bytes == frames_hash
