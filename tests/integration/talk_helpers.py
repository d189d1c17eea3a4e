"""Helpers for talk/listen tests: speech made with espeak-ng, listeners in threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from chok.channel.live import Event, FrameArrived, LiveListener, TalkEnded
from chok.channel.session import ChannelSession
from chok.channel.talk import Talker, TalkResult
from chok.codec.opus import encode_pcm
from chok.codec.speech import make_speech
from chok.protocol.audio import MIN_PACKET_BYTES, SILENCE_MARKER


def talk_packets(
    session: ChannelSession, packets: Iterable[bytes], *, keep_silence: bool = False
) -> TalkResult:
    """One transmission of these Opus packets, sent as fast as the producer takes
    them (``keep_silence``: silent frames are sent too, not left out)."""
    talker = Talker(session)
    talker.suppress_silence = not keep_silence
    for packet in packets:
        talker.send_packet(packet)
    return talker.end()


@cache
def speech_packets(text: str = "Testing one two three, over.") -> tuple[bytes, ...]:
    return tuple(encode_pcm(make_speech(text), flush=False))


def on_wire(packet: bytes) -> bytes:
    return SILENCE_MARKER if len(packet) < MIN_PACKET_BYTES else packet


@dataclass
class Recorder:
    """A live listener in a thread, recording every event until stopped."""

    session: ChannelSession
    events: list[Event] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def start(self) -> Recorder:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self.ready.wait(30), "listener did not tune in"
        return self

    def _run(self) -> None:
        listener = LiveListener(self.session)
        try:
            listener.tune_in()
            self.ready.set()
            while not self.stop.is_set():
                self.events.extend(listener.events())
        except BaseException as exc:  # surfaced by the test
            self.error = exc
            self.ready.set()
        finally:
            listener.close()

    def wait_for(self, predicate, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.error:
                raise self.error
            if predicate(self.events):
                return
            time.sleep(0.02)  # polling the recorded events for the condition
        raise AssertionError(f"condition not met; events: {self.events[-5:]}")

    def finish(self) -> list[Event]:
        self.stop.set()
        self._thread.join(10)
        if self.error:
            raise self.error
        return self.events

    def frames_of(self, key: str) -> list[FrameArrived]:
        return [e for e in self.events if isinstance(e, FrameArrived) and e.key == key]

    def ended(self, key: str) -> bool:
        return any(isinstance(e, TalkEnded) and e.key == key for e in self.events)
