"""The fast path for transmission records gives exactly what the general parser gives."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from chok.protocol._util import loads_object
from chok.protocol.metadata import parse_metadata_record
from chok.protocol.transmission import (
    Transmission,
    parse_transmission_key,
    parse_transmission_value,
)
from chok.protocol.transmission_fast import parse_transmission_fast

CANONICAL = (
    b'{"userId":"dan","channelId":1,"startOffset":25571,"endOffset":25604,'
    b'"timestamp":1704825600000,"messageCount":34,"reactions":{},"chokV":2,'
    b'"chokTx":"8f3a5c0e","chokFrames":40,"chokDurationMs":2400,"chokFrameMs":60,'
    b'"chokMapFromReactions":false}'
)


SIGNED = CANONICAL[:-1] + (
    b',"chokSigner":"0123456789abcdef0123456789abcdef",'
    b'"chokFramesHash":"OWqA1w_ap6Nq-anXi0DWT1BcZubLaYghwf1sFJqaISg",'
    b'"chokSig":"' + b"A" * 86 + b'"}'
)


def general(key: bytes, value: bytes) -> Transmission | None:
    """The general parser alone (what parse_metadata_record did before the fast path)."""
    ids = parse_transmission_key(key)
    obj = loads_object(value) if ids is not None else None
    tx = parse_transmission_value(obj) if obj is not None else None
    if tx is not None and (tx.channel, tx.start_offset) != ids:
        return None
    return tx


def check(key: bytes, value: bytes) -> None:
    fast = parse_transmission_fast(key, value)
    expected = general(key, value)
    if fast is not False:
        assert fast == expected, (key, value)
        assert type(fast) is type(expected)
    assert parse_metadata_record(key, value) == expected


def test_the_usual_layouts_take_the_fast_path() -> None:
    original = (
        b'{"userId":"dan","channelId":1,"startOffset":5,"endOffset":9,'
        b'"timestamp":1,"messageCount":5}'
    )
    named = CANONICAL[:-1] + ',"chokName":"Grandma Jo \xc3\x89"}'.encode("latin-1")
    for key, value in (
        (b"msg-1-25571", CANONICAL),
        (b"msg-1-5", original),
        (b"msg-1-25571", named),
        (b"msg-1-25571", SIGNED),
        (b"msg-1-25571", named[:-1] + SIGNED[len(CANONICAL) - 1 :]),
    ):
        fast = parse_transmission_fast(key, value)
        assert isinstance(fast, Transmission)
        check(key, value)
    assert parse_transmission_fast(b"msg-1-25571", named).display_name == "Grandma Jo É"  # type: ignore[union-attr]
    signed = parse_transmission_fast(b"msg-1-25571", SIGNED)
    assert isinstance(signed, Transmission) and signed.sig is not None
    assert signed.sig.signer == "0123456789abcdef0123456789abcdef"


CASES = [
    (b"msg-1-25571", CANONICAL),
    (b"msg-1-25571", SIGNED),
    (b"msg-1-25571", SIGNED.replace(b'"chokSig":"', b'"chokSig":"' + b"B" * 300)),  # too long
    (b"msg-1-25571", CANONICAL.replace(b"dan", b"d\\u0061n")),  # an escape: general path
    (b"msg-1-25572", CANONICAL),  # key and value disagree
    (b"msg-1-25571", CANONICAL.replace(b"25604", b"25570")),  # end before start
    (b"msg-1-25571", CANONICAL.replace(b'"dan"', b'"d\xffn"')),  # not UTF-8
    (b"msg-1-25571", CANONICAL.replace(b"1704825600000", b"9223372036854775808")),
    (b"msg-1-25571", CANONICAL.replace(b'"chokFrameMs":60', b'"chokFrameMs":61')),
    (b"msg-1-25571", CANONICAL.replace(b'"chokFrames":40', b'"chokFrames":0')),
    (b"msg-1-25571", CANONICAL.replace(b"false}", b'false,"chokName":"a\\u202eb"}')),
    (b"msg-1-25571", CANONICAL.replace(b"false}", b'false,"chokName":"a\xe2\x80\xaeb"}')),
    (b"msg-1-25571", CANONICAL.replace(b"false}", b'false,"chokName":"  x"}')),
    (b"msg-0-25571", CANONICAL.replace(b'"channelId":1', b'"channelId":0')),
    (
        b"msg-2147483648-1",
        CANONICAL.replace(
            b'"channelId":1,"startOffset":25571', b'"channelId":2147483648,"startOffset":1'
        ),
    ),
]


def test_cases() -> None:
    for key, value in CASES:
        check(key, value)


@given(st.sampled_from(CASES), st.data())
@settings(max_examples=500, deadline=None)
def test_fast_equals_general_on_mutations(case: tuple[bytes, bytes], data: st.DataObject) -> None:
    # Random byte edits of a canonical record keep most of its layout.
    key, value = case
    edited = bytearray(value)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(edited) - 1))
        edited[at] = data.draw(st.sampled_from(b'0129",:{}[]\\ a\xc3\xa9\x00'))
    check(key, bytes(edited))


@given(
    user=st.text(max_size=12),
    channel=st.integers(-1, 2**31 + 1),
    start=st.integers(0, 2**63 + 1),
    span=st.integers(-1, 100),
    timestamp=st.integers(-1, 2**63 + 1),
    details=st.booleans(),
    name=st.one_of(st.none(), st.text(max_size=8)),
    sig=st.one_of(st.none(), st.tuples(st.text(max_size=40), st.text(max_size=50))),
)
@settings(max_examples=400, deadline=None)
def test_fast_equals_general_on_built_records(
    user: str,
    channel: int,
    start: int,
    span: int,
    timestamp: int,
    details: bool,
    name: str | None,
    sig: tuple[str, str] | None,
) -> None:
    obj: dict[str, object] = {
        "userId": user,
        "channelId": channel,
        "startOffset": start,
        "endOffset": start + span,
        "timestamp": timestamp,
        "messageCount": span + 1,
        "reactions": {},
        "chokV": 2,
    }
    if details:
        obj.update(chokTx="8f3a5c0e", chokFrames=span + 1, chokDurationMs=60, chokFrameMs=60)
    obj["chokMapFromReactions"] = False
    if name is not None:
        obj["chokName"] = name
    if sig is not None:
        obj.update(chokSigner=sig[0], chokFramesHash=sig[1], chokSig=sig[1] * 5)
    try:
        value = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return  # a lone surrogate: no record can hold it
    check(f"msg-{channel}-{start}".encode(), value)
