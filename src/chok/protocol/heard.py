"""Heard records: which audio a person heard, as ranges of audio offsets
(protocol.md, section 11.4). Pure functions, no I/O.

A listener tuned in live hears everything from where it tuned in: one range
of the audio partition, however many transmissions it holds. A replay played
to its end adds the transmission's own range. A transmission was heard by a
person when one of their ranges covers it, start offset to end offset.

Ranges live in the person's own topic, cut into blocks of ``BLOCK`` offsets
(key ``heard-{n}-{block}``), so that each record stays small and compaction
keeps one record per block however often it is rewritten.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chok.errors import UsageError

from ._util import INT64_MAX, dumps_compact, int_in, parse_decimal
from .topics import MAX_CHANNEL, validate_channel_number

HEARD_KEY_PREFIX = "heard-"
#: Audio offsets per heard record (about 4 minutes of one person's speech).
BLOCK = 4096
#: The most ranges one record may hold (a writer merges beyond that).
MAX_RANGES = 256

Range = tuple[int, int]  # first and last audio offset, both included


def block_of(offset: int) -> int:
    return offset // BLOCK


def heard_key(channel: int, block: int) -> bytes:
    return f"{HEARD_KEY_PREFIX}{validate_channel_number(channel)}-{block}".encode("ascii")


def parse_heard_key(key: bytes | str) -> tuple[int, int] | None:
    """(channel, block) of a ``heard-{n}-{block}`` key, or None."""
    try:
        text = key.decode("ascii") if isinstance(key, bytes) else key
    except UnicodeDecodeError:
        return None
    if not text.startswith(HEARD_KEY_PREFIX):
        return None
    channel_text, dash, block_text = text[len(HEARD_KEY_PREFIX) :].partition("-")
    channel = parse_decimal(channel_text, MAX_CHANNEL)
    block = parse_decimal(block_text, INT64_MAX // BLOCK)
    if not dash or channel is None or channel < 1 or block is None:
        return None
    return channel, block


def merge_ranges(ranges: Iterable[Range]) -> list[Range]:
    """Sorted, with overlapping and touching ranges joined (``[1,4]+[5,9] = [1,9]``)."""
    merged: list[Range] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            if last > merged[-1][1]:
                merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged


def split_by_block(first: int, last: int) -> dict[int, Range]:
    """One range cut at block boundaries: block -> the part inside it."""
    if not (0 <= first <= last <= INT64_MAX):
        raise UsageError(f"invalid range of offsets {first}..{last}")
    parts: dict[int, Range] = {}
    block = block_of(first)
    while block * BLOCK <= last:
        start = max(first, block * BLOCK)
        end = min(last, (block + 1) * BLOCK - 1)
        parts[block] = (start, end)
        block += 1
    return parts


def _bounded(ranges: list[Range]) -> list[Range]:
    """At most MAX_RANGES: the closest neighbours are joined first (a little
    unheard audio between them then counts as heard, never the other way)."""
    while len(ranges) > MAX_RANGES:
        gaps = [(ranges[i + 1][0] - ranges[i][1], i) for i in range(len(ranges) - 1)]
        _, i = min(gaps)
        ranges[i : i + 2] = [(ranges[i][0], ranges[i + 1][1])]
    return ranges


@dataclass(frozen=True, slots=True)
class HeardRecord:
    """What one person heard of one block of one channel's audio partition."""

    user: str
    channel: int
    block: int
    ranges: tuple[Range, ...]
    timestamp_ms: int

    def __post_init__(self) -> None:
        low, high = self.block * BLOCK, (self.block + 1) * BLOCK - 1
        if any(not (low <= a <= b <= high) for a, b in self.ranges):
            raise UsageError(f"heard ranges outside block {self.block}")
        object.__setattr__(self, "ranges", tuple(_bounded(merge_ranges(self.ranges))))

    def key(self) -> bytes:
        return heard_key(self.channel, self.block)

    def to_value(self) -> bytes:
        return dumps_compact(
            {
                "chokHeard": 1,
                "user": self.user,
                "channel": self.channel,
                "block": self.block,
                "ranges": [list(r) for r in self.ranges],
                "ts": self.timestamp_ms,
            }
        )

    def adding(self, first: int, last: int, timestamp_ms: int) -> HeardRecord:
        """This record with one more range (the part of it inside this block)."""
        part = split_by_block(first, last).get(self.block)
        ranges = self.ranges if part is None else (*self.ranges, part)
        return HeardRecord(self.user, self.channel, self.block, ranges, timestamp_ms)


def parse_heard(user: str, key: bytes, obj: Mapping[str, Any]) -> HeardRecord | None:
    ids = parse_heard_key(key)
    raw, ts = obj.get("ranges"), obj.get("ts")
    if (
        ids is None
        or not int_in(obj.get("chokHeard"), 1, 1)
        or obj.get("user") != user
        or obj.get("channel") != ids[0]
        or obj.get("block") != ids[1]
        or not isinstance(raw, list)
        or len(raw) > MAX_RANGES
        or not int_in(ts, 0, INT64_MAX)
    ):
        return None
    low, high = ids[1] * BLOCK, (ids[1] + 1) * BLOCK - 1
    ranges: list[Range] = []
    for item in raw:
        if not (isinstance(item, list) and len(item) == 2):
            return None
        first, last = item
        if not (int_in(first, low, high) and int_in(last, first, high)):
            return None
        ranges.append((first, last))
    return HeardRecord(user, ids[0], ids[1], tuple(ranges), ts)


class HeardIndex:
    """Who heard what on one channel: each person's ranges, joined across blocks."""

    def __init__(self, by_user: Mapping[str, Sequence[Range]] | None = None) -> None:
        self._starts: dict[str, list[int]] = {}
        self._ranges: dict[str, list[Range]] = {}
        for user, ranges in (by_user or {}).items():
            merged = merge_ranges(ranges)
            self._ranges[user] = merged
            self._starts[user] = [a for a, _ in merged]

    @classmethod
    def of_records(cls, records: Iterable[HeardRecord]) -> HeardIndex:
        by_user: dict[str, list[Range]] = {}
        for record in records:
            by_user.setdefault(record.user, []).extend(record.ranges)
        return cls(by_user)

    def heard(self, user: str, start_offset: int, end_offset: int) -> bool:
        starts = self._starts.get(user)
        if not starts:
            return False
        index = bisect.bisect_right(starts, start_offset) - 1
        return index >= 0 and self._ranges[user][index][1] >= end_offset

    def heard_by(self, start_offset: int, end_offset: int, talker: str | None = None) -> list[str]:
        """The people (user names, sorted) who heard that span, the talker left out."""
        return sorted(
            user
            for user in self._ranges
            if user != talker and self.heard(user, start_offset, end_offset)
        )

    @property
    def users(self) -> list[str]:
        return sorted(self._ranges)
