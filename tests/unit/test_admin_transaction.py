"""add-user is all or nothing, whichever step fails (issue 9, item 2).

A fake backend stands in for the cluster so each step can be made to fail
exactly; tests/integration/test_admin_all_or_nothing.py does the same
against the real broker and real full or read-only disks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chok import pki
from chok.errors import KafkaError, StorageError
from chok.protocol.bundle import Bundle
from chok.provision import registry, service, userkeys
from chok.provision.backend import Identity


class FakeCluster:
    """Records grants like a cluster would; fails where a test says."""

    name = "fake"

    def __init__(self) -> None:
        self.ca = pki.create_ca()
        self.granted: dict[str, list[int]] = {}
        self.fail_grant = False
        self.fail_revoke = False

    def bootstrap(self) -> str:
        return "localhost:9093"

    def ensure_channel(self, number: int) -> list[str]:
        return []

    def issue(self, user: str, generation: int) -> Identity:
        cn = user if generation == 1 else f"{user}.{generation}"
        return Identity(pki.issue(self.ca, cn), cn)

    def grant(self, principal: str, user: str, channels: list[int]) -> None:
        if self.fail_grant:
            raise KafkaError("the cluster did not answer")
        self.granted[principal] = channels

    def deny(self, principal: str, user: str, channels: list[int]) -> None:
        pass

    def family(self) -> None:
        return None  # no family topics here (provision.family is tested on the broker)

    def revoke(self, principal: str) -> None:
        if self.fail_revoke:
            raise KafkaError("the cluster did not answer")
        self.granted.pop(principal, None)


class Sink:
    def __init__(self, fail_at: str | None = None) -> None:
        self.fail_at = fail_at
        self.events: list[str] = []

    def stage(self, bundle: Bundle) -> None:
        self._step("stage")

    def commit(self) -> None:
        self._step("commit")

    def discard(self) -> None:
        self.events.append("discard")

    def _step(self, step: str) -> None:
        if self.fail_at == step:
            raise StorageError(f"cannot {step}: the disk is full")
        self.events.append(step)


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeCluster:
    monkeypatch.setenv("CHOK_HOME", str(tmp_path / "home"))
    fake = FakeCluster()
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(fake.ca.cert_pem)
    reg = registry.Registry(backend="local", bootstrap="localhost:9093")
    reg.channels = [registry.ChannelRecord(1, "Main")]
    reg.settings["server_ca"] = str(ca_file)
    registry.save(reg)
    monkeypatch.setattr(service, "open_backend", lambda _reg: fake)
    return fake


def test_a_complete_add_user_grants_keeps_and_writes(cluster: FakeCluster) -> None:
    sink = Sink()
    service.add_user("alice", None, False, sink)
    assert sink.events == ["stage", "commit"]
    assert cluster.granted == {"alice": [1]}
    reg = registry.load()
    assert reg.user("alice") is not None and reg.pending_revocations == []


@pytest.mark.parametrize("fail_at", ["stage", "grant", "commit"])
def test_a_failed_step_leaves_nobody_behind(cluster: FakeCluster, fail_at: str) -> None:
    cluster.fail_grant = fail_at == "grant"
    sink = Sink(fail_at if fail_at != "grant" else None)
    with pytest.raises((StorageError, KafkaError)):
        service.add_user("bob", None, False, sink)
    assert cluster.granted == {}
    reg = registry.load()
    assert reg.user("bob") is None and reg.pending_revocations == []
    assert userkeys.load_if_any("bob") is None
    assert sink.events[-1] == "discard" or fail_at == "stage"


def test_access_that_could_not_be_taken_back_is_revoked_by_the_next_command(
    cluster: FakeCluster,
) -> None:
    cluster.fail_revoke = True
    with pytest.raises(StorageError):
        service.add_user("carol", None, False, Sink("commit"))
    assert cluster.granted == {"carol": [1]}  # the cluster is gone for now
    assert registry.load().pending_revocations == ["carol"]
    cluster.fail_revoke = False
    service.add_user("dan", None, False, Sink())
    assert cluster.granted == {"dan": [1]}
    assert registry.load().pending_revocations == []


def test_a_failed_reissue_keeps_the_previous_certificate(cluster: FakeCluster) -> None:
    service.add_user("erin", None, False, Sink())
    before = userkeys.load("erin")
    with pytest.raises(StorageError):
        service.add_user("erin", None, True, Sink("commit"))
    assert userkeys.load("erin") == before
    record = registry.load().user("erin")
    assert record is not None and record.generation == 1
    assert cluster.granted == {"erin": [1]}
