"""The family's own topics: what each person publishes, and what the admin tells
each person (protocol.md, section 11). Pure functions, no I/O.

``chok-person-{user}`` (compacted, one partition) is written by that person
only and read by everyone in the family: their presence, their display name
and what they heard (``heard.py``). ``chok-access-{user}`` (compacted, one
partition) is written by the admin only and read by that person only: the
channels they may use now. The ACLs make both records authentic: nobody else
can write them, whatever they contain.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from chok.errors import BadBundleError, UsageError

from ._util import INT64_MAX, dumps_compact, int_in, is_clean_str, loads_object
from .client_config import ChannelConfig
from .display import safe_text
from .heard import HeardRecord, parse_heard
from .names import is_user_name

PERSON_TOPIC_PREFIX = "chok-person-"
ACCESS_TOPIC_PREFIX = "chok-access-"
#: Both family topics have one partition.
FAMILY_PARTITION = 0

PRESENCE_KEY = b"presence"
PROFILE_KEY = b"profile"
ACCESS_KEY = b"access"

#: A person's chok says "still here" this often while it runs (section 11.2).
DEFAULT_HEARTBEAT_MS = 120_000
MIN_HEARTBEAT_MS = 1_000
MAX_HEARTBEAT_MS = 3_600_000
#: Someone is online until this many heartbeats were missed.
STALE_HEARTBEATS = 2.5

MAX_DISPLAY_NAME = 64
MAX_ACCESS_CHANNELS = 1000

PresenceState = Literal["online", "offline", "removed"]
PRESENCE_STATES: tuple[PresenceState, ...] = ("online", "offline", "removed")


def person_topic(user: str) -> str:
    """``chok-person-{user}``: what ``user`` publishes for the family."""
    return PERSON_TOPIC_PREFIX + _checked_user(user)


def access_topic(user: str) -> str:
    """``chok-access-{user}``: what the admin tells ``user`` they may use."""
    return ACCESS_TOPIC_PREFIX + _checked_user(user)


def person_of_topic(topic: object) -> str | None:
    """The user whose person topic this is, or None."""
    if not isinstance(topic, str) or not topic.startswith(PERSON_TOPIC_PREFIX):
        return None
    user = topic[len(PERSON_TOPIC_PREFIX) :]
    return user if is_user_name(user) else None


def _checked_user(user: str) -> str:
    if not is_user_name(user):
        raise UsageError(f"invalid user name {user!r}")
    return user


# -- display names ---------------------------------------------------------------

# Never in a display name: controls, format characters (bidi overrides,
# zero-width), surrogates, private use, unassigned, line/paragraph separators.
_FORBIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _forbidden(char: str) -> bool:
    return unicodedata.category(char) in _FORBIDDEN


def validate_display_name(name: object) -> str:
    """A display name chok may write: NFC, spaces collapsed, 1 to 64 characters,
    no control, bidi or invisible characters. Raise UsageError otherwise."""
    if not isinstance(name, str):
        raise UsageError("a display name must be text")
    if not is_clean_str(name):
        raise UsageError("a display name must be valid Unicode text")
    cleaned = " ".join(unicodedata.normalize("NFC", name).split())
    if not cleaned:
        raise UsageError("a display name cannot be empty")
    if len(cleaned) > MAX_DISPLAY_NAME:
        raise UsageError(f"a display name has at most {MAX_DISPLAY_NAME} characters")
    bad = next((c for c in cleaned if _forbidden(c)), None)
    if bad is not None:
        raise UsageError(
            f"a display name cannot contain the invisible or control character U+{ord(bad):04X}"
        )
    return cleaned


def shown(text: object, limit: int = MAX_DISPLAY_NAME) -> str:
    """A name as chok shows it (protocol.display.safe_text): invisible and control
    characters escaped visibly, at most ``limit`` characters (cut with "…")."""
    return safe_text(text, limit)


def is_display_name(name: object) -> bool:
    try:
        return validate_display_name(name) == name
    except UsageError:
        return False


# -- presence --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Presence:
    """A person's latest presence record (key ``presence``)."""

    user: str
    state: PresenceState
    timestamp_ms: int
    heartbeat_ms: int = DEFAULT_HEARTBEAT_MS

    def to_value(self) -> bytes:
        return dumps_compact(
            {
                "chokPresence": 1,
                "user": self.user,
                "state": self.state,
                "ts": self.timestamp_ms,
                "everyMs": self.heartbeat_ms,
            }
        )

    def online(self, now_ms: int, seen_ms: int | None = None) -> bool:
        """Online now: said so, and its last word is at most 2.5 heartbeats old.

        ``seen_ms`` is when the broker stored the record (LogAppendTime), which
        does not depend on the sender's clock; without it the record's ``ts``.
        """
        last = self.timestamp_ms if seen_ms is None else seen_ms
        return self.state == "online" and now_ms - last <= self.heartbeat_ms * STALE_HEARTBEATS


