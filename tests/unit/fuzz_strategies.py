"""Hostile records for the fuzz suites: structured mutations of the valid records
of docs/protocol.md (section 8), and random bytes.

Hypothesis draws the structure (which field, which extreme value, which header);
``byte_mutations`` is the fast path: from each drawn record it makes more cases
with cheap random edits of the bytes, so a run reaches 100,000 cases quickly.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from chok.protocol import MAX_COUNT, parse_audio_record
from tests.unit.test_protocol_vectors import FILES, VECTORS, Rec

#: Cases run so far, per suite (printed at the end of the run by tests/unit/conftest.py).
CASES: Counter[str] = Counter()
#: CHOK_FUZZ_SCALE=10 runs ten times more examples (a longer hunt than CI's).
SCALE = float(os.environ.get("CHOK_FUZZ_SCALE", "1"))
#: Byte-level mutations made from each drawn record (the fast path).
FAST = 20


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# -- values a hostile member may put anywhere ------------------------------------------

HOSTILE_INTS = [
    0, 1, -1, 20, 40, 60, 2**24 - 1, 2**24, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**53 + 1,
    2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 10**18, 253402300800000, 10**30,
    MAX_COUNT, MAX_COUNT + 1,
]  # fmt: skip
HOSTILE_TEXT = [
    "", "dan", "user1", "8f3a5c0e", "8F3A5C0E", "8f3a5c0e1b2d4f67", "msg-1-25571",
    "\U0001f44d", "\u2764\ufe0f", "\u2764", "\U0001f525", "abc", "\x00", "\n", "eve\n  1  bob",
    "\u202emallory", "\u2066\u2069\u200e\u200f\u061c", "\ufeff", "\ud800", "\udfff",
    "\U000e0041", "\x1b[2J\x1b]0;t\x07", "a" * 65, "x" * 10_000, "名前", "\u0301" * 50,
]  # fmt: skip
# JSON tokens json.dumps never writes but a hostile writer may.
RAW_TOKENS = [
    "NaN", "Infinity", "-Infinity", "1e3", "1.0", "-0", "01", "1E400", "-0.0", "9" * 25,
    "true", "null", '"\\ud800"', '"\\u0000"',
    "[" * 3000 + "]" * 3000, '{"a":' * 2000 + "1" + "}" * 2000,  # deeper than the decoder goes
]  # fmt: skip


class Raw(str):
    """A JSON token written as it is."""


@dataclass
class Obj:
    """A JSON object as member pairs: duplicates and any order allowed."""

    pairs: list[tuple[str, Any]]


def encode(node: Any, ensure_ascii: bool = False) -> str:
    if isinstance(node, Raw):
        return str(node)
    if isinstance(node, Obj):
        inner = ",".join(
            f"{json.dumps(k, ensure_ascii=ensure_ascii)}:{encode(v, ensure_ascii)}"
            for k, v in node.pairs
        )
        return "{" + inner + "}"
    if isinstance(node, list):
        return "[" + ",".join(encode(item, ensure_ascii) for item in node) + "]"
    return json.dumps(node, ensure_ascii=ensure_ascii)


def to_bytes(text: str) -> bytes:
    # Lone surrogates become invalid UTF-8: bytes a hostile writer may send too.
    return text.encode("utf-8", "surrogatepass")


def to_obj(value: Any) -> Any:
    if isinstance(value, dict):
        return Obj([(k, to_obj(v)) for k, v in value.items()])
    if isinstance(value, list):
        return [to_obj(v) for v in value]
    return value


ints = st.sampled_from(HOSTILE_INTS) | st.integers(min_value=-(2**70), max_value=2**70)
texts = (
    st.sampled_from(HOSTILE_TEXT)
    | st.text(max_size=30)
    | st.text(st.characters(codec=None, exclude_categories=()), max_size=30)
)
leaves = (
    st.none()
    | st.booleans()
    | ints
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
    | st.sampled_from(RAW_TOKENS).map(Raw)
)
json_values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.lists(st.tuples(texts, inner), max_size=4).map(Obj)
    ),
    max_leaves=8,
)

# -- the valid records of docs/protocol.md ----------------------------------------------


def _records(prefix: str) -> list[Rec]:
    return [
        rec for name, recs in sorted(VECTORS.items()) if name.startswith(prefix) for rec in recs
    ]


AUDIO_SEEDS = _records("audio-") + _records("skip-audio")
METADATA_SEEDS = (
    _records("msg-") + _records("reaction-") + _records("skip-msg") + _records("skip-reaction")
)
CONFIG_SEED = FILES["client-config"]
METADATA_FIELDS = [
    "userId", "channelId", "startOffset", "endOffset", "timestamp", "messageCount", "reactions",
    "chokV", "chokTx", "chokFrames", "chokDurationMs", "chokFrameMs", "chokMapFromReactions",
    "chokReaction", "target", "user", "emoji", "on", "ts",
]  # fmt: skip

# -- metadata records ---------------------------------------------------------------------

decimals = st.sampled_from(
    ["0", "1", "01", "-1", "+1", " 1", "2147483647", "2147483648", "9" * 20, "\uff11", "1.0", ""]
) | ints.map(str)
users = st.sampled_from(["ann", "dan", "a-b", "-rf", "a" * 64, "a" * 65, "", "a b", "x\u202e"])
emoji_hex = st.sampled_from(
    ["f09f918d", "e29da4efb88f", "f09f94a5", "F09F918D", "616263", "", "ff", "e29da4"]
)


INT_FIELDS = {
    "channelId", "startOffset", "endOffset", "timestamp", "messageCount", "chokV",
    "chokFrames", "chokDurationMs", "chokFrameMs", "chokReaction", "ts",
}  # fmt: skip
TEXT_FIELDS = {"userId", "chokTx", "target", "user", "emoji"}
reaction_maps = st.lists(
    st.tuples(texts, st.lists(texts, max_size=3) | json_values), max_size=3
).map(Obj)


def _typed_value(name: str) -> st.SearchStrategy[Any]:
    """A hostile value of the member's own type: it gets past the type checks."""
    if name in INT_FIELDS:
        return ints
    if name in TEXT_FIELDS:
        return texts
    if name == "reactions":
        return reaction_maps
    if name in ("on", "chokMapFromReactions"):
        return st.booleans() | json_values
    return json_values


