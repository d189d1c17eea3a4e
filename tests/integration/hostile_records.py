"""Hostile records to write to a real channel: what a member (or a broken client)
may put in its metadata and audio partitions. Deterministic (seeded), built from
the fuzz suite's pools of extreme values and docs/protocol.md's vectors."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from chok.protocol import build_audio_frame, build_end_of_transmission
from chok.protocol.reactions import reaction_key
from tests.unit.fuzz_strategies import (
    AUDIO_SEEDS,
    HOSTILE_INTS,
    HOSTILE_TEXT,
    METADATA_SEEDS,
    RAW_TOKENS,
    mutate_bytes,
    to_bytes,
)

MetadataRecord = tuple[bytes | None, bytes | None]
AudioRecord = tuple[bytes | None, bytes | None, list[tuple[str, bytes | None]] | None]

NAMES = ["mallory", "alice", "user1", "a-b", "x" * 64]  # keys are names: anyone's
EMOJI = ["\U0001f44d", "\u2764\ufe0f", "\U0001f525", "\U0001f1eb\U0001f1f7", "\u2764"]


class Hostile:
    def __init__(self, channel: int, audio_high: int, seed: int = 9) -> None:
        self.channel, self.audio_high = channel, audio_high
        self.rng = random.Random(seed)
        self.targets: list[int] = []  # start offsets of hostile transmission records
        self.tx_ids: list[tuple[str, str]] = []  # (talker, id) of hostile frames

    # -- values -------------------------------------------------------------------

    def _int(self) -> int:
        return self.rng.choice([*HOSTILE_INTS, self.rng.randrange(10**6), 0, 1, 60])

    def _text(self) -> str:
        rng = self.rng
        if rng.random() < 0.001:
            return "\u202e" + "y" * 300_000  # a large record (about 300 KB)
        if rng.random() < 0.5:
            return rng.choice(HOSTILE_TEXT)
        points = [rng.choice([rng.randrange(0x20), rng.randrange(0x110000)]) for _ in range(9)]
        return "".join(map(chr, points)).encode("utf-8", "replace").decode()  # no lone surrogate

    def _any(self) -> Any:
        return self.rng.choice([self._int(), self._text(), None, True, [], {}, 1.5, [self._text()]])

    def _start(self) -> int:
        """Mostly offsets that exist (so play and catch-up read them), some that never will."""
        rng = self.rng
        if rng.random() < 0.7 and self.audio_high > 0:
            return rng.randrange(self.audio_high)
        return rng.choice([self.audio_high + rng.randrange(1000), 2**62, 2**63 - 1])

    # -- metadata -----------------------------------------------------------------

    def transmission(self) -> MetadataRecord:
        rng = self.rng
        start = self._start()
        span = rng.choice([0, 1, 5, 50, 2**62])
        value: dict[str, Any] = {
            "userId": self._text(), "channelId": self.channel, "startOffset": start,
            "endOffset": min(start + span, 2**63 - 1), "timestamp": abs(self._int()) % 2**63,
            "messageCount": abs(self._int()) % 2**63,
            "reactions": {self._text() if rng.random() < 0.5 else rng.choice(EMOJI):
                          [self._text() for _ in range(rng.randrange(3))]
                          for _ in range(rng.randrange(3))},
        }  # fmt: skip
        if rng.random() < 0.5:
            tx_id = rng.choice([f"{rng.getrandbits(32):08x}", "8f3a5c0e", "XYZ"])
            value.update(chokV=2, chokTx=tx_id, chokFrameMs=rng.choice([20, 40, 60, 61]),
                         chokFrames=rng.choice([1, 10**9, 10**9 + 1, 0, 2**24]),
                         chokDurationMs=rng.choice([0, 10**9, 60, 10**9 + 1]))  # fmt: skip
        for _ in range(rng.choice([0, 0, 1, 2])):  # and one or two members of any kind
            value[rng.choice(list(value))] = self._any()
        self.targets.append(start)
        return f"msg-{self.channel}-{start}".encode(), json.dumps(value).encode()

    def reaction(self) -> MetadataRecord:
        rng = self.rng
        start = rng.choice(self.targets) if self.targets else 0
        user, emoji = rng.choice(NAMES[:4]), rng.choice(EMOJI)
        key = reaction_key(self.channel, start, user, emoji)
        value: dict[str, Any] = {
            "chokReaction": 1, "target": f"msg-{self.channel}-{start}", "user": user,
            "emoji": emoji, "on": rng.random() < 0.7, "ts": abs(self._int()) % 2**63,
        }  # fmt: skip
        if rng.random() < 0.3:
            value[rng.choice(list(value))] = self._any()
        return key, json.dumps(value).encode()

    def mutated_vector(self) -> MetadataRecord:
        seed = self.rng.choice([s for s in METADATA_SEEDS if s.value is not None])
        key = (seed.key or b"").replace(b"-1-", f"-{self.channel}-".encode())
        return key, mutate_bytes(self.rng, seed.value or b"")

    def raw_json(self) -> MetadataRecord:
        rng = self.rng
        token = rng.choice(RAW_TOKENS)
        start = self._start()
        body = (
            f'{{"userId":"dan","userId":"eve","channelId":{self.channel},"startOffset":{start},'
            f'"endOffset":{start},"timestamp":{token},"messageCount":{token}}}'
        )
        return f"msg-{self.channel}-{start}".encode(), to_bytes(body)

    def random_bytes(self) -> MetadataRecord:
        rng = self.rng
        prefix = rng.choice([b"", b"msg-", f"msg-{self.channel}-".encode(), b"chok-react-"])
        key = prefix + rng.randbytes(rng.randrange(20))
        # (A compacted topic refuses records without a key: the broker never has one.)
        return key, rng.choice([rng.randbytes(rng.randrange(300)), None, b""])

    def metadata(self, count: int) -> list[MetadataRecord]:
        kinds: list[tuple[float, Callable[[], MetadataRecord]]] = [
            (0.45, self.transmission), (0.15, self.reaction), (0.2, self.mutated_vector),
            (0.1, self.raw_json), (0.1, self.random_bytes),
        ]  # fmt: skip
        return [self._pick(kinds)() for _ in range(count)]

    # -- audio --------------------------------------------------------------------

    def frame(self) -> AudioRecord:
        rng = self.rng
        talker = rng.choice(NAMES)
        tx_id = f"{rng.getrandbits(32):08x}" if rng.random() < 0.3 or not self.tx_ids else None
        if tx_id is None:
            talker, tx_id = rng.choice(self.tx_ids)
        else:
            self.tx_ids.append((talker, tx_id))
        seq = rng.choice([0, 1, 2, rng.randrange(2000), 2**24 - 1])
        packet = rng.choice([b"\x00\x00", rng.randbytes(rng.randrange(25, 200))])
        key, value, headers = build_audio_frame(
            talker, tx_id, seq, packet, rng.choice([20, 40, 60])
        )
        return key, value, list(headers)

    def end(self) -> AudioRecord:
        rng = self.rng
        talker, tx_id = rng.choice(self.tx_ids) if self.tx_ids else ("mallory", "8f3a5c0e")
        frames = rng.choice([1, 2, 1000, 2**24 - 1])
        duration = rng.choice([0, 60, 2**31, 2**32 - 1])
        key, value, headers = build_end_of_transmission(talker, tx_id, frames, duration)
        return key, value, list(headers)

    def original(self) -> AudioRecord:
        rng = self.rng
        return b"user1", rng.choice([b"\x00\x00", rng.randbytes(rng.randrange(1, 300))]), None

    def malformed(self) -> AudioRecord:
        rng = self.rng
        seed = rng.choice([s for s in AUDIO_SEEDS if s.headers])
        headers: list[tuple[str, bytes | None]] = [
            (name, mutate_bytes(rng, value or b"") if rng.random() < 0.7 else value)
            for name, value in seed.headers or []
        ]
        if rng.random() < 0.3:
            headers.append(rng.choice(headers))
        return rng.choice([seed.key, rng.randbytes(8), None]), seed.value, headers

    def odd(self) -> AudioRecord:
        rng = self.rng
        if rng.random() < 0.02:
            return b"mallory", rng.randbytes(rng.choice([65_536, 900_000])), None  # large
        return rng.choice([None, b"", rng.randbytes(5)]), rng.choice([None, b""]), None

    def audio(self, count: int) -> list[AudioRecord]:
        kinds: list[tuple[float, Callable[[], AudioRecord]]] = [
            (0.45, self.frame), (0.15, self.end), (0.15, self.original),
            (0.15, self.malformed), (0.1, self.odd),
        ]  # fmt: skip
        return [self._pick(kinds)() for _ in range(count)]

    def _pick(self, kinds: list[tuple[float, Callable[[], Any]]]) -> Callable[[], Any]:
        weights, makers = zip(*kinds, strict=True)
        return self.rng.choices(makers, weights)[0]
