"""The measurements. Each returns (chok, original-like) figures."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from chok.audio.base import ArrayInput
from chok.bench import original
from chok.bench.pacing import FRAME_S, pace
from chok.channel.capture import Capture
from chok.channel.live import Event, FrameArrived, TalkEnded
from chok.channel.push_to_talk import talk_once
from chok.channel.replay import replay_frames
from chok.channel.service import ListenService
from chok.channel.session import ChannelSession
from chok.channel.talk import Talker, TalkResult
from chok.channel.timeline import load_timeline
from chok.codec import OpusDecoder, Pcm, encode_pcm, resample
from chok.kafka.producer import RecordProducer
from chok.protocol.audio import MIN_PACKET_BYTES, SILENCE_MARKER
from chok.protocol.transmission import build_transmission

Say = Callable[[str], None]


def percentile(values: list[float], pct: float) -> float:
    return float(np.percentile(np.array(values), pct)) if values else float("nan")


@dataclass
class Latency:
    p50: float
    p95: float
    p99: float
    received: int
    sent: int


def _latency(sent: dict[int, float], got: dict[int, float]) -> Latency:
    ms = [(got[i] - sent[i]) * 1000 for i in got if i in sent]
    return Latency(percentile(ms, 50), percentile(ms, 95), percentile(ms, 99), len(got), len(sent))


class _TimedTalker:
    """chok's Talker as the press runtime's sink, noting when each frame is handed
    to it (Opus encoding included) and serving the producer's statistics."""

    def __init__(self, talker: Talker, producer: RecordProducer, sent: dict[int, float]) -> None:
        self._talker = talker
        self._producer = producer
        self._sent = sent
        self.tx_id = talker.tx_id
        self.frame_ms = talker.frame_ms

    @property
    def frames_sent(self) -> int:
        return self._talker.frames_sent

    def send_pcm(self, pcm: Pcm) -> None:
        self._sent[self._talker.frames_sent] = time.perf_counter()
        self._talker.send_pcm(pcm)
        self._producer.poll(0)

    def end(self, timeout: float = 15.0) -> TalkResult:
        return self._talker.end(timeout)


def chok_live(talk: ChannelSession, listen: ChannelSession, speech: Pcm) -> tuple[Latency, float]:
    """Latency sent->decoded, and bytes on the wire per second of speech: one
    press of the press runtime, the speech as its microphone (in real time)."""
    sent: dict[int, float] = {}
    got: dict[int, float] = {}
    decoders: dict[str, OpusDecoder] = {}

    ended = threading.Event()

    def on_event(event: Event) -> None:
        # Time only frames that crossed the network; a left-out silence frame
        # is synthesized when the next real one arrives.
        if isinstance(event, FrameArrived) and event.frame.seq is not None:
            decoders.setdefault(event.key, OpusDecoder()).decode(event.frame.packet)
            if not event.synthesized:
                got[event.frame.seq] = time.perf_counter()
        elif isinstance(event, TalkEnded):
            ended.set()

    stats: list[dict[str, Any]] = []
    producer = RecordProducer(
        talk.creds,
        {"statistics.interval.ms": 100, "stats_cb": lambda raw: stats.append(json.loads(raw))},
    )
    producer.connect(talk.audio_topic)
    service = ListenService(listen, on_event=on_event).start()
    _wait_stats(producer.poll, stats)
    tx_before = stats[-1]["tx_bytes"]
    microphone = Capture(lambda: ArrayInput(speech, realtime=True))
    result = talk_once(microphone, lambda: _TimedTalker(Talker(talk, producer), producer, sent))
    _wait_stats(producer.poll, stats, after=len(stats))
    wire = (stats[-1]["tx_bytes"] - tx_before) / (result.frames * FRAME_S)
    _wait_for(ended.is_set)
    service.stop()
    return _latency(sent, got), wire


