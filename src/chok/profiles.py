"""Joined profiles: one installed bundle per person/cluster on this machine.

``<CHOK_HOME>/profiles/<name>/`` holds the bundle's four files (keys 0600);
``<CHOK_HOME>/state.json`` remembers the default (the last joined).
Choice order: ``--profile``/``CHOK_PROFILE``, then the default.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chok import pki
from chok.errors import BadBundleError, ConfigError, ProfileNotFoundError, UsageError
from chok.home import chok_home, subdir, write_atomic, write_private
from chok.kafka.client import Credentials
from chok.protocol.bundle import CONFIG_NAME, Bundle
from chok.protocol.client_config import ChannelConfig, ClientConfig, parse_client_config

_PROFILE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


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
        raise UsageError(f"you are not a member of channel {number} (your channels: {have})")


def _profiles_dir() -> Path:
    return subdir("profiles")


def _state_path() -> Path:
    return chok_home() / "state.json"


def _read_state() -> dict[str, Any]:
    try:
        data = json.loads(_state_path().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_state(state: dict[str, Any]) -> None:
    write_atomic(_state_path(), json.dumps(state, indent=2).encode(), mode=0o600)


def install(bundle: Bundle, name: str | None, force: bool) -> Profile:
    """Install a bundle as a profile and make it the default."""
    # Only bundles chok made promise this: other clusters' CAs may differ.
    made_by_chok = bundle.config.extras.get("chokVersion") is not None
    if made_by_chok and not pki.signed_by(bundle.cert_pem, bundle.ca_pem):
        raise BadBundleError("the bundle's certificate was not issued by its CA")
    profile_name = name or bundle.user or pki.common_name(bundle.cert_pem)
    if not _PROFILE_NAME.match(profile_name):
        raise UsageError(f"'{profile_name}' is not a valid profile name (letters, digits, _ -)")
    target = _profiles_dir() / profile_name
    if target.exists() and not force and _same_identity(target, bundle) is False:
        raise UsageError(
            f"a profile named '{profile_name}' already exists for another identity",
            hint="pick another with `--name`, or replace it with `--force`",
        )
    staging = target.with_name(f".{profile_name}.new")
    shutil.rmtree(staging, ignore_errors=True)
    c = bundle.config
    write_atomic(staging / CONFIG_NAME, c.to_json(), mode=0o600)
    write_atomic(staging / c.ca_asset, bundle.ca_pem, mode=0o600)
    write_atomic(staging / c.client_cert_asset, bundle.cert_pem, mode=0o600)
    write_private(staging / c.client_key_asset, bundle.key_pem)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    state = _read_state()
    state["default"] = profile_name
    _write_state(state)
    return load(profile_name)


def _same_identity(target: Path, bundle: Bundle) -> bool:
    try:
        existing = parse_client_config((target / CONFIG_NAME).read_bytes())
    except (OSError, BadBundleError):
        return False
    return existing.broker_url == bundle.config.broker_url and existing.extras.get(
        "chokUser"
    ) == bundle.config.extras.get("chokUser")


def names() -> list[str]:
    return sorted(p.name for p in _profiles_dir().iterdir() if (p / CONFIG_NAME).exists())


def default_name() -> str | None:
    value = _read_state().get("default")
    return value if isinstance(value, str) else None


def load(name: str) -> Profile:
    path = _profiles_dir() / name
    try:
        config = parse_client_config((path / CONFIG_NAME).read_bytes())
    except FileNotFoundError as exc:
        have = ", ".join(names()) or "none"
        raise ProfileNotFoundError(f"no profile named '{name}' (profiles: {have})") from exc
    return Profile(name, path, config)


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
    state = _read_state()
    state.setdefault("profiles", {}).setdefault(profile, {})[key] = value
    _write_state(state)


def recall(profile: str, key: str) -> Any:
    return _read_state().get("profiles", {}).get(profile, {}).get(key)
