"""The aiven backend against the local stand-in of Aiven's API (tests/aiven_standin.py).

The stand-in's Kafka service is the real test broker, so the bundles the
aiven backend makes are used for real. What this cannot show: that Aiven
itself answers exactly like the stand-in (see docs/admin.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from chok import pki
from chok.errors import AccessDeniedError
from chok.kafka.admin import Admin
from chok.pki.cluster import cluster_files
from chok.provision.local import admin_client
from tests.aiven_standin import AivenStandIn
from tests.conftest import CHOK, LocalCluster, RunResult, assert_clean_error, run_chok
from tests.kafka_helpers import produce_one
from tests.provision_helpers import cmdline, denied, profile_creds, unique

pytestmark = pytest.mark.broker

TOKEN = "aiv-test-token-" + "7f3c9a1be04d"


@pytest.fixture
def aiven(cluster: LocalCluster) -> Iterator[AivenStandIn]:
    admin, _ = admin_client()
    files = cluster_files()
    standin = AivenStandIn(
        TOKEN, admin, cluster.bootstrap, pki.load(files.ca_cert, files.ca_key)
    ).start()
    try:
        yield standin
    finally:
        standin.stop()


def _aiven(home: Path, standin: AivenStandIn, *args: str, token: str | None = TOKEN) -> RunResult:
    env = {"AIVEN_TOKEN": token} if token is not None else {"AIVEN_TOKEN": ""}
    return run_chok(*args, home=home, env=env)


def _init(home: Path, standin: AivenStandIn, *extra: str, token: str | None = TOKEN) -> RunResult:
    return _aiven(
        home, standin, "admin", "init", "--backend", "aiven", "--project", "family",
        "--service", "chok-kafka", "--api-url", standin.url, "--wait", "60s", *extra,
        token=token,
    )  # fmt: skip


def test_init_creates_project_service_and_topics(aiven: AivenStandIn, tmp_path: Path) -> None:
    home = tmp_path / "aiven-admin"
    too_many = _init(home, aiven, "--channels", "3")
    line = assert_clean_error(too_many, code=2)
    assert "do not fit" in line and "5 topics" in line
    assert aiven.requests == []  # refused before any API call

    result = _init(home, aiven, "--json")
    assert result.code == 0, result.err
    info = json.loads(result.out)
    assert info["backend"] == "aiven" and info["bootstrap"] == aiven.bootstrap
    assert info["channels_fit"] == 2
    assert any("2 channels fit" in n for n in info["notes"])
    assert "waiting for the Aiven service" in result.err
    svc = aiven.services[("family", "chok-kafka")]
    assert sorted(svc.topics) == [
        "chok-audio-1",
        "chok-audio-2",
        "chok-metadata-1",
        "chok-metadata-2",
    ]
    assert svc.topics["chok-metadata-1"]["cleanup_policy"] == "compact"
    assert svc.topics["chok-audio-1"]["partitions"] == 2
    # The token went in a header only: never in a path or query.
    assert all(ok and TOKEN not in path for _, path, ok in aiven.requests)
    assert TOKEN not in result.out + result.err
    assert TOKEN not in (home / "cluster" / "registry.json").read_text()
    again = _init(home, aiven)
    assert again.code == 0, again.err

    full = _aiven(home, aiven, "admin", "add-channel", "Garden")
    assert "does not fit" in assert_clean_error(full, code=2)
    # Aiven issues everyone's keys: chok refuses to pretend a channel is private there.
    private = _aiven(home, aiven, "admin", "add-channel", "Secret", "--private")
    assert "private channels are not available on aiven" in assert_clean_error(private, code=2)


def test_people_on_aiven_get_least_privilege(aiven: AivenStandIn, tmp_path: Path) -> None:
    home = tmp_path / "aiven-admin"
    assert _init(home, aiven).code == 0
    name = unique("ava")
    added = _aiven(
        home, aiven, "admin", "add-user", name, "--channels", "1", "--out", str(tmp_path)
    )
    assert added.code == 0, added.err
    svc = aiven.services[("family", "chok-kafka")]
    assert f"chok-{name}" in svc.users
    mine = sorted((a["topic"], a["permission"]) for a in svc.acl if a["username"] == f"chok-{name}")
    assert mine == [("chok-audio-1", "readwrite"), ("chok-metadata-1", "readwrite")]

    person = tmp_path / "ava-phone"
    assert run_chok("join", str(tmp_path / f"{name}.chok"), home=person).code == 0
    creds = profile_creds(person, name)
    assert pki.common_name(creds.cert.read_bytes()) == f"chok-{name}"  # Aiven's certificate
    assert isinstance(produce_one(creds, "chok-audio-1", b"hello via aiven"), int)
    assert denied(produce_one(creds, "chok-audio-2", b"not mine"))

    rotated = _aiven(home, aiven, "admin", "rotate-user", name, "--out", str(tmp_path / "r.chok"))
    assert rotated.code == 0, rotated.err
    assert f"chok-{name}" not in svc.users and f"chok-{name}.2" in svc.users
    assert denied(produce_one(creds, "chok-audio-1", b"old certificate"))
    assert run_chok("join", str(tmp_path / "r.chok"), "--force", home=person).code == 0
    new = profile_creds(person, name)
    assert isinstance(produce_one(new, "chok-audio-1", b"new certificate"), int)

    assert _aiven(home, aiven, "admin", "revoke-user", name).code == 0
    assert not any(a["username"].startswith(f"chok-{name}") for a in svc.acl)
    assert f"chok-{name}.2" not in svc.users
    with pytest.raises(AccessDeniedError, match="access revoked"):
        Admin(new).verify_access(["chok-audio-1", "chok-metadata-1"])

    assets = tmp_path / "assets"
    other = unique("ben")
    assert _aiven(home, aiven, "admin", "add-user", other, "--out", str(tmp_path)).code == 0
    built = _aiven(home, aiven, "admin", "android-assets", other, str(assets))
    assert built.code == 0 and f"-PCHOK_USER_ID={other}" in built.out
    assert (assets / "ca.pem").read_bytes() == cluster_files().ca_cert.read_bytes()  # project CA


def test_the_original_wildcard_acl_is_reported_and_removable(
    aiven: AivenStandIn, tmp_path: Path
) -> None:
    home = tmp_path / "aiven-admin"
    assert _init(home, aiven).code == 0
    # The original provisioning: every user read and write on every topic.
    aiven.seed_acl("family", "chok-kafka", "*", "*", "readwrite")
    name = unique("cal")
    assert (
        _aiven(
            home, aiven, "admin", "add-user", name, "--channels", "1", "--out", str(tmp_path)
        ).code
        == 0
    )
    assert run_chok("join", str(tmp_path / f"{name}.chok"), home=tmp_path / "p").code == 0
    creds = profile_creds(tmp_path / "p", name)
    assert isinstance(produce_one(creds, "chok-audio-2", b"the wildcard lets me"), int)

    # A person the original provisioning made: chok adopts their service user,
    # so the certificate in their Android APK keeps working.
    original = aiven.handle(
        "POST", "/v1/project/family/service/chok-kafka/user", {"username": "chok-olga"}
    )[1]
    assert (
        _aiven(
            home, aiven, "admin", "add-user", "olga", "--channels", "1", "--out", str(tmp_path)
        ).code
        == 0
    )
    with zipfile.ZipFile(tmp_path / "olga.chok") as zf:
        assert zf.read("client.pem").decode() == original["user"]["access_cert"]

    warned = _init(home, aiven)
    assert "gives every user matching '*'" in warned.out
    fixed = _init(home, aiven, "--remove-wildcard-acls")
    assert fixed.code == 0 and "removed ACL" in fixed.out
    assert denied(produce_one(creds, "chok-audio-2", b"not any more"))
    assert isinstance(produce_one(creds, "chok-audio-1", b"still my channel"), int)


def test_the_token_never_shows(aiven: AivenStandIn, tmp_path: Path) -> None:
    home = tmp_path / "aiven-admin"
    missing = _init(home, aiven, token=None)
    assert "AIVEN_TOKEN" in assert_clean_error(missing, code=3)
    wrong = _init(home, aiven, token="not-the-token")
    line = assert_clean_error(wrong, code=3)
    assert "Aiven refused" in line and "not-the-token" not in line
    unknown = run_chok("admin", "init", "--backend", "aiven", "--token", TOKEN, home=home)
    assert TOKEN not in assert_clean_error(unknown, code=2)  # no such option, and not echoed

    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    os.chmod(token_file, 0o600)
    env = {**os.environ, "CHOK_HOME": str(home), "AIVEN_TOKEN": ""}
    proc = subprocess.Popen(
        [*CHOK, "admin", "init", "--backend", "aiven", "--project", "family", "--service",
         "chok-kafka", "--api-url", aiven.url, "--token-file", str(token_file)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    seen = cmdline(proc.pid)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert TOKEN not in seen and TOKEN not in out + err
    # Later commands find the token file again by its path in the registry.
    name = unique("dee")
    later = run_chok(
        "admin", "add-user", name, "--out", str(tmp_path), home=home, env={"AIVEN_TOKEN": ""}
    )
    assert later.code == 0, later.err
