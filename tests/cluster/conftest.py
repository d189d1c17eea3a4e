"""A real three-node Kafka cluster (KRaft, mTLS, ACLs), started once for this
package with the CLI (`chok broker start --nodes 3`) in a CHOK_HOME of its own,
with channels 1 and 2 and three people joined there."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chok.broker.process import free_port_pair
from tests.cluster.helpers import ThreeNodes
from tests.conftest import run_chok

PEOPLE = ("ann", "ben", "cat")


@pytest.fixture(scope="package")
def three_nodes() -> Iterator[ThreeNodes]:
    home = Path(tempfile.mkdtemp(prefix="chok-cluster-"))
    port = free_port_pair(3)
    began = time.monotonic()
    started = run_chok("broker", "start", "--nodes", "3", "--port", str(port), home=home)
    assert started.code == 0, started.err
    print(f"\nthree-node cluster started in {time.monotonic() - began:.1f} s")
    try:
        init = run_chok("admin", "init", "--channels", "2", "--json", home=home)
        assert init.code == 0, init.err
        bundles = home / "bundles"
        bundles.mkdir()
        for name in PEOPLE:
            added = run_chok("admin", "add-user", name, "--out", str(bundles), home=home)
            assert added.code == 0, added.err
            joined = run_chok("join", str(bundles / f"{name}.chok"), home=home)
            assert joined.code == 0, joined.err
        yield ThreeNodes(home, port, json.loads(init.out)["bootstrap"])
    finally:
        stopped = run_chok("broker", "stop", home=home)
        assert stopped.code == 0, stopped.err
