"""Joined profiles: one installed bundle per person/cluster on this machine.

``<CHOK_HOME>/profiles/<name>/`` holds the bundle's four files (keys 0600);
``<CHOK_HOME>/state.json`` remembers the default (the last joined).
Installing replaces a profile without a moment where neither the old nor the
new one exists, and an install cut short is finished or undone next time.
Choice order: ``--profile``/``CHOK_PROFILE``, then the default.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chok import pki, state
from chok.errors import (
    BadBundleError,
    ConfigError,
    NotAMemberError,
    ProfileNotFoundError,
    StorageError,
    UsageError,
    storage_error,
)
from chok.home import home_path, locked, subdir, sync_dir, write_private
from chok.kafka.client import Credentials
from chok.protocol.bundle import CONFIG_NAME, Bundle
from chok.protocol.client_config import ChannelConfig, ClientConfig, parse_client_config

_PROFILE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Hidden names of an install in progress: ".alice.new-XXXX" (the new files)
# and ".alice.old" (the replaced profile until the new one is in place).
_STAGING = ".new-"
# A computer whose clock is a little behind the CA's still accepts a fresh bundle.
CLOCK_SKEW = dt.timedelta(minutes=5)
_ASIDE = ".old"


@dataclass(frozen=True)
class Profile:
    name: str
    path: Path
    config: ClientConfig

    @property
    def user(self) -> str:
        value = self.config.extras.get("chokUser")
        return value if isinstance(value, str) else self.name

    @property
    def credentials(self) -> Credentials:
        c = self.config
        protocol = c.extras.get("chokSecurityProtocol", "SSL")
        return Credentials(
            c.broker_url,
            self.path / c.ca_asset,
            self.path / c.client_cert_asset,
            self.path / c.client_key_asset,
            security_protocol=str(protocol),
        )

    def channel(self, number: int | None) -> ChannelConfig:
        if not self.config.channels:
            raise ConfigError(f"profile {self.name} has no channels")
        if number is None:
            return self.config.channels[0]
        for channel in self.config.channels:
            if channel.number == number:
                return channel
        have = ", ".join(str(c.number) for c in self.config.channels)
        raise NotAMemberError(f"you are not a member of channel {number} (your channels: {have})")


def _profiles_dir() -> Path:
    return subdir("profiles")


def check_bundle(bundle: Bundle, now: dt.datetime | None = None) -> Bundle:
    """Refuse a bundle that could never connect, saying why in one line.

    The key must belong to the certificate, the certificate must be valid now
    and name the bundle's person (``alice``, ``alice.N`` for a later
    generation, ``chok-alice`` on Aiven), and it must come from a CA in the bundle's ca.pem. Only
    bundles chok made promise the last two: another cluster's bundle (the
    original app's files) may use a client CA the brokers trust elsewhere.
    """
    try:
        cert = pki.load_cert(bundle.cert_pem)
        matches = pki.key_matches(bundle.cert_pem, bundle.key_pem)
    except (ValueError, TypeError, ConfigError) as exc:
        raise BadBundleError("the bundle's client.key or client.pem cannot be read") from exc
    if not matches:
        raise BadBundleError(
            "the bundle's private key does not belong to its certificate",
            hint="client.key and client.pem come from different people: ask your admin again",
        )
    moment = now or dt.datetime.now(dt.UTC)
    if cert.not_valid_after_utc < moment:
        day = cert.not_valid_after_utc.date().isoformat()
        raise BadBundleError(
            f"this bundle expired on {day}: ask your admin for a new one "
            "(`chok admin rotate-user NAME`)"
        )
    if cert.not_valid_before_utc > moment + CLOCK_SKEW:
        raise BadBundleError("this bundle is not valid yet: check this computer's clock")
    if bundle.config.extras.get("chokVersion") is None:
        return bundle
    try:
        issued_by_ca = pki.signed_by(bundle.cert_pem, bundle.ca_pem)
    except ValueError as exc:
        raise BadBundleError("the bundle's ca.pem cannot be read") from exc
    if not issued_by_ca:
        raise BadBundleError("the bundle's certificate was not issued by the bundle's CA")
    cn = pki.common_name(bundle.cert_pem)
    user = bundle.user
    # alice, alice.2 (a later generation), chok-alice(.2) (an Aiven service user)
    if user is not None and not re.fullmatch(r"(chok-)?" + re.escape(user) + r"(\.[0-9]+)?", cn):
        raise BadBundleError(f"the bundle is for '{user}' but its certificate is issued to '{cn}'")
    return bundle


def install(bundle: Bundle, name: str | None, force: bool) -> Profile:
    """Check a bundle, install it as a profile and make it the default."""
    check_bundle(bundle)
    profile_name = name or bundle.user or pki.common_name(bundle.cert_pem)
    if not _PROFILE_NAME.match(profile_name):
        raise UsageError(f"'{profile_name}' is not a valid profile name (letters, digits, _ -)")
    directory = _profiles_dir()
    with locked("profiles"):
        _recover_swaps(directory)
        target = directory / profile_name
        if target.exists() and not force and _same_identity(target, bundle) is False:
            raise UsageError(
                f"a profile named '{profile_name}' already exists for another identity",
                hint="pick another with `--name`, or replace it with `--force`",
            )
        _swap_in(_staged(directory, profile_name, bundle), target)
    state.update(lambda s: s.update(default=profile_name))
    return load(profile_name)


def _staged(directory: Path, profile_name: str, bundle: Bundle) -> Path:
    """The bundle's files, written and flushed into a fresh hidden folder."""
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{profile_name}{_STAGING}", dir=directory))
    except OSError as exc:
        raise storage_error(exc, f"write into {directory}") from exc
    try:
        c = bundle.config
        write_private(staging / CONFIG_NAME, c.to_json())
        write_private(staging / c.ca_asset, bundle.ca_pem)
        write_private(staging / c.client_cert_asset, bundle.cert_pem)
        write_private(staging / c.client_key_asset, bundle.key_pem)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def _swap_in(staging: Path, target: Path) -> None:
    """Replace ``target`` by ``staging`` so that one of them always exists.

    The old profile is renamed aside, the new one renamed in, and only then is
    the old one removed; ``_recover_swaps`` finishes or undoes an interrupted
    swap on the next start.
    """
    aside = _aside(target)
    try:
        if target.exists():
            target.rename(aside)
        staging.rename(target)
        sync_dir(target.parent)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise storage_error(exc, f"install the profile {target}") from exc
    shutil.rmtree(aside, ignore_errors=True)


