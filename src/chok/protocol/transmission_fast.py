"""The fast path for transmission records in the usual layout (protocol.md, section 5.1).

Loading a timeline parses every transmission record of a channel; nearly all of
them are in the one layout chok and the original app write, which a single
pattern reads three times quicker than ``json`` and the general parser
(``chok.protocol.transmission.parse_transmission_value``). Kept apart from the
record type so that module stays about what a transmission is.
"""

from __future__ import annotations

import re
from typing import Literal

from ._util import INT64_MAX, MAX_COUNT
from .people import is_display_name
from .signing import MAX_MEMBER_TEXT, SignatureFields
from .topics import MAX_CHANNEL
from .transmission import Transmission, unchecked_transmission

# The layout chok and the original app write (section 5.1), as one pattern:
# a record that matches it is valid JSON without duplicated members, so its
# fields can be taken straight from the match. Anything else (reactions in
# the map, escapes in a string, another member order...) goes through the
# general parser. Both give the same result (tests/unit/test_fast_parse.py).
_INT = rb"(0|[1-9][0-9]{0,18})"
_STR = rb'"([^"\\\x00-\x1f]*)"'  # a JSON string without escapes or control characters
_FAST = re.compile(
    rb'\{"userId":' + _STR + rb',"channelId":' + _INT
    + rb',"startOffset":' + _INT + rb',"endOffset":' + _INT
    + rb',"timestamp":' + _INT + rb',"messageCount":' + _INT
    + rb'(?:,"reactions":\{\})?'
    + rb'(?:,"chokV":2(?:,"chokTx":"([0-9a-f]{8})","chokFrames":' + _INT
    + rb',"chokDurationMs":' + _INT + rb',"chokFrameMs":' + _INT + rb")?"
    + rb',"chokMapFromReactions":(true|false)(?:,"chokName":' + _STR + rb")?"
    + rb'(?:,"chokSigner":' + _STR + rb',"chokFramesHash":' + _STR + rb',"chokSig":' + _STR
    + rb")?)?\}"
)  # fmt: skip
_FRAME_MS = frozenset((20, 40, 60))
_NO_DETAILS = (None, None, None, None)


def parse_transmission_fast(key: bytes, value: bytes) -> Transmission | Literal[False] | None:
    """The transmission record of a ``msg-`` record in the usual layout.

    Returns the Transmission, None when the record must be skipped, or False
    when it is not in that layout (then use the general parser).
    """
    match = _FAST.fullmatch(value)
    if match is None:
        return False
    (user_raw, channel_raw, start_raw, end_raw, ts_raw, count_raw, tx_id, frames_raw,
     duration_raw, frame_ms_raw, map_raw, name_raw, signer, frames_hash,
     signature) = match.groups()  # fmt: skip
    channel, start, end = int(channel_raw), int(start_raw), int(end_raw)
    timestamp, count = int(ts_raw), int(count_raw)
    if (
        not 1 <= channel <= MAX_CHANNEL
        or not start <= end <= INT64_MAX
        or timestamp > INT64_MAX
        or count > INT64_MAX
        or key != b"msg-%d-%d" % (channel, start)
    ):
        return None
    try:
        user = user_raw.decode("utf-8")
        name = None if name_raw is None else name_raw.decode("utf-8")
        sig = _fast_signature(signer, frames_hash, signature)
    except UnicodeDecodeError:
        return None  # the whole value is not UTF-8: skipped by the general parser too
    if sig is False:
        return False  # a member too long to keep: as the general parser says
    details: tuple[str | None, int | None, int | None, int | None] = _NO_DETAILS
    if tx_id is not None:
        frames, duration, frame_ms = int(frames_raw), int(duration_raw), int(frame_ms_raw)
        if 1 <= frames <= MAX_COUNT and duration <= MAX_COUNT and frame_ms in _FRAME_MS:
            details = (tx_id.decode("ascii"), frames, duration, frame_ms)
    return unchecked_transmission(
        user, channel, start, end, timestamp, count, {}, *details,
        map_raw == b"true", name if name is not None and is_display_name(name) else None, None,
        sig,
    )  # fmt: skip


def _fast_signature(
    signer: bytes | None, frames_hash: bytes | None, signature: bytes | None
) -> SignatureFields | Literal[False] | None:
    """The signature members the fast pattern matched (False: too long, see
    ``signature_fields``, which keeps such a member as "")."""
    if signer is None or frames_hash is None or signature is None:
        return None
    texts = (signer.decode("utf-8"), signature.decode("utf-8"), frames_hash.decode("utf-8"))
    if any(len(text) > MAX_MEMBER_TEXT for text in texts):
        return False
    return SignatureFields(*texts)
