"""A refused certificate is told apart from an unreachable broker (issue 9, item 6).

Real broker, real certificates: one from another CA, a self-signed one, one
the cluster's CA issued but that has expired, and a revoked person's. Each
channel command says what happened and exits 7; whoami reports the access.
The elapsed times are printed (run with -s): the goal is well under 2 s.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest

from chok import pki
from chok.codec import write_wav
from chok.codec.opus import silence
from chok.pki.cluster import cluster_files
from chok.protocol.bundle import Bundle
from chok.provision import local, service
from tests.bad_inputs import plant_profile
from tests.conftest import LocalCluster, RunResult, assert_clean_error, run_chok
from tests.provision_helpers import unique

pytestmark = pytest.mark.broker

COMMANDS = {
    "timeline": ["timeline"],
    "listen": ["listen", "--no-play", "--timeout", "5"],
    "listen-several": ["listen", "--channel", "all", "--no-play", "--timeout", "5"],
    "talk": ["talk", "--file", "{wav}", "--fast"],
}


@pytest.fixture(scope="module")
def homes(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One CHOK_HOME per kind of certificate trouble (and one that is fine)."""
    root = tmp_path_factory.mktemp("refused")
    ca = pki.load(cluster_files().ca_cert, cluster_files().ca_key)
    now = dt.datetime.now(dt.UTC)
    name = unique("refusee")
    good, _ = local.add_user(name, None, force=False)
    revoked_name = unique("revokee")
    revoked, _ = local.add_user(revoked_name, None, force=False)
    service.revoke_user(revoked_name)
    variants = {
        "ok": good,
        "revoked": revoked,
        "foreign-ca": _with(good, pki.issue(pki.create_ca(), name)),
        "self-signed": _with(good, pki.create_ca(name)),
        "expired": _with(good, pki.issue(ca, name, not_before=now - dt.timedelta(days=9), days=1)),
    }
    homes = {}
    for kind, bundle in variants.items():
        homes[kind] = root / kind
        plant_profile(homes[kind], bundle, kind)
    homes["unreachable"] = root / "unreachable"
    gone = replace(good, config=replace(good.config, broker_url="localhost:1"))
    plant_profile(homes["unreachable"], gone, "gone")
    return homes


def _with(bundle: Bundle, issued: pki.Issued) -> Bundle:
    return replace(bundle, cert_pem=issued.cert_pem, key_pem=issued.key_pem)


@pytest.fixture(scope="module")
def wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wav") / "one-second.wav"
    write_wav(path, silence(48000))
    return path


def _timed(home: Path, args: list[str]) -> tuple[RunResult, float]:
    began = time.monotonic()
    result = run_chok(*args, home=home, timeout=60)
    return result, time.monotonic() - began


@pytest.mark.parametrize("kind", ["foreign-ca", "self-signed", "expired"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_refused_certificate_is_exit_7_at_once(
    homes: dict[str, Path], wav: Path, kind: str, command: str
) -> None:
    args = [a.format(wav=wav) for a in COMMANDS[command]]
    result, elapsed = _timed(homes[kind], args)
    line = assert_clean_error(result, code=7)
    assert "the broker refused your certificate" in line, line
    expected = {"foreign-ca": "not issued", "self-signed": "self-signed", "expired": "expired on"}
    assert expected[kind] in line, line
    print(f"\n{command} with a {kind} certificate: exit 7 after {elapsed:.2f} s")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_revoked_certificate_is_exit_7(homes: dict[str, Path], wav: Path, command: str) -> None:
    args = [a.format(wav=wav) for a in COMMANDS[command]]
    result, elapsed = _timed(homes["revoked"], args)
    line = assert_clean_error(result, code=7)
    assert "access revoked" in line, line
    print(f"\n{command} when revoked: exit 7 after {elapsed:.2f} s")


@pytest.mark.parametrize("args", [["timeline"], ["who"], ["name", "Zed"]], ids=" ".join)
def test_an_unreachable_broker_is_still_exit_6(homes: dict[str, Path], args: list[str]) -> None:
    result, elapsed = _timed(homes["unreachable"], args)
    line = assert_clean_error(result, code=6)
    assert "cannot reach" in line and "refused your certificate" not in line
    # Told by one refused connection, not by librdkafka's timeout (who: 10 s).
    assert "connection refused" in line, line
    print(f"\n{' '.join(args)} with no broker: exit 6 after {elapsed:.2f} s")


@pytest.mark.parametrize(
    ("kind", "access", "reachable"),
    [
        ("ok", "ok", True),
        ("revoked", "revoked", True),
        ("foreign-ca", "refused", True),
        ("self-signed", "refused", True),
        ("expired", "refused", True),
        ("unreachable", "unknown", False),
    ],
)
def test_whoami_reports_access_not_just_reachability(
    homes: dict[str, Path], kind: str, access: str, reachable: bool
) -> None:
    result = run_chok("whoami", "--json", home=homes[kind])
    assert result.code == 0, result.err
    info = json.loads(result.out)
    assert (info["access"], info["broker_reachable"]) == (access, reachable)
    text = run_chok("whoami", home=homes[kind]).out
    assert f"access:    {'ok' if access == 'ok' else access.upper()}" in text


def test_a_profile_whose_key_is_not_its_certificates_is_one_line(
    homes: dict[str, Path], tmp_path: Path
) -> None:
    # Joined before join checked keys: every command crashed in librdkafka.
    home = tmp_path / "mixed"
    shutil.copytree(homes["ok"], home)
    other = pki.issue(pki.create_ca(), "someone")
    (home / "profiles" / "ok" / "client.key").write_bytes(other.key_pem)
    line = assert_clean_error(run_chok("timeline", home=home), code=2)
    assert "private key does not belong to its certificate" in line
