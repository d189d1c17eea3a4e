"""A bundle is checked before it is installed (issue 9, item 4): real X.509."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from chok import pki, profiles
from chok.errors import BadBundleError
from chok.protocol.bundle import Bundle
from chok.protocol.client_config import ChannelConfig, ClientConfig

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(autouse=True)
def chok_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHOK_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


CA = pki.create_ca()


def bundle(
    user: str = "alice",
    cn: str | None = None,
    ca: pki.Issued = CA,
    issuer: pki.Issued | None = None,
    **issue_args: object,
) -> Bundle:
    issued = pki.issue(issuer or ca, cn or user, **issue_args)  # type: ignore[arg-type]
    config = ClientConfig(
        broker_url="localhost:9093",
        channels=[ChannelConfig.standard(1, "Main")],
        extras={"chokUser": user, "chokVersion": 1},
    )
    return Bundle(config, ca.cert_pem, issued.cert_pem, issued.key_pem)


def refused(candidate: Bundle, words: str) -> None:
    with pytest.raises(BadBundleError) as caught:
        profiles.check_bundle(candidate)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(BadBundleError):
        profiles.install(candidate, None, force=True)
    assert profiles.names() == []


def test_a_good_bundle_passes_every_check() -> None:
    good = bundle()
    assert profiles.check_bundle(good) is good
    # Later generations carry the generation in the certificate's name.
    assert profiles.check_bundle(bundle(cn="alice.3"))
    assert profiles.check_bundle(bundle(cn="chok-alice.2"))  # an Aiven service user


def test_a_key_of_someone_else_is_refused() -> None:
    alice, bob = bundle("alice"), bundle("bob")
    refused(replace(alice, key_pem=bob.key_pem), "private key does not belong to its certificate")


def test_an_unreadable_key_is_refused() -> None:
    refused(replace(bundle(), key_pem=b"-----BEGIN PRIVATE KEY-----\nAAAA\n"), "client.key")


def test_a_certificate_from_another_ca_is_refused() -> None:
    refused(bundle(issuer=pki.create_ca()), "not issued by the bundle's CA")


def test_a_ca_file_with_two_cas_accepts_a_certificate_of_either() -> None:
    other = pki.create_ca()
    both = replace(bundle(issuer=other), ca_pem=CA.cert_pem + other.cert_pem)
    assert profiles.check_bundle(both)


def test_an_expired_certificate_is_refused() -> None:
    old = bundle(not_before=NOW - dt.timedelta(days=30), days=10)
    refused(old, "expired on")


def test_a_certificate_not_valid_yet_is_refused() -> None:
    refused(bundle(not_before=NOW + dt.timedelta(days=2)), "not valid yet")


def test_a_certificate_for_another_person_is_refused() -> None:
    refused(bundle("alice", cn="bob"), "issued to 'bob'")
    refused(bundle("alice", cn="alice2"), "issued to 'alice2'")
