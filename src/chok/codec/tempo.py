"""Playing faster with the pitch kept: libavfilter's ``atempo`` through PyAV.

``atempo`` (WSOLA: overlapping windows of the signal, re-spaced) changes the
speed of speech without the "chipmunk" pitch of simply playing it faster.
One ``Tempo`` per replay: push decoded frames in, take the re-timed samples
out as they come; ``flush()`` at the end gives what the filter still holds.
"""

from __future__ import annotations

from fractions import Fraction

import av
import av.filter
import numpy as np

from chok.codec.opus import SAMPLE_RATE, Pcm, as_pcm
from chok.errors import CodecError, UsageError

SPEEDS = (1.0, 1.5, 2.0)  # what the app offers; atempo itself takes 0.5 .. 100
MIN_SPEED, MAX_SPEED = 0.5, 4.0


def check_speed(speed: float) -> float:
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise UsageError(f"speed must be between {MIN_SPEED:g} and {MAX_SPEED:g}, not {speed:g}")
    return speed


def _empty() -> Pcm:
    return np.zeros(0, dtype=np.int16)


class Tempo:
    """Re-times 48 kHz mono 16-bit audio by ``speed`` (1.5 = one and a half times as fast)."""

    def __init__(self, speed: float) -> None:
        self.speed = check_speed(speed)
        self._pts = 0
        self._graph: av.filter.Graph | None = None
        if speed != 1.0:
            self._graph = self._build(speed)

    @staticmethod
    def _build(speed: float) -> av.filter.Graph:
        graph = av.filter.Graph()
        source = graph.add_abuffer(
            sample_rate=SAMPLE_RATE, format="s16", layout="mono", time_base=Fraction(1, SAMPLE_RATE)
        )
        tempo = graph.add("atempo", f"{speed}")
        # atempo works on floats: back to what the speaker takes.
        out_format = graph.add(
            "aformat", f"sample_fmts=s16:channel_layouts=mono:sample_rates={SAMPLE_RATE}"
        )
        sink = graph.add("abuffersink")
        source.link_to(tempo)
        tempo.link_to(out_format)
        out_format.link_to(sink)
        graph.configure()
        return graph

    def process(self, pcm: Pcm) -> Pcm:
        """Push one chunk; return the re-timed audio ready so far (may be empty)."""
        samples = as_pcm(pcm)
        if self._graph is None:
            return samples
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE
        frame.time_base = Fraction(1, SAMPLE_RATE)
        frame.pts = self._pts
        self._pts += samples.size
        try:
            self._graph.push(frame)
        except av.error.FFmpegError as exc:
            raise CodecError(f"changing the speed failed: {exc}") from exc
        return self._pull()

    def flush(self) -> Pcm:
        """The end of the audio: what the filter still holds."""
        if self._graph is None:
            return _empty()
        try:
            self._graph.push(None)
        except av.error.FFmpegError as exc:
            raise CodecError(f"changing the speed failed: {exc}") from exc
        return self._pull()

    def _pull(self) -> Pcm:
        assert self._graph is not None
        parts: list[Pcm] = []
        while True:
            try:
                frame = self._graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                break
            except av.error.FFmpegError as exc:
                raise CodecError(f"changing the speed failed: {exc}") from exc
            parts.append(np.asarray(frame.to_ndarray(), dtype=np.int16).reshape(-1))
        return np.concatenate(parts) if parts else _empty()


def change_tempo(pcm: Pcm, speed: float) -> Pcm:
    """All of ``pcm`` at ``speed`` (for export and tests)."""
    tempo = Tempo(speed)
    head = tempo.process(pcm)
    return np.concatenate([head, tempo.flush()])
