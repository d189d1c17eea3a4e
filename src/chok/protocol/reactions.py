"""Reaction records and effective reactions (protocol.md, sections 5.4-5.5)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chok.errors import UsageError

from ._util import INT64_MAX, dumps_compact, int_in, parse_decimal
from .names import is_emoji, is_user_name, sort_emoji, validate_emoji, validate_user_name
from .signing import SignatureFields, reaction_message, signature_fields
from .topics import MAX_CHANNEL, validate_channel_number
from .transmission import transmission_key

REACTION_KEY_PREFIX = "chok-react-"
REACTION_VERSION = 1


def reaction_key(channel: int, start_offset: int, user: str, emoji: str) -> bytes:
    """``chok-react-{n}-{startOffset}-{user}-{emojiHex}`` (ASCII)."""
    emoji_hex = emoji.encode("utf-8").hex()
    return f"{REACTION_KEY_PREFIX}{channel}-{start_offset}-{user}-{emoji_hex}".encode("ascii")


@dataclass(frozen=True, slots=True)
class ReactionRecord:
    """One person's latest state of one emoji on one transmission."""

    channel: int
    start_offset: int
    user: str
    emoji: str
    on: bool
    timestamp_ms: int
    #: The reacting person's signature (section 9.4); None for an unsigned record.
    sig: SignatureFields | None = None

    def __post_init__(self) -> None:
        validate_channel_number(self.channel)
        if not int_in(self.start_offset, 0, INT64_MAX):
            raise UsageError(f"invalid start offset {self.start_offset!r}")
        validate_user_name(self.user)
        validate_emoji(self.emoji)
        if not isinstance(self.on, bool):
            raise UsageError(f"'on' must be True or False, not {self.on!r}")
        if not int_in(self.timestamp_ms, 0, INT64_MAX):
            raise UsageError(f"invalid timestamp {self.timestamp_ms!r}")

    @property
    def target(self) -> str:
        """The key of the transmission record it reacts to, ``msg-{n}-{startOffset}``."""
        return transmission_key(self.channel, self.start_offset).decode("ascii")

    def key(self) -> bytes:
        return reaction_key(self.channel, self.start_offset, self.user, self.emoji)

    def to_value(self) -> bytes:
        obj: dict[str, Any] = {
            "chokReaction": REACTION_VERSION,
            "target": self.target,
            "user": self.user,
            "emoji": self.emoji,
            "on": self.on,
            "ts": self.timestamp_ms,
        }
        if self.sig is not None:
            obj.update(self.sig.to_json_obj())
        return dumps_compact(obj)

    def signed_message(self) -> bytes:
        """The bytes the reacting person signs (section 9.4)."""
        return reaction_message(
            self.channel, self.start_offset, self.user, self.emoji, self.on, self.timestamp_ms
        )

    def with_signature(self, sig: SignatureFields) -> ReactionRecord:
        return dataclasses.replace(self, sig=sig)


def parse_reaction_key(key: bytes | str) -> tuple[int, int, str, str] | None:
    """(channel, start offset, user, emoji) of a ``chok-react-`` key, or None."""
    try:
        text = key.decode("ascii") if isinstance(key, bytes) else key
    except UnicodeDecodeError:
        return None
    if not isinstance(text, str) or not text.startswith(REACTION_KEY_PREFIX):
        return None
    parts = text[len(REACTION_KEY_PREFIX) :].split("-", 2)
    if len(parts) != 3:
        return None
    user, dash, emoji_hex = parts[2].rpartition("-")
    channel = parse_decimal(parts[0], MAX_CHANNEL)
    start_offset = parse_decimal(parts[1], INT64_MAX)
    if not dash or channel is None or channel < 1 or start_offset is None:
        return None
    if not is_user_name(user) or len(emoji_hex) > 32 or emoji_hex != emoji_hex.lower():
        return None
    try:
        emoji = bytes.fromhex(emoji_hex).decode("utf-8")
    except ValueError:
        return None
    if not is_emoji(emoji) or emoji.encode("utf-8").hex() != emoji_hex:
        return None
    return channel, start_offset, user, emoji


def parse_reaction_value(key: bytes, obj: Mapping[str, Any]) -> ReactionRecord | None:
    """A ReactionRecord from its key and decoded JSON value, or None (section 5.4)."""
    parsed = parse_reaction_key(key)
    if parsed is None:
        return None
    channel, start_offset, user, emoji = parsed
    if not int_in(obj.get("chokReaction"), REACTION_VERSION, REACTION_VERSION):
        return None
    on, timestamp = obj.get("on"), obj.get("ts")
    if (
        obj.get("target") != transmission_key(channel, start_offset).decode("ascii")
        or obj.get("user") != user
        or obj.get("emoji") != emoji
        or not isinstance(on, bool)
        or not int_in(timestamp, 0, INT64_MAX)
    ):
        return None
    try:
        sig = signature_fields(obj, with_frames=False)
        return ReactionRecord(channel, start_offset, user, emoji, on, timestamp, sig)
    except UsageError:  # pragma: no cover - the checks above are the same
        return None


def effective_reactions(
    map_from_latest_msg_record: Mapping[str, Sequence[str]] | None,
    reaction_records: Iterable[ReactionRecord],
) -> dict[str, list[str]]:
    """Who reacted with what to one transmission (section 5.5).

    ``reaction_records`` are that transmission's reaction records in log (offset)
    order: for each (user, emoji) the last one decides; pairs without any record
    are taken from the ``reactions`` map of the latest transmission record. The
    result has the canonical order: 👍 ❤️ 🔥, then others; names sorted; no empty lists.
    """
    present: set[tuple[str, str]] = set()
    for emoji, names in (map_from_latest_msg_record or {}).items():
        if isinstance(names, str) or not all(isinstance(name, str) for name in names):
            raise UsageError(f"the reactions to {emoji!r} must be a list of names")
        present.update((name, emoji) for name in names)
    target: str | None = None
    for record in reaction_records:
        if target is None:
            target = record.target
        elif record.target != target:
            raise UsageError(
                f"reaction records of two transmissions mixed: {target} and {record.target}"
            )
        if record.on:
            present.add((record.user, record.emoji))
        else:
            present.discard((record.user, record.emoji))
    by_emoji: dict[str, list[str]] = {}
    for name, emoji in present:
        by_emoji.setdefault(emoji, []).append(name)
    return {emoji: sorted(by_emoji[emoji]) for emoji in sort_emoji(by_emoji)}


def toggle_target_state(
    current_effective: Mapping[str, Sequence[str]], user: str, emoji: str
) -> bool:
    """The ``on`` a reaction record must carry to toggle ``user``'s ``emoji``."""
    validate_user_name(user)
    validate_emoji(emoji)
    return user not in current_effective.get(emoji, ())
