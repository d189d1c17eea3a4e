"""Admin changes happen entirely or not at all, even when racing (issue 9, items 2, 3, 5).

Real `chok` processes started at once against the session's real broker.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from confluent_kafka.admin import (
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from chok.provision import local, service
from tests.conftest import CHOK, LocalCluster, assert_clean_error, run_chok
from tests.fs_helpers import small_disk
from tests.provision_helpers import unique

pytestmark = pytest.mark.broker


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CHOK, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def _finish(procs: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        results.append((proc.returncode, out, err))
    return results


def cluster_principals() -> set[str]:
    """Every principal that holds at least one ACL on the cluster."""
    admin, _ = local.admin_client()
    anything: object = None
    everything = AclBindingFilter(
        ResourceType.ANY,
        anything,  # type: ignore[arg-type]
        ResourcePatternType.ANY,
        anything,  # type: ignore[arg-type]
        anything,  # type: ignore[arg-type]
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    bindings = admin._wait(admin._client.describe_acls(everything), "listing ACLs")
    return {b.principal.removeprefix("User:") for b in bindings}


def known_principals() -> set[str]:
    return {service.principal_of(u) for u in service.list_users() if not u.revoked}


def test_racing_add_users_are_all_listed_and_revocable(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    names = [unique("racer") for _ in range(20)]
    # Other tests on this shared broker grant people from admin homes of their own.
    before = cluster_principals()
    for batch in (names[:10], names[10:]):
        procs = [_start("admin", "add-user", n, "--out", str(tmp_path), "--json") for n in batch]
        for code, _, err in _finish(procs):
            assert code == 0, err
    listed = {u.name for u in service.list_users()}
    assert set(names) <= listed
    assert {f"{n}.chok" for n in names} <= {p.name for p in tmp_path.iterdir()}
    # Nobody holds access the registry does not know about.
    assert cluster_principals() - before - {"chok-admin", "chok-broker"} <= known_principals()
    revoked = run_chok("admin", "revoke-user", names[0])
    assert revoked.code == 0, revoked.err
    for name in names[1:]:
        assert service.revoke_user(name).revoked
    assert not cluster_principals() & set(names)


_POSITION = "audio_position_{channel}"


def test_parallel_listens_never_crash_on_the_state_file(new_user) -> None:  # type: ignore[no-untyped-def]
    people = [new_user("ear") for _ in range(5)]
    procs = [
        _start("--profile", p.name, "listen", "--channel", str(ch), "--no-play", "--timeout", "1")
        for p in people
        for ch in (1, 2)
    ]
    for code, _, err in _finish(procs):
        assert code == 0 and "Traceback" not in err, err
    state = json.loads((Path(os.environ["CHOK_HOME"]) / "state.json").read_text())
    for person in people:
        kept = state["profiles"][person.name]
        assert {_POSITION.format(channel=1), _POSITION.format(channel=2)} <= set(kept)


@pytest.mark.parametrize("trouble", ["read-only", "full", "missing folder"])
def test_a_bundle_that_cannot_be_written_creates_nobody(
    cluster: LocalCluster, tmp_path: Path, trouble: str
) -> None:
    name = unique("nowrite")
    with small_disk(tmp_path / "disk") as disk:
        out = disk.path / "bundles"
        out.mkdir()
        if trouble == "missing folder":
            out = out / "nowhere" / "x.chok"
        if trouble == "read-only":
            disk.read_only()
        elif trouble == "full":
            disk.fill()
        before = disk.entries()
        result = run_chok("admin", "add-user", name, "--out", str(out))
        line = assert_clean_error(result, code=2 if trouble == "missing folder" else 4)
        assert str(out) in line, line
        assert disk.entries() == before  # no bundle, no temporary file
    assert name not in {u.name for u in service.list_users()}
    assert name not in cluster_principals()
    assert not (cluster.home / "cluster" / "users" / name).exists()
    # The name is free: the same command into a good folder works.
    again = run_chok("admin", "add-user", name, "--out", str(tmp_path))
    assert again.code == 0, again.err