def parse_presence(user: str, obj: Mapping[str, Any]) -> Presence | None:
    state, ts, every = obj.get("state"), obj.get("ts"), obj.get("everyMs")
    if (
        not int_in(obj.get("chokPresence"), 1, 1)
        or obj.get("user") != user
        or state not in PRESENCE_STATES
        or not int_in(ts, 0, INT64_MAX)
        or not int_in(every, MIN_HEARTBEAT_MS, MAX_HEARTBEAT_MS)
    ):
        return None
    return Presence(user, state, ts, every)


# -- profile (display name) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonProfile:
    """A person's display name (key ``profile``)."""

    user: str
    display_name: str
    timestamp_ms: int

    def __post_init__(self) -> None:
        _checked_user(self.user)
        if not is_display_name(self.display_name):
            raise UsageError(f"invalid display name {self.display_name!r}")

    def to_value(self) -> bytes:
        return dumps_compact(
            {
                "chokProfile": 1,
                "user": self.user,
                "displayName": self.display_name,
                "ts": self.timestamp_ms,
            }
        )


def parse_profile(user: str, obj: Mapping[str, Any]) -> PersonProfile | None:
    name, ts = obj.get("displayName"), obj.get("ts")
    if (
        not int_in(obj.get("chokProfile"), 1, 1)
        or obj.get("user") != user
        or not is_display_name(name)
        or not int_in(ts, 0, INT64_MAX)
    ):
        return None
    assert isinstance(name, str)
    return PersonProfile(user, name, ts)


# -- access (what the admin tells one person) ------------------------------------


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """The channels a person may use now (key ``access`` of ``chok-access-{user}``)."""

    user: str
    channels: tuple[ChannelConfig, ...]
    timestamp_ms: int
    # Those of the channels that are private (protocol.md section 10): chok must
    # never talk there in the clear. Written only when there are some.
    private: tuple[int, ...] = ()

    def to_value(self) -> bytes:
        obj: dict[str, Any] = {
            "chokAccess": 1,
            "user": self.user,
            "channels": [c.to_json_obj() for c in self.channels],
            "ts": self.timestamp_ms,
        }
        if self.private:
            obj["private"] = list(self.private)
        return dumps_compact(obj)


def _access_channel(raw: object) -> ChannelConfig | None:
    if not isinstance(raw, dict):
        return None
    try:
        return ChannelConfig(
            raw.get("channelNumber"),  # type: ignore[arg-type]
            raw.get("channelName"),  # type: ignore[arg-type]
            raw.get("audioTopic"),  # type: ignore[arg-type]
            raw.get("audioPartition"),  # type: ignore[arg-type]
            raw.get("metadataTopic"),  # type: ignore[arg-type]
            raw.get("metadataPartition"),  # type: ignore[arg-type]
        )
    except BadBundleError:
        return None


def parse_access(user: str, obj: Mapping[str, Any]) -> AccessRecord | None:
    raw, ts = obj.get("channels"), obj.get("ts")
    if (
        not int_in(obj.get("chokAccess"), 1, 1)
        or obj.get("user") != user
        or not isinstance(raw, list)
        or len(raw) > MAX_ACCESS_CHANNELS
        or not int_in(ts, 0, INT64_MAX)
    ):
        return None
    channels = [_access_channel(item) for item in raw]
    numbers = [c.number for c in channels if c is not None]
    if None in channels or len(set(numbers)) != len(numbers):
        return None
    private = obj.get("private", [])
    if not isinstance(private, list) or not all(type(n) is int and n in numbers for n in private):
        return None  # a private channel said badly must not pass for an open one
    kept = tuple(c for c in channels if c is not None)
    return AccessRecord(user, kept, ts, tuple(sorted(set(private))))


def parse_access_record(user: str, key: bytes | None, value: bytes | None) -> AccessRecord | None:
    """A record of ``chok-access-{user}``; None to skip it (never raises)."""
    if key != ACCESS_KEY or not isinstance(value, bytes):
        return None
    obj = loads_object(value)
    return parse_access(user, obj) if obj is not None else None


PersonRecord = Presence | PersonProfile | HeardRecord


def parse_person_record(user: str, key: bytes | None, value: bytes | None) -> PersonRecord | None:
    """A record of ``chok-person-{user}`` (section 11): presence, profile or heard;
    None to skip it (unknown key, tombstone, broken, or about someone else)."""
    if not isinstance(key, bytes) or not isinstance(value, bytes):
        return None
    obj = loads_object(value)
    if obj is None:
        return None
    if key == PRESENCE_KEY:
        return parse_presence(user, obj)
    if key == PROFILE_KEY:
        return parse_profile(user, obj)
    return parse_heard(user, key, obj)
