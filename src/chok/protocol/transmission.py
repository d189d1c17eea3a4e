"""Transmission records of ``chok-metadata-{n}`` (protocol.md, sections 5.1-5.3)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chok.errors import UsageError

from ._util import INT64_MAX, MAX_COUNT, dumps_compact, int_in, is_clean_str, parse_decimal
from .audio import ORIGINAL_FRAME_MS, PROTOCOL_VERSION, is_frame_ms
from .names import is_tx_id, is_user_name, sort_emoji, validate_tx_id, validate_user_name
from .people import is_display_name, validate_display_name
from .signing import (
    SignatureFields,
    signature_fields,
    transmission_message,
)
from .topics import MAX_CHANNEL, validate_channel_number

TRANSMISSION_KEY_PREFIX = "msg-"
#: The members every transmission record must have (``reactions`` is optional).
REQUIRED_FIELDS: tuple[str, ...] = (
    "userId",
    "channelId",
    "startOffset",
    "endOffset",
    "timestamp",
    "messageCount",
)

Reactions = dict[str, tuple[str, ...]]


def normalize_reactions(reactions: Mapping[str, Sequence[str]] | None) -> Reactions:
    """Canonical map (section 5.3): emoji order, sorted unique names, no empty lists."""
    result: Reactions = {}
    if not reactions:
        return result
    for emoji in sort_emoji(reactions):
        names = reactions[emoji]
        if not isinstance(emoji, str) or isinstance(names, str):
            raise UsageError(f"the reactions to {emoji!r} must be a list of names")
        if not all(isinstance(name, str) for name in names):
            raise UsageError(f"the reactions to {emoji} must be a list of names")
        unique = tuple(sorted(set(names)))
        if unique:
            result[emoji] = unique
    return result


def transmission_key(channel: int, start_offset: int) -> bytes:
    """``msg-{n}-{startOffset}``."""
    return f"{TRANSMISSION_KEY_PREFIX}{channel}-{start_offset}".encode("ascii")


def parse_transmission_key(key: bytes | str) -> tuple[int, int] | None:
    """(channel, start offset) of a ``msg-`` key, or None."""
    try:
        text = key.decode("ascii") if isinstance(key, bytes) else key
    except UnicodeDecodeError:
        return None
    if not isinstance(text, str) or not text.startswith(TRANSMISSION_KEY_PREFIX):
        return None
    channel_text, dash, offset_text = text[len(TRANSMISSION_KEY_PREFIX) :].partition("-")
    channel = parse_decimal(channel_text, MAX_CHANNEL)
    start_offset = parse_decimal(offset_text, INT64_MAX)
    if not dash or channel is None or channel < 1 or start_offset is None:
        return None
    return channel, start_offset


@dataclass(frozen=True, slots=True)
class Transmission:
    """One transmission record.

    ``tx_id``, ``chok_frames``, ``chok_duration_ms`` and ``chok_frame_ms`` (the talk
    details) are all set or all None (a transmission of the original app, or one
    whose record it rewrote). Use ``frames``, ``duration_ms`` and ``frame_ms``, which
    fall back on the original app's estimates.
    """

    user_id: str
    channel: int
    start_offset: int
    end_offset: int
    timestamp_ms: int
    message_count: int
    reactions: Reactions = field(default_factory=dict, hash=False)
    tx_id: str | None = None
    chok_frames: int | None = None
    chok_duration_ms: int | None = None
    chok_frame_ms: int | None = None
    map_from_reactions: bool = False
    # The talker's display name when they talked (``chokName``), or None.
    display_name: str | None = None
    # Set on a deletion marker (``chokDeletedBy``): who took it back (section 5.6).
    deleted_by: str | None = None
    #: The talker's signature (section 9.3); None for an unsigned record.
    sig: SignatureFields | None = None

    def __post_init__(self) -> None:
        if not is_clean_str(self.user_id):
            raise UsageError(f"invalid user id {self.user_id!r}")
        validate_channel_number(self.channel)
        if not int_in(self.start_offset, 0, INT64_MAX):
            raise UsageError(f"invalid start offset {self.start_offset!r}")
        if not int_in(self.end_offset, self.start_offset, INT64_MAX):
            raise UsageError(f"end offset {self.end_offset!r} is below the start offset")
        if not int_in(self.timestamp_ms, 0, INT64_MAX):
            raise UsageError(f"invalid timestamp {self.timestamp_ms!r}")
        if not int_in(self.message_count, 0, INT64_MAX):
            raise UsageError(f"invalid message count {self.message_count!r}")
        object.__setattr__(self, "reactions", normalize_reactions(self.reactions))
        if self.display_name is not None and not is_display_name(self.display_name):
            raise UsageError(f"invalid display name {self.display_name!r}")
        if self.deleted_by is not None:
            validate_user_name(self.deleted_by)
        details = (self.tx_id, self.chok_frames, self.chok_duration_ms, self.chok_frame_ms)
        if all(item is None for item in details):
            return
        validate_tx_id(self.tx_id)
        # Frames left out as silence count (section 4.5): no bound by the span.
        if not int_in(self.chok_frames, 1, MAX_COUNT):
            raise UsageError(f"frame count {self.chok_frames!r} must be from 1 to {MAX_COUNT}")
        if not int_in(self.chok_duration_ms, 0, MAX_COUNT):
            raise UsageError(f"invalid duration {self.chok_duration_ms!r} ms")
        if not is_frame_ms(self.chok_frame_ms):
            raise UsageError(f"invalid frame duration {self.chok_frame_ms!r} ms")

    @property
    def span(self) -> int:
        """Number of audio offsets from start to end offset, inclusive."""
        return self.end_offset - self.start_offset + 1

    @property
    def has_talk_details(self) -> bool:
        """True if chok talked it and its details survived (no rewrite by the original app)."""
        return self.tx_id is not None

    @property
    def frames(self) -> int:
        """Audio frames of this transmission (``messageCount`` without talk details).

        With talk details, frames left out as silence count: it may exceed ``span``.
        """
        return self.chok_frames if self.chok_frames is not None else self.message_count

    @property
    def frame_ms(self) -> int:
        return self.chok_frame_ms if self.chok_frame_ms is not None else ORIGINAL_FRAME_MS

    @property
    def duration_ms(self) -> int:
        """Duration (``messageCount x 60`` ms without talk details)."""
        if self.chok_duration_ms is not None:
            return self.chok_duration_ms
        return self.message_count * ORIGINAL_FRAME_MS

    @property
    def target(self) -> str:
        """The key as text, as reaction records name it."""
        return self.key().decode("ascii")

    def key(self) -> bytes:
        return transmission_key(self.channel, self.start_offset)

    def to_value(self) -> bytes:
        """The record value chok writes: compact JSON, original members first."""
        obj: dict[str, Any] = {
            "userId": self.user_id,
            "channelId": self.channel,
            "startOffset": self.start_offset,
            "endOffset": self.end_offset,
            "timestamp": self.timestamp_ms,
            "messageCount": self.message_count,
            "reactions": {emoji: list(names) for emoji, names in self.reactions.items()},
            "chokV": PROTOCOL_VERSION,
        }
        if self.tx_id is not None:
            obj["chokTx"] = self.tx_id
            obj["chokFrames"] = self.chok_frames
            obj["chokDurationMs"] = self.chok_duration_ms
            obj["chokFrameMs"] = self.chok_frame_ms
        obj["chokMapFromReactions"] = self.map_from_reactions
        if self.display_name is not None:
            obj["chokName"] = self.display_name
        if self.deleted_by is not None:
            obj["chokDeletedBy"] = self.deleted_by
        if self.sig is not None:
            obj.update(self.sig.to_json_obj())
        return dumps_compact(obj)

    def signed_message(self, frames_hash: bytes) -> bytes:
        """The bytes the talker signs (section 9.3); UsageError without talk details."""
        if self.tx_id is None or self.chok_frames is None:
            raise UsageError("only a record with talk details can be signed")
        return transmission_message(
            channel=self.channel,
            tx_id=self.tx_id,
            talker=self.user_id,
            timestamp_ms=self.timestamp_ms,
            duration_ms=self.duration_ms,
            frame_ms=self.frame_ms,
            frames=self.chok_frames,
            start_offset=self.start_offset,
            end_offset=self.end_offset,
            frames_hash=frames_hash,
        )

    def with_signature(self, sig: SignatureFields) -> Transmission:
        return dataclasses.replace(self, sig=sig)

    def with_reactions(self, reactions: Mapping[str, Sequence[str]]) -> Transmission:
        """The record chok re-produces to refresh the original app's map (section 5.5)."""
        return dataclasses.replace(
            self, reactions=normalize_reactions(reactions), map_from_reactions=True
        )

    @property
    def deleted(self) -> bool:
        return self.deleted_by is not None

    def deletion_marker(self, by: str) -> Transmission:
        """The record that takes this transmission back (section 5.6): the same
        key, ``timestamp`` 0 (so the original app, which shows the last 24 hours
        at most, hides it at once), no reactions, ``chokDeletedBy``."""
        return Transmission(
            user_id=self.user_id,
            channel=self.channel,
            start_offset=self.start_offset,
            end_offset=self.end_offset,
            timestamp_ms=0,
            message_count=self.message_count,
            deleted_by=validate_user_name(by),
        )