def coherent_key(value: Any) -> bytes | None:
    """The key that agrees with the value (so that the deeper checks run)."""
    fields = dict(value.pairs) if isinstance(value, Obj) else {}
    if "chokReaction" in fields:
        target, user, emoji = fields.get("target"), fields.get("user"), fields.get("emoji")
        if all(isinstance(v, str) for v in (target, user, emoji)):
            hexed = to_bytes(str(emoji)).hex()
            return to_bytes(f"chok-react-{str(target).removeprefix('msg-')}-{user}-{hexed}")
        return None
    channel, start = fields.get("channelId"), fields.get("startOffset")
    if isinstance(channel, int) and isinstance(start, int):
        return f"msg-{channel}-{start}".encode()
    return None


@st.composite
def metadata_keys(draw: st.DrawFn, seed_key: bytes | None, value: Any) -> bytes | None:
    kind = draw(st.integers(0, 9))
    if kind <= 5:
        return coherent_key(value) or seed_key
    if kind == 6:
        return seed_key
    if kind == 7:
        return draw(st.binary(max_size=40) | st.none())
    if kind == 8:
        return to_bytes(f"msg-{draw(decimals)}-{draw(decimals)}")
    return to_bytes(f"chok-react-{draw(decimals)}-{draw(decimals)}-{draw(users)}-{draw(emoji_hex)}")


@st.composite
def mutated_objects(draw: st.DrawFn, seed: Any) -> Any:
    if not isinstance(seed, Obj) or draw(st.integers(0, 29)) == 0:
        return draw(json_values)  # not an object at all, or another one
    pairs = list(seed.pairs)
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 2, 3]))):
        op = draw(st.integers(0, 8))
        name = draw(st.sampled_from(METADATA_FIELDS))
        if op <= 3:  # a member of the right type, hostile value
            pairs = [(k, v) for k, v in pairs if k != name] + [(name, draw(_typed_value(name)))]
        elif op == 4:  # any value
            pairs = [(k, v) for k, v in pairs if k != name] + [(name, draw(json_values))]
        elif op == 5:  # missing
            pairs = [(k, v) for k, v in pairs if k != name]
        elif op == 6 and pairs:  # a duplicated member
            pairs.append(draw(st.sampled_from(pairs)))
        elif op == 7:  # an unknown member
            pairs.append((draw(texts), draw(json_values)))
        else:
            pairs = draw(st.permutations(pairs))
    return Obj(pairs)