def original_live(
    talk: ChannelSession, listen: ChannelSession, packets: list[bytes]
) -> tuple[Latency, float]:
    consumer, _ = original.subscribe_live(listen.creds, listen.audio_topic)
    sent: dict[int, float] = {}
    got: dict[int, float] = {}
    stop = threading.Event()

    def consume() -> None:
        decoder = OpusDecoder()
        index = 0
        while not stop.is_set():
            msg = consumer.poll(0.05)
            value = msg.value() if msg is not None and not msg.error() else None
            if msg is None or not value or msg.partition() != 0:
                continue
            decoder.decode(value)
            got[index] = time.perf_counter()
            index += 1

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    stats: list[dict[str, Any]] = []
    producer = original.producer(talk.creds, stats)
    producer.list_topics(listen.audio_topic, timeout=10)  # same warm start as chok's
    _wait_stats(producer.poll, stats)
    tx_before = stats[-1]["tx_bytes"]
    began = time.perf_counter()
    for index, packet in enumerate(packets):
        pace(index, began)
        sent[index] = time.perf_counter()
        value = SILENCE_MARKER if len(packet) < MIN_PACKET_BYTES else packet
        producer.produce(listen.audio_topic, value, b"user1", partition=0)
        producer.poll(0)
    producer.flush(15)
    _wait_stats(producer.poll, stats, after=len(stats))
    wire = (stats[-1]["tx_bytes"] - tx_before) / (len(packets) * FRAME_S)
    _wait_for(lambda: len(got) >= len(packets))
    stop.set()
    thread.join(5)
    consumer.close()
    return _latency(sent, got), wire


def _wait_stats(
    poll: Callable[[float], object], stats: list[dict[str, Any]], after: int = 0
) -> None:
    """Serve the producer (``poll``) until two fresh statistics reports came
    after the last record: its byte totals are final then."""
    deadline = time.monotonic() + 10
    while len(stats) <= after + 1 and time.monotonic() < deadline:
        poll(0.05)


def _wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)  # waiting for the listener thread to catch the last frames


def tune_in(session: ChannelSession, runs: int) -> tuple[list[float], list[float]]:
    chok_s, orig_s = [], []
    for _ in range(runs):
        service = ListenService(session).start()
        chok_s.append(service.tune_in_s or 0.0)
        service.stop()
        consumer, took = original.subscribe_live(session.creds, session.audio_topic)
        orig_s.append(took)
        consumer.close()
    return chok_s, orig_s


def fill_timeline(session: ChannelSession, count: int) -> None:
    producer = RecordProducer(session.creds, {"linger.ms": 20, "batch.num.messages": 10000})
    now = int(time.time() * 1000)
    for index in range(count):
        tx = build_transmission(
            user="bench", channel=session.number, start_offset=index * 40,
            end_offset=index * 40 + 33, timestamp_ms=now - (count - index) * 1000,
            tx_id=f"{index:08x}", frames=34, duration_ms=2040, frame_ms=60,
        )  # fmt: skip
        producer.produce(session.metadata_topic, tx.key(), tx.to_value())
        if index % 1000 == 0:
            producer.poll(0)
    producer.flush(60)


def timeline_load(
    session: ChannelSession, expected: int, runs: int
) -> tuple[list[float], list[float]]:
    chok_s, orig_s = [], []
    for _ in range(runs):
        began = time.monotonic()
        timeline = load_timeline(session)
        chok_s.append(time.monotonic() - began)
        if len(timeline.entries) < expected:
            raise RuntimeError(f"timeline has {len(timeline.entries)} of {expected} entries")
        _found, took = original.load_timeline(session.creds, session.metadata_topic, expected)
        orig_s.append(took)
    return chok_s, orig_s


def replay_first(session: ChannelSession, start: int, runs: int) -> tuple[list[float], list[float]]:
    entry = load_timeline(session).find(start)
    chok_s, orig_s = [], []
    for _ in range(runs):
        began = time.monotonic()
        decoder = OpusDecoder()
        frames = replay_frames(session, entry.transmission)
        decoder.decode(next(frames).packet)
        chok_s.append(time.monotonic() - began)
        frames.close()  # ends the generator: its reader is closed
        orig_s.append(original.replay_first_frame(session.creds, session.audio_topic, start))
    return chok_s, orig_s


def pesq_wb(pcm: Pcm, bitrate: int | None = None) -> float:
    from pesq import pesq

    from chok.codec import DEFAULT_BITRATE, decode_packets

    packets = encode_pcm(pcm, bitrate=bitrate or DEFAULT_BITRATE, flush=False)
    wire = [SILENCE_MARKER if len(p) < MIN_PACKET_BYTES else p for p in packets]
    degraded = decode_packets(wire)[: pcm.size]
    ref16 = resample(pcm, 16000).astype(np.float32)
    deg16 = resample(degraded, 16000).astype(np.float32)
    return float(pesq(16000, ref16, deg16[: ref16.size], "wb"))


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def flite_speech(text: str) -> Pcm | None:
    """The same text in CMU flite's voice (built from human recordings), if installed."""
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    from chok.codec import read_audio_file

    exe = shutil.which("flite")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "flite.wav"
        subprocess.run([exe, "-t", text, "-o", str(wav)], check=True, capture_output=True)
        return read_audio_file(wav)