def _aside(target: Path) -> Path:
    return target.with_name(f".{target.name}{_ASIDE}")


def _leftovers(directory: Path) -> list[Path]:
    try:
        return [p for p in directory.iterdir() if p.name.startswith(".") and p.is_dir()]
    except OSError:
        return []


def _recover_swaps(directory: Path) -> None:
    """Finish or undo profile swaps that an interrupted install left (lock held)."""
    for leftover in _leftovers(directory):
        name = leftover.name[1:]
        if name.endswith(_ASIDE) and not (directory / name.removesuffix(_ASIDE)).exists():
            leftover.rename(directory / name.removesuffix(_ASIDE))  # the new one never came in
        else:
            shutil.rmtree(leftover, ignore_errors=True)  # a finished swap or a dead staging


def _recover(directory: Path) -> None:
    """Recover interrupted swaps if there are any (waits for a running install)."""
    if not _leftovers(directory):
        return
    # A read-only home cannot be repaired; its profiles are still read as they are.
    with suppress(StorageError), locked("profiles"):
        _recover_swaps(directory)


def _same_identity(target: Path, bundle: Bundle) -> bool:
    try:
        existing = parse_client_config((target / CONFIG_NAME).read_bytes())
    except (OSError, BadBundleError):
        return False
    return existing.broker_url == bundle.config.broker_url and existing.extras.get(
        "chokUser"
    ) == bundle.config.extras.get("chokUser")


def names() -> list[str]:
    directory = home_path() / "profiles"
    if not directory.is_dir():
        return []
    _recover(directory)
    try:
        return sorted(
            p.name
            for p in directory.iterdir()
            if _PROFILE_NAME.match(p.name) and (p / CONFIG_NAME).exists()
        )
    except OSError as exc:
        raise storage_error(exc, f"read {directory}") from exc


def default_name() -> str | None:
    value = state.read().get("default")
    return value if isinstance(value, str) else None


def load(name: str) -> Profile:
    if not _PROFILE_NAME.match(name):
        raise UsageError(f"'{name}' is not a valid profile name (letters, digits, _ -)")
    path = home_path() / "profiles" / name
    try:
        config = parse_client_config(_read_config(path))
    except FileNotFoundError as exc:
        have = ", ".join(names()) or "none"
        raise ProfileNotFoundError(f"no profile named '{name}' (profiles: {have})") from exc
    return Profile(name, path, config)


def _read_config(path: Path) -> bytes:
    """The profile's kafka_config.json, waiting out a swap by another install."""
    try:
        return (path / CONFIG_NAME).read_bytes()
    except FileNotFoundError:
        _recover(path.parent)
    except OSError as exc:
        raise storage_error(exc, f"read {path / CONFIG_NAME}") from exc
    return (path / CONFIG_NAME).read_bytes()


def active(requested: str | None) -> Profile:
    """The profile to use: the one asked for, else the default."""
    name = requested or default_name()
    if name is None:
        raise ProfileNotFoundError(
            "no profile on this machine yet",
            hint="join with a bundle from your admin: `chok join NAME.chok`",
        )
    return load(name)


def remember(profile: str, key: str, value: Any) -> None:
    """Keep a small per-profile value (e.g. where listening stopped) in state.json."""

    def keep(current: state.State) -> None:
        current.setdefault("profiles", {}).setdefault(profile, {})[key] = value

    state.update(keep)


def recall(profile: str, key: str) -> Any:
    profiles_state = state.read().get("profiles", {})
    entry = profiles_state.get(profile, {}) if isinstance(profiles_state, dict) else {}
    return entry.get(key) if isinstance(entry, dict) else None
