"""What a talker sees of a delivery: its state, its progress and, once sent,
what was sent.

Plain values, kept apart from ``delivery`` (the thread that sends, its
producers and its outbox entry) so that what the front ends and the talker
show is defined in one small place.

``DeliveryState`` is "sending" (the broker answers), "queued" (it does not:
kept, will be sent when connected), "sent", "failed" (refused for good, e.g.
access revoked) or "left" (given up by this process: the next chok on the
profile sends it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chok.channel.connection import ConnStatus
from chok.protocol.transmission import Transmission


class DeliveryState(StrEnum):
    SENDING = "sending"
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    LEFT = "left"


@dataclass(frozen=True)
class TalkResult:
    transmission: Transmission | None  # None when nothing was said (zero frames)
    frames: int
    bytes_sent: int
    tx_id: str


@dataclass(frozen=True)
class DeliveryProgress:
    state: DeliveryState
    frames: int  # frame records in the outbox
    acknowledged: int  # of them, acknowledged by the broker
    waiting_s: float  # since the release (0 before it)
    connection: ConnStatus