def build_transmission(
    *,
    user: str,
    channel: int,
    start_offset: int,
    end_offset: int,
    timestamp_ms: int,
    tx_id: str,
    frames: int,
    duration_ms: int,
    frame_ms: int,
    reactions: Mapping[str, Sequence[str]] | None = None,
    display_name: str | None = None,
) -> Transmission:
    """The record a chok talker publishes after release; raises UsageError on bad input."""
    return Transmission(
        user_id=validate_user_name(user),
        channel=channel,
        start_offset=start_offset,
        end_offset=end_offset,
        timestamp_ms=timestamp_ms,
        message_count=end_offset - start_offset + 1,
        reactions=normalize_reactions(reactions),
        tx_id=tx_id,
        chok_frames=frames,
        chok_duration_ms=duration_ms,
        chok_frame_ms=frame_ms,
        display_name=None if display_name is None else validate_display_name(display_name),
    )


def _reactions_from_json(raw: object) -> Reactions | None:
    if not isinstance(raw, dict):
        return None
    for emoji, names in raw.items():
        if not is_clean_str(emoji) or not isinstance(names, list):
            return None
        if not all(is_clean_str(name) for name in names):
            return None
    return normalize_reactions(raw)


def _talk_details(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The talk details as Transmission arguments, or {} if absent or invalid."""
    if not int_in(obj.get("chokV"), PROTOCOL_VERSION, PROTOCOL_VERSION):
        return {}
    tx_id, frames = obj.get("chokTx"), obj.get("chokFrames")
    duration_ms, frame_ms = obj.get("chokDurationMs"), obj.get("chokFrameMs")
    if not (
        is_tx_id(tx_id)
        and int_in(frames, 1, MAX_COUNT)
        and int_in(duration_ms, 0, MAX_COUNT)
        and is_frame_ms(frame_ms)
    ):
        return {}
    return {
        "tx_id": tx_id,
        "chok_frames": frames,
        "chok_duration_ms": duration_ms,
        "chok_frame_ms": frame_ms,
    }


def parse_transmission_value(obj: Mapping[str, Any]) -> Transmission | None:
    """A Transmission from a decoded JSON object, or None if it is not one (section 5.2)."""
    user_id, channel = obj.get("userId"), obj.get("channelId")
    start, end = obj.get("startOffset"), obj.get("endOffset")
    timestamp, count = obj.get("timestamp"), obj.get("messageCount")
    if not (
        is_clean_str(user_id)
        and int_in(channel, 1, MAX_CHANNEL)
        and int_in(start, 0, INT64_MAX)
        and int_in(end, start, INT64_MAX)
        and int_in(timestamp, 0, INT64_MAX)
        and int_in(count, 0, INT64_MAX)
    ):
        return None
    reactions = _reactions_from_json(obj.get("reactions", {}))
    if reactions is None:
        return None
    return _checked_already(
        user_id=user_id,
        channel=channel,
        start_offset=start,
        end_offset=end,
        timestamp_ms=timestamp,
        message_count=count,
        reactions=reactions,
        map_from_reactions=obj.get("chokMapFromReactions") is True,
        display_name=_display_name(obj.get("chokName")),
        deleted_by=_deleted_by(obj.get("chokDeletedBy")),
        sig=signature_fields(obj, with_frames=True),
        **_talk_details(obj),
    )


def _display_name(raw: object) -> str | None:
    return raw if isinstance(raw, str) and is_display_name(raw) else None


def _deleted_by(raw: object) -> str | None:
    return raw if is_user_name(raw) else None


_OPTIONAL_FIELDS = (
    "tx_id",
    "chok_frames",
    "chok_duration_ms",
    "chok_frame_ms",
    "display_name",
    "deleted_by",
    "sig",
)


def _checked_already(**values: Any) -> Transmission:
    """A Transmission from values the parser has just checked, without checking
    them a second time in ``__post_init__`` (that was a third of the time to
    load a timeline of 10,000 transmissions)."""
    tx = object.__new__(Transmission)
    for name in _OPTIONAL_FIELDS:
        values.setdefault(name, None)
    for name, value in values.items():
        object.__setattr__(tx, name, value)
    return tx


_SLOTS = [Transmission.__dict__[f.name] for f in dataclasses.fields(Transmission)]


def unchecked_transmission(*values: Any) -> Transmission:
    """A Transmission from its field values in order, without ``__post_init__``'s
    checks: only for values a parser (or chok's own database) has checked."""
    tx = object.__new__(Transmission)
    for slot, value in zip(_SLOTS, values, strict=True):
        slot.__set__(tx, value)
    return tx
