"""One person's keys and trust on one channel: their signing identity, what
the channel's metadata topic publishes (signers' certificates, the admin's
revocations, a private channel's wrapped epoch keys), and the caches that
keep both cheap (protocol.md, sections 9 and 10).

Shared by everything a process does on that channel (talking, listening, the
timeline), so a certificate is published once and an epoch key unwrapped once.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

from chok.channel.trust_cache import ChannelTrustFile, VerifiedCache
from chok.errors import AccessDeniedError, ConfigError
from chok.kafka.client import Credentials
from chok.kafka.producer import RecordProducer
from chok.kafka.stream import BEGINNING, PartitionReader
from chok.pki import sealing
from chok.pki.signatures import Authority, Signer
from chok.pki.trust import TrustStore
from chok.protocol.metadata import MetadataRecord, parse_metadata_record
from chok.protocol.sealed import WRAPPED_KEY_PREFIX, WrappedKey
from chok.protocol.signing import (
    CERT_KEY_PREFIX,
    REVOKED_KEY_PREFIX,
    CertRecord,
    Revocation,
    build_cert_record,
)

_TRUST_PREFIXES = tuple(
    p.encode() for p in (CERT_KEY_PREFIX, REVOKED_KEY_PREFIX, WRAPPED_KEY_PREFIX)
)
#: A private channel's keys are looked for again at most this often when a
#: frame or record does not open with any key held (a new epoch began).
RETRY_KEYS_S = 2.0


class ChannelSecurity:
    def __init__(
        self, creds: Credentials, channel: int, private: bool, cache_dir: Path | None
    ) -> None:
        self.channel = channel
        self.private = private
        try:
            cert_pem, key_pem = creds.cert.read_bytes(), creds.key.read_bytes()
            authority = Authority.from_pem(creds.ca.read_bytes())
        except OSError as exc:
            raise ConfigError(f"cannot read your certificate files ({exc.strerror})") from exc
        # A certificate whose key is not P-256 (RSA, as some services issue) cannot
        # sign: that person's records go out unsigned, as the Android app's do.
        self.signer: Signer | None = _signer_or_none(cert_pem, key_pem)
        self.verified = VerifiedCache(cache_dir / "verified.sqlite3" if cache_dir else None)
        self.store = TrustStore(authority, self.verified)
        self._file = ChannelTrustFile.load(
            cache_dir / f"trust-{channel}.json" if cache_dir else None
        )
        self._keys: dict[int, bytes] = {}
        self._metadata_keys: dict[int, bytes] = {}
        self._lock = threading.Lock()
        self._dirty = False
        self._published: set[int] = set()
        self.refreshed_at: float | None = None
        self._last_retry = 0.0
        # One reader kept open: looking for news before each transmission on a
        # private channel then costs one round trip, not a new TLS connection.
        self._reader: PartitionReader | None = None
        self._refresh_lock = threading.Lock()
        self._restore()

    # --- the cache file ---------------------------------------------------------

    def _restore(self) -> None:
        for fp, der_hex in self._file.certs.items():
            try:
                self.store.add_cert(CertRecord(fp, bytes.fromhex(der_hex)))
            except ValueError:
                continue
        for key_fp, value in self._file.revocations.items():
            record = parse_metadata_record(f"{REVOKED_KEY_PREFIX}{key_fp}".encode(), value.encode())
            if isinstance(record, Revocation) and record.channel == self.channel:
                self.store.add_revocation(record)
        for epoch, key_hex in self._file.epochs.items():
            try:
                self._keys[epoch] = bytes.fromhex(key_hex)
            except ValueError:
                continue

    def save(self) -> None:
        """Write what was learnt to the cache files (after a read of the topic)."""
        self.verified.flush()
        self.save_trust()

    def save_trust(self) -> None:
        """Write the certificates, revocations and keys learnt (not the signatures
        found valid: those are kept only when a command succeeds)."""
        with self._lock:
            dirty, self._dirty = self._dirty, False
        if dirty:
            self._file.save()

    # --- learning from the metadata topic ----------------------------------------

    def learn(self, record: MetadataRecord | None) -> None:
        """Take in a certificate, revocation or wrapped key the channel published."""
        if isinstance(record, CertRecord):
            if not self.store.knows(record.fingerprint):
                self.store.add_cert(record)
                with self._lock:
                    self._file.certs[record.fingerprint] = record.der.hex()
                    self._dirty = True
        elif isinstance(record, Revocation) and record.channel == self.channel:
            self.store.add_revocation(record)
            with self._lock:
                self._file.revocations[record.cert] = record.to_value().decode()
                self._dirty = True
        elif isinstance(record, WrappedKey):
            self._take_key(record)

    def _take_key(self, record: WrappedKey) -> None:
        signer = self.signer
        if signer is None or record.channel != self.channel:
            return
        if record.member != signer.fingerprint:
            return
        with self._lock:
            if record.epoch in self._keys:
                return
        if not self.store.accepts_wrapped_key(record):
            return  # only the admin hands out epoch keys
        key = sealing.unwrap_epoch_key(record, signer.key)
        if key is None:
            return
        with self._lock:
            self._keys[record.epoch] = key
            self._file.epochs[record.epoch] = key.hex()
            self._dirty = True

    @property
    def known_up_to(self) -> int:
        """How far this profile has taken in the channel's metadata partition."""
        with self._lock:
            return self._file.position

    def read_up_to(self, position: int) -> None:
        """The metadata partition was read (by the timeline) up to ``position``."""
        with self._lock:
            if position > self._file.position:
                self._file.position = position
                self._dirty = True
            self.refreshed_at = time.monotonic()

    def refresh(self, open_reader: Callable[[], PartitionReader], timeout: float = 15.0) -> None:
        """Read the metadata partition from where this profile last stopped to its end,
        taking in certificates, revocations and wrapped keys only. A talker on a
        private channel calls it before each transmission: a new epoch (someone
        left) must be used at once, or the leaver could still hear."""
        with self._refresh_lock:
            if self._reader is None:
                self._reader = open_reader()
            reader = self._reader
            try:
                low, high = reader.watermarks()
                start = self._file.position
                if start > high or start < low:
                    start = low  # the topic was re-created, or compacted below it
                if start < high:
                    reader.assign(start if start > 0 else BEGINNING)
                    self._read(reader, high, timeout)
                    reader.unassign()  # idle until the next question (a press)
            except BaseException:
                self._reader = None  # a broken connection: a new one next time
                reader.close()
                raise
        self.read_up_to(high)

    def _read(self, reader: PartitionReader, high: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        position = -1
        while position + 1 < high and not reader.at_end and time.monotonic() < deadline:
            remaining = high - position - 1
            batch, wait = (2000, 0.5) if remaining > 2000 else (remaining, 0.05)
            for msg in reader.consume(batch, wait):
                position = msg.offset() or 0
                key = msg.key()
                if key is not None and key.startswith(_TRUST_PREFIXES):
                    self.learn(parse_metadata_record(key, msg.value(), channel=self.channel))

    def retry_keys(self, open_reader: Callable[[], PartitionReader]) -> bool:
        """Look for new epoch keys, at most every RETRY_KEYS_S; True if it looked."""
        now = time.monotonic()
        if now - self._last_retry < RETRY_KEYS_S:
            return False
        self._last_retry = now
        self.refresh(open_reader)
        return True

    # --- private channel keys ----------------------------------------------------

    def epochs_newest_first(self) -> list[tuple[int, bytes]]:
        with self._lock:
            return sorted(self._keys.items(), reverse=True)

    def epoch_key(self, epoch: int) -> bytes | None:
        with self._lock:
            return self._keys.get(epoch)

    def metadata_key(self, epoch: int) -> bytes | None:
        """The epoch's metadata key (derived once)."""
        with self._lock:
            cached = self._metadata_keys.get(epoch)
            key = self._keys.get(epoch)
        if cached is not None or key is None:
            return cached
        derived = sealing.metadata_key(key, self.channel)
        with self._lock:
            self._metadata_keys[epoch] = derived
        return derived

    def current_epoch(self) -> tuple[int, bytes]:
        """The newest epoch key this person holds: what a talker seals with."""
        newest = self.epochs_newest_first()
        if not newest:
            raise AccessDeniedError(
                f"channel {self.channel} is private and you hold none of its keys",
                hint="ask your admin to grant you the channel again",
            )
        return newest[0]

    # --- publishing one's certificate -------------------------------------------

    def cert_to_publish(self) -> CertRecord | None:
        """This person's certificate record, the first time it is asked for in this
        process (receivers need it to check signatures; compaction keeps one copy)."""
        with self._lock:
            if self.channel in self._published or self.signer is None:
                return None
            self._published.add(self.channel)
        return build_cert_record(self.signer.cert_der)

    def publish_cert(self, producer: RecordProducer, topic: str, partition: int) -> None:
        """Produce this person's certificate record once per process and channel."""
        record = self.cert_to_publish()
        if record is not None:
            producer.produce(topic, record.key(), record.der, partition=partition)


def _signer_or_none(cert_pem: bytes, key_pem: bytes) -> Signer | None:
    try:
        return Signer.from_pem(cert_pem, key_pem)
    except ConfigError:
        return None


_REGISTRY: dict[tuple[str, int, bool], ChannelSecurity] = {}
_REGISTRY_LOCK = threading.Lock()


def save_all() -> None:
    """Write every channel's caches of this process (what a command learnt): the
    CLI does it when a command succeeds, so that one that fails changes nothing."""
    with _REGISTRY_LOCK:
        known = list(_REGISTRY.values())
    for security in known:
        security.save()


def security_for(creds: Credentials, channel: int, private: bool) -> ChannelSecurity:
    """The one ChannelSecurity of a certificate and channel in this process."""
    try:
        identity = hashlib.sha256(creds.cert.read_bytes()).hexdigest()
    except OSError as exc:
        raise ConfigError(f"cannot read your certificate ({exc.strerror})") from exc
    key = (f"{creds.cert.resolve()}:{identity}", channel, private)
    with _REGISTRY_LOCK:
        found = _REGISTRY.get(key)
        if found is None:
            found = ChannelSecurity(creds, channel, private, creds.cert.parent)
            _REGISTRY[key] = found
        return found
