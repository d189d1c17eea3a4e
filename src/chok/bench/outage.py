"""The broker killed mid-talk (`chok bench --outage S`): what is lost, and how soon
after the broker is back the transmission is complete on the timeline.

On a throwaway broker of its own (it is killed with SIGKILL, never the one of
your CHOK_HOME): chok and an original-app-like client (librdkafka's producer
defaults, key ``user1``, no headers) talk the same speech, paced in real time,
at the same time; ``kill_after_s`` into it the broker is killed, and restarted
``outage_s`` later. Then the audio partition is read from the start.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

Say = Callable[[str], None]
SPEECH = (
    "One, two, three, four, five, six, seven, eight, nine, ten. " * 4
    + "This is a long message, said while the broker goes away and comes back. Over."
)


@dataclass
class OutageResult:
    outage_s: float
    talk_s: float
    broker_restart_s: float
    chok_frames_sent: int
    chok_frames_lost: int
    chok_frames_doubled: int
    chok_back_to_timeline_s: float  # broker ready -> transmission record on the timeline
    original_frames_sent: int
    original_frames_lost: int  # delivery failed ("Local: Message timed out" and the like)
    original_frames_doubled: int  # more records in the topic than acknowledged

    def rows(self) -> dict[str, Any]:
        return asdict(self)


def measure_outage(say: Say, outage_s: float = 30.0, kill_after_s: float = 5.0) -> OutageResult:
    os.environ["CHOK_HOME"] = tempfile.mkdtemp(prefix="chok-bench-outage-")
    from chok.broker import process

    try:
        return _measure(say, outage_s, kill_after_s)
    finally:
        process.stop()


def _measure(say: Say, outage_s: float, kill_after_s: float) -> OutageResult:
    from chok import profiles
    from chok.broker import process
    from chok.channel.session import open_session
    from chok.codec import encode_pcm, make_speech
    from chok.protocol.bundle import read_bundle
    from chok.provision import local

    port = process.free_port_pair()
    say("starting a throwaway broker (it will be killed)...")
    process.start(port=port, progress=say)
    local.init([], 1, say)
    sessions = []
    for name in ("ann", "ben"):
        bundle, _ = local.add_user(name, None, force=True)
        sessions.append(open_session(profiles.install(read_bundle(bundle.to_zip()), name, True)))
    talk, listen = sessions
    packets = encode_pcm(make_speech(SPEECH), flush=False)
    talk_s = len(packets) * 0.06
    chok = _ChokTalk(talk, packets)
    original = _OriginalTalk(talk, packets)
    say(f"both clients talk {talk_s:.0f} s; the broker is killed {kill_after_s:.0f} s in...")
    chok.start()
    original.start()
    time.sleep(kill_after_s)  # the scenario: the broker dies this far into the talk
    _kill_broker()
    say(f"broker killed (SIGKILL); back in {outage_s:.0f} s")
    time.sleep(outage_s)  # the scenario: the outage lasts this long
    began = time.monotonic()
    process.start(port=port)
    ready = time.monotonic()
    say(f"broker back after a {ready - began:.1f} s start; waiting for the timeline...")
    tx = chok.wait_sent()
    on_timeline = _wait_on_timeline(listen, tx.start_offset) - ready
    original.wait()
    chok_count, orig_count = _count_frames(listen, chok.tx_id)
    sent = chok.sent_seqs
    return OutageResult(
        outage_s=outage_s,
        talk_s=talk_s,
        broker_restart_s=ready - began,
        chok_frames_sent=len(sent),
        chok_frames_lost=len(sent - set(chok_count)),
        chok_frames_doubled=sum(n - 1 for n in chok_count.values() if n > 1),
        chok_back_to_timeline_s=on_timeline,
        original_frames_sent=len(packets),
        original_frames_lost=original.failed,
        original_frames_doubled=max(0, orig_count - original.delivered),
    )


def _kill_broker() -> None:
    from chok.broker import process
    from chok.broker.config import broker_dir

    pid = process.status().pid
    if pid is None:
        raise RuntimeError("the bench's broker is not running")
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)  # our child: reap it, so its pid is free
    (broker_dir() / "broker.pid").unlink(missing_ok=True)


class _ChokTalk(threading.Thread):
    def __init__(self, session: Any, packets: list[bytes]) -> None:
        super().__init__(daemon=True, name="bench-chok-talk")
        from chok.channel.talk import Talker

        self.talker = Talker(session)
        self.tx_id = self.talker.tx_id
        self._packets = packets
        self.sent_seqs: set[int] = set()
        self._done = threading.Event()

    def run(self) -> None:
        began = time.monotonic()
        for index, packet in enumerate(self._packets):
            delay = began + index * 0.06 - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # a person talking: one frame every 60 ms
            self.talker.send_packet(packet)
        self.sent_seqs = set(self.talker.delivery.entry.frames)
        self.talker.finish()
        self._done.set()

    def wait_sent(self, timeout: float = 600) -> Any:
        self._done.wait(timeout)
        delivery = self.talker.delivery
        delivery.wait(timeout)
        return delivery.result().transmission


class _OriginalTalk(threading.Thread):
    def __init__(self, session: Any, packets: list[bytes]) -> None:
        super().__init__(daemon=True, name="bench-original-talk")
        from chok.bench import original

        self._producer = original.producer(session.creds)
        self._topic = session.audio_topic
        self._packets = packets
        self.delivered = self.failed = 0

    def _report(self, err: object, _msg: object) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.failed += 1

    def run(self) -> None:
        from chok.protocol.audio import MIN_PACKET_BYTES, SILENCE_MARKER

        began = time.monotonic()
        for index, packet in enumerate(self._packets):
            delay = began + index * 0.06 - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # the same pace as chok's talker
            value = SILENCE_MARKER if len(packet) < MIN_PACKET_BYTES else packet
            self._producer.produce(
                self._topic, value, b"user1", partition=0, on_delivery=self._report
            )
            self._producer.poll(0)
        self._producer.flush(600)

    def wait(self) -> None:
        self.join()


def _wait_on_timeline(session: Any, start_offset: int, timeout: float = 300) -> float:
    from chok.channel.timeline import load_timeline
    from chok.errors import ChokError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if any(e.id == start_offset for e in load_timeline(session).entries):
                return time.monotonic()
        except ChokError:
            pass  # the restarted broker is still loading: ask again
        time.sleep(0.05)  # polling the timeline for the record
    raise RuntimeError("the transmission never reached the timeline")


def _count_frames(session: Any, tx_id: str) -> tuple[dict[int, int], int]:
    """(chok's seq -> copies in the topic, original-like records in the topic)."""
    from chok.kafka.stream import BEGINNING, headers_of
    from chok.protocol.audio import AudioFrame, parse_audio_record

    reader = session.audio_reader("bench")
    chok: dict[int, int] = {}
    original = 0
    try:
        _, high = reader.watermarks()
        reader.assign(BEGINNING)
        position = 0
        while position < high:
            for msg in reader.consume(1000, 1.0):
                position = (msg.offset() or 0) + 1
                frame = parse_audio_record(msg.key(), msg.value(), headers_of(msg))
                if not isinstance(frame, AudioFrame):
                    continue
                if frame.tx_id == tx_id and frame.seq is not None:
                    chok[frame.seq] = chok.get(frame.seq, 0) + 1
                elif frame.tx_id is None:
                    original += 1
    finally:
        reader.close()
    return chok, original
