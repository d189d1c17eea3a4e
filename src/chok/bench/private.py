"""`chok bench --private`: what signatures and private channels cost, an open
channel and a private one side by side (docs/benchmarks.md).

Both channels carry signed transmissions (every chok transmission is signed);
the private one seals them as well. Measured: live latency, wire bytes per
second of speech, the timeline load of signed transmissions (first load,
when every signature is checked, and later loads, which find them in the
profile's cache), and the cost of one signature and one check.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from chok.channel.outgoing import metadata_record
from chok.channel.session import ChannelSession
from chok.channel.timeline import load_timeline
from chok.channel.trust_cache import VerifiedCache
from chok.kafka.producer import RecordProducer
from chok.protocol.signing import build_cert_record
from chok.protocol.transmission import build_transmission

Say = Callable[[str], None]


@dataclass
class Row:
    metric: str
    open: float
    private: float
    unit: str
    target: str


def run_private(say: Say, frames: int, runs: int, timeline_size: int, isolated: bool) -> list[Row]:
    if isolated:
        os.environ["CHOK_HOME"] = tempfile.mkdtemp(prefix="chok-bench-")
    from chok.broker import process

    started_here = not process.status().running
    try:
        return _measure(say, frames, runs, timeline_size, isolated)
    finally:
        if isolated and started_here:
            process.stop()


def _sessions(say: Say, isolated: bool) -> tuple[list[ChannelSession], list[ChannelSession]]:
    """(talker, listener) on the open channel 1 and on a new private channel."""
    from chok import profiles
    from chok.broker.process import free_port_pair, start
    from chok.channel.session import open_session
    from chok.protocol.bundle import read_bundle
    from chok.provision import local, service

    say("starting the local broker...")
    start(port=free_port_pair() if isolated else None, progress=say)
    local.init([], 3, say)
    private = next((c for c in service.list_channels() if c[0].private), None)
    number = private[0].number if private else service.add_channel("Bench private", True)[0].number
    people = []
    for name in ("ann", "ben"):
        bundle, _ = local.add_user(name, [1, 2, 3, number], force=True)
        people.append(profiles.install(read_bundle(bundle.to_zip()), name, force=True))
    opened = [open_session(p, 1) for p in people]
    sealed = [open_session(p, number) for p in people]
    return opened, sealed


def _measure(say: Say, frames: int, runs: int, timeline_size: int, isolated: bool) -> list[Row]:
    import numpy as np

    from chok.bench import measure as m
    from chok.bench.run import BENCH_TEXT
    from chok.codec import make_speech

    (talk_open, listen_open), (talk_private, listen_private) = _sessions(say, isolated)
    speech = make_speech(BENCH_TEXT)
    said = np.tile(speech, -(-frames * 2880 // speech.size))[: frames * 2880]
    say("warming up (not measured)...")
    for _ in range(2):  # twice: the channel measured first kept a longer tail after one
        m.chok_live(talk_open, listen_open, said[: 40 * 2880])
        m.chok_live(talk_private, listen_private, said[: 40 * 2880])
    say(f"live: {frames} frames on each channel...")
    open_lat, open_wire = m.chok_live(talk_open, listen_open, said)
    private_lat, private_wire = m.chok_live(talk_private, listen_private, said)
    rows = [
        Row(f"live latency {p}", getattr(open_lat, p), getattr(private_lat, p), "ms", "")
        for p in ("p50", "p95", "p99")
    ]
    rows.append(
        Row("wire bytes / s of speech", open_wire / 1000, private_wire / 1000, "KB/s",
            "<= 4.25 / 4.5")
    )  # fmt: skip
    say(f"timeline: {timeline_size} signed transmissions on each channel...")
    timeline_session_open = _timeline_channel(talk_open)
    for session in (timeline_session_open, talk_private):
        fill_signed(session, timeline_size)
    say(f"timeline: {timeline_size} unsigned ones, as before signatures (for reference)...")
    unsigned = _timeline_channel(listen_open, 3)
    m.fill_timeline(unsigned, timeline_size)
    baseline = statistics.median(
        _load(unsigned, timeline_size, fresh_cache=False, verdict="unsigned") for _ in range(runs)
    )
    rows.append(Row(f"timeline load, {timeline_size} unsigned", baseline * 1000, 0.0, "ms",
                    "(reference)"))  # fmt: skip
    cold, warm = {}, {}
    for kind, session in (("open", listen_open), ("private", listen_private)):
        cold[kind] = _load(session, timeline_size, fresh_cache=True)
        warm[kind] = statistics.median(
            _load(session, timeline_size, fresh_cache=False) for _ in range(runs)
        )
    rows.append(Row(f"timeline load, {timeline_size} signed (cached)", warm["open"] * 1000,
                    warm["private"] * 1000, "ms", "<= 1000"))  # fmt: skip
    rows.append(Row(f"timeline load, {timeline_size} signed (first)", cold["open"] * 1000,
                    cold["private"] * 1000, "ms", ""))  # fmt: skip
    loads = []
    for _ in range(runs):
        began = time.monotonic()
        cache = VerifiedCache(listen_private.security.verified.path)
        loads.append(time.monotonic() - began)
    cache_ms = statistics.median(loads) * 1000
    rows.append(Row(f"read the signature cache ({len(cache)})", cache_ms, cache_ms, "ms", ""))
    presses = []
    for _ in range(runs):
        began = time.monotonic()
        talk_private.refresh_keys()  # what a press on a private channel waits for
        presses.append(time.monotonic() - began)
    press_ms = statistics.median(presses) * 1000
    rows.append(Row("look for a new epoch before a press", 0.0, press_ms, "ms", ""))
    sign_us, verify_us = signature_costs(talk_open)
    rows.append(Row("sign one transmission", sign_us, sign_us, "us", ""))
    rows.append(Row("check one signature", verify_us, verify_us, "us", ""))
    return rows


def _timeline_channel(session: ChannelSession, number: int = 2) -> ChannelSession:
    """Another open channel of the same person: each timeline gets a channel of its own."""
    from chok import profiles
    from chok.channel.session import open_session

    return open_session(profiles.load(session.profile_name), number)


def fill_signed(session: ChannelSession, count: int) -> None:
    """``count`` signed (and on a private channel, sealed) transmission records."""
    producer = RecordProducer(session.creds, {"linger.ms": 20, "batch.num.messages": 10000})
    security = session.security
    signer = security.signer
    if signer is None:
        raise RuntimeError("the bench's certificate cannot sign")
    if session.private:
        session.refresh_keys()
    cert = build_cert_record(signer.cert_der)
    producer.produce(session.metadata_topic, cert.key(), cert.der)
    now = int(time.time() * 1000)
    for index in range(count):
        tx = build_transmission(
            user=session.user, channel=session.number, start_offset=index * 40,
            end_offset=index * 40 + 33, timestamp_ms=now - (count - index) * 1000,
            tx_id=f"{index:08x}", frames=34, duration_ms=2040, frame_ms=60,
        )  # fmt: skip
        signed = signer.sign_transmission(tx, os.urandom(32))
        key, value = metadata_record(security, signed.key(), signed.to_value())
        producer.produce(session.metadata_topic, key, value)
        if index % 1000 == 0:
            producer.poll(0)
    producer.flush(60)


def _load(
    session: ChannelSession, expected: int, fresh_cache: bool, verdict: str = "verified"
) -> float:
    """Seconds to load the timeline and judge every entry (all of them, not a window)."""
    reader = session if session.number != 1 else _timeline_channel(session)
    security = reader.security
    if fresh_cache:
        security.verified.clear()
    began = time.monotonic()
    timeline = load_timeline(reader)
    timeline.judge_all()
    took = time.monotonic() - began
    judged = sum(1 for e in timeline.entries if e.authenticity.status == verdict)
    if judged < expected:
        raise RuntimeError(f"only {judged} of {expected} entries {verdict}")
    return took


def signature_costs(session: ChannelSession, count: int = 2000) -> tuple[float, float]:
    """Microseconds to sign one transmission record, and to check one signature."""
    signer = session.security.signer
    if signer is None:
        raise RuntimeError("the bench's certificate cannot sign")
    tx = build_transmission(
        user=session.user, channel=session.number, start_offset=0, end_offset=33,
        timestamp_ms=int(time.time() * 1000), tx_id="00000001", frames=34,
        duration_ms=2040, frame_ms=60,
    )  # fmt: skip
    digest = os.urandom(32)
    began = time.perf_counter()
    signed = [signer.sign_transmission(tx, digest) for _ in range(count)]
    sign_us = (time.perf_counter() - began) / count * 1e6
    info = session.security.store.authority.check(signer.cert_der)
    if info is None:
        raise RuntimeError("the bench's own certificate does not check")
    message = tx.signed_message(digest)
    raw = [s.sig.signature_bytes for s in signed if s.sig is not None]
    began = time.perf_counter()
    for signature in raw:
        if signature is None or not info.verify(message, signature):
            raise RuntimeError("a signature did not check")
    verify_us = (time.perf_counter() - began) / len(raw) * 1e6
    return sign_us, verify_us


def table(rows: list[Row]) -> str:
    head = f"| {'metric':<36} | {'open':>9} | {'private':>9} | {'unit':<5} | {'target':<13} |"
    sep = "|" + "-" * 38 + "|" + "-" * 11 + "|" + "-" * 11 + "|" + "-" * 7 + "|" + "-" * 15 + "|"
    lines = [head, sep]
    for r in rows:
        cells = f"{r.open:>9.2f} | {r.private:>9.2f} | {r.unit:<5} | {r.target:<13}"
        lines.append(f"| {r.metric:<36} | {cells} |")
    return "\n".join(lines)
