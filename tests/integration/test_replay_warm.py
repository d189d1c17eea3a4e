"""Replays reuse a kept-open reader: the second replay asks over warm
connections, and never hears frames of the replay before it."""

from __future__ import annotations

import dataclasses

import pytest

from chok.channel.replay import WARM, replay_frames
from chok.channel.session import open_session
from chok.errors import NotFoundError
from tests.integration.talk_helpers import on_wire, speech_packets, talk_packets

pytestmark = pytest.mark.broker


def _talk(session, packets):  # type: ignore[no-untyped-def]
    return talk_packets(session, packets)


def test_replays_one_after_another_share_a_reader_and_stay_apart(new_user) -> None:  # type: ignore[no-untyped-def]
    alice, bob = open_session(new_user("alice")), open_session(new_user("bob"))
    first = _talk(alice, speech_packets())
    second = _talk(alice, list(reversed(speech_packets())))
    assert first.transmission is not None and second.transmission is not None

    frames = replay_frames(bob, first.transmission)
    assert next(frames).seq == 0
    frames.close()  # stopped after one frame: the reader goes back, warm
    reader = WARM.take(bob)
    WARM.give_back(bob, reader)

    replayed = list(replay_frames(bob, second.transmission))
    assert [f.packet for f in replayed] == [on_wire(p) for p in reversed(speech_packets())]
    assert WARM.take(bob) is reader  # the same kept-open reader served it
    WARM.give_back(bob, reader)

    whole = list(replay_frames(bob, first.transmission))
    assert [f.packet for f in whole] == [on_wire(p) for p in speech_packets()]


def test_a_transmission_not_on_the_broker_leaves_the_reader_usable(new_user) -> None:  # type: ignore[no-untyped-def]
    alice, bob = open_session(new_user("alice")), open_session(new_user("bob"))
    said = _talk(alice, speech_packets())
    assert said.transmission is not None
    missing = dataclasses.replace(said.transmission, start_offset=10**9, end_offset=10**9 + 5)
    with pytest.raises(NotFoundError):
        list(replay_frames(bob, missing))
    assert len(list(replay_frames(bob, said.transmission))) == said.frames
