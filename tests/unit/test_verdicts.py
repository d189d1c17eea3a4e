"""Verdicts are remembered per entry, except a provisional one: a signature whose
certificate this reader has not learnt yet (the app judged a cached first screen
before reading the certificates published since, and kept calling a verified
recording forged)."""

from __future__ import annotations

from dataclasses import dataclass, field

from chok.channel.timeline import Entry, Verdicts
from chok.pki.trust import UNPUBLISHED, Authenticity
from chok.protocol.transmission import Transmission, build_transmission


@dataclass
class _Store:
    answers: list[Authenticity]
    asked: list[Transmission] = field(default_factory=list)

    def transmission(self, tx: Transmission) -> Authenticity:
        self.asked.append(tx)
        return self.answers[min(len(self.asked), len(self.answers)) - 1]


@dataclass
class _Security:
    store: _Store


def _entry() -> Entry:
    tx = build_transmission(
        user="mum", channel=1, start_offset=63, end_offset=99, timestamp_ms=1,
        tx_id="8f3a5c0e", frames=36, duration_ms=2160, frame_ms=60,
    )  # fmt: skip
    return Entry(tx, {}, True)


def test_a_provisional_verdict_is_asked_again_then_remembered() -> None:
    store = _Store([Authenticity("forged", UNPUBLISHED), Authenticity("verified", signer="mum")])
    verdicts = Verdicts(_Security(store))  # type: ignore[arg-type]
    entry = _entry()
    assert verdicts(entry).provisional
    assert verdicts(entry).verified  # the certificate was learnt meanwhile
    assert verdicts(entry).verified
    assert len(store.asked) == 2  # remembered once settled


def test_a_real_forgery_is_remembered() -> None:
    store = _Store([Authenticity("forged", "signed by bob, not mum")])
    verdicts = Verdicts(_Security(store))  # type: ignore[arg-type]
    entry = _entry()
    assert verdicts(entry).forged and verdicts(entry).forged
    assert len(store.asked) == 1