VALID_METADATA_SEEDS = _records("msg-") + _records("reaction-")


@st.composite
def metadata_records(draw: st.DrawFn) -> tuple[bytes | None, bytes | None]:
    valid = draw(st.integers(0, 4)) > 0
    seed = draw(st.sampled_from(VALID_METADATA_SEEDS if valid else METADATA_SEEDS))
    if seed.value is None or draw(st.integers(0, 19)) == 0:
        return seed.key, seed.value  # as written in the document
    try:
        parsed = to_obj(json.loads(seed.value))
    except ValueError:
        parsed = Raw(seed.value.decode("utf-8", "replace"))
    value = draw(mutated_objects(parsed))
    key = draw(metadata_keys(seed.key, value))
    text = encode(value, ensure_ascii=draw(st.booleans()))
    return key, None if draw(st.integers(0, 30)) == 0 else to_bytes(text)


# -- audio records ------------------------------------------------------------------------


@st.composite
def header_values(draw: st.DrawFn) -> bytes | None:
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return None
    if kind == 1:
        return draw(st.binary(max_size=20))
    size = draw(st.sampled_from([8, 15, 7, 9, 14, 16]))
    first = draw(st.sampled_from([0x21, 0x22, 0x23, 0x20, 0x24, 0x13, 0x33, 0x2F, 0xFF, 0x00]))
    middle = draw(st.binary(min_size=size - 1, max_size=size - 1))
    if kind == 3 and size == 15:  # a frame count of 0 or the largest
        middle = middle[:4] + draw(st.sampled_from([b"\0\0\0", b"\xff\xff\xff"])) + middle[7:]
    return bytes([first]) + middle


header_names = st.sampled_from(["chok", "chok-end", "Chok", "chok-v", "chok-tx", "x", ""])


VALID_AUDIO_SEEDS = [
    rec
    for rec in AUDIO_SEEDS
    if getattr(parse_audio_record(rec.key, rec.value, rec.headers), "talker", None)
]
audio_keys = st.sampled_from(
    [None, b"", b"user1", b"ann", b"a" * 64, b"a" * 65, b"\xff", b"a b", b"-"]
) | st.binary(max_size=70)
audio_values = st.sampled_from([None, b"", b"\x00\x00", b"\x00"]) | st.binary(max_size=80)


@st.composite
def audio_records(draw: st.DrawFn) -> tuple[bytes | None, bytes | None, Any]:
    valid = draw(st.integers(0, 2)) > 0
    seed = draw(st.sampled_from(VALID_AUDIO_SEEDS if valid else AUDIO_SEEDS))
    key, value, headers = seed.key, seed.value, list(seed.headers or [])
    if draw(st.integers(0, 3)) == 0:
        key = draw(audio_keys)
    if draw(st.integers(0, 3)) == 0:
        value = draw(audio_values)
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2, 3]))):
        op = draw(st.integers(0, 4))
        if op <= 1 and headers:  # another value for one header
            index = draw(st.integers(0, len(headers) - 1))
            headers[index] = (headers[index][0], draw(header_values()))
        elif op == 2:
            headers.append((draw(header_names), draw(header_values())))
        elif op == 3 and headers:
            headers.append(draw(st.sampled_from(headers)))  # the same header twice
        else:
            headers = draw(st.permutations(headers))
    shape = draw(st.integers(0, 19))
    if shape == 0:
        return key, value, None
    if shape == 1:  # not pairs at all, as a broken client library might give
        return key, value, draw(st.sampled_from([[("chok",)], [b"chok"], "chok", [(1, b"")]]))
    return key, value, headers


# -- the fast path ------------------------------------------------------------------------

_INSERTS = [b"0", b"-", b'"', b"{", b"}", b",", b":", b"\xff", b"9" * 30, b"\\u202e", b"[]"]


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """1 to 4 random edits: change, delete, insert or cut."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(4)
        at = rng.randint(0, len(buf))
        if choice == 0 and buf:
            buf[min(at, len(buf) - 1)] = rng.randrange(256)
        elif choice == 1:
            del buf[at : at + rng.randint(1, 8)]
        elif choice == 2:
            buf[at:at] = rng.choice(_INSERTS)
        else:
            del buf[at:]
    return bytes(buf)


def byte_mutations(rng: random.Random, data: bytes | None, count: int = FAST) -> list[bytes]:
    base = data or b""
    return [mutate_bytes(rng, base) for _ in range(count)]
