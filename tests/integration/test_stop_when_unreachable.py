"""Stopping while the cluster does not answer (`chok listen --timeout 4` with
the broker down took 19.5 s): the background threads give up their current
short attempt and end, instead of sitting out each whole timeout (a tune-in
attempt 4 s, listing the family's topics 10 s, the presence flush 5 s).

Real clients against a port nothing listens on; a thread "ended" is a
condition, given a join far shorter than the waits it used to sit out.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from chok import profiles
from chok.channel.family_service import FamilyService
from chok.channel.service import ListenService
from chok.channel.session import open_session
from chok.channel.store import Store

pytestmark = pytest.mark.broker
NOBODY = "localhost:1"  # nothing listens there: every connection is refused
SHORT_JOIN_S = 2.0


@pytest.fixture
def cut_off(new_user) -> profiles.Profile:  # type: ignore[no-untyped-def]
    """A real person whose profile points at a broker that is not there."""
    person: profiles.Profile = new_user("away")
    return replace(person, config=replace(person.config, broker_url=NOBODY))


def test_the_family_service_stops_while_the_cluster_does_not_answer(
    cut_off: profiles.Profile,
) -> None:
    service = FamilyService(cut_off, Store.for_profile(cut_off), heartbeat_ms=1000).start()
    service.stop(timeout=SHORT_JOIN_S)  # it was writing "online" (5 s) or listing (10 s)
    assert not service._thread.is_alive(), "the family thread sat out its whole timeout"
    assert service.error is not None  # and it says why nothing was written


def test_a_listener_stops_in_the_middle_of_a_tune_in_attempt(cut_off: profiles.Profile) -> None:
    listener = ListenService(open_session(cut_off)).start(timeout=0, require=False)
    listener.stop(timeout=SHORT_JOIN_S)  # its first attempt asks for up to 4 s
    assert not listener._thread.is_alive(), "the reading thread finished its whole attempt"
    assert listener.state != "connected"
