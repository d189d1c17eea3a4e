"""Real PortAudio streams on the virtual device: play speech, record it back from the monitor."""

from __future__ import annotations

import numpy as np
import pytest

from chok.audio import (
    SoundDeviceInput,
    SoundDeviceOutput,
    list_devices,
    measure,
    open_input,
    open_output,
    talk_permit_cue,
)
from chok.codec import Pcm, decode_packets, encode_pcm, frames_of, sample_speech, silence
from chok.errors import AudioDeviceError

pytestmark = [pytest.mark.sound, pytest.mark.usefixtures("virtual_sound")]
LEAD_FRAMES = 5  # 300 ms queued for the speaker before pacing by the microphone


def best_alignment(played: Pcm, recorded: Pcm) -> tuple[int, float]:
    """The lag of ``played`` inside ``recorded`` and their normalised correlation there."""
    p = played.astype(np.float64)
    r = recorded.astype(np.float64)
    n = r.size + p.size
    corr = np.fft.irfft(np.fft.rfft(r, n) * np.conj(np.fft.rfft(p, n)), n)
    lag = int(np.argmax(corr[: r.size - p.size + 1]))
    segment = r[lag : lag + p.size]
    score = float(np.dot(p, segment) / (np.linalg.norm(p) * np.linalg.norm(segment) + 1e-9))
    return lag, score


def play_and_record(pcm: Pcm, extra_frames: int = 20) -> Pcm:
    """Play ``pcm`` on the default output while recording the default input (the monitor)."""
    mic = SoundDeviceInput()
    speaker = SoundDeviceOutput()
    with mic:
        # Start playing only once recording flows: a capture stream's start()
        # returns before PulseAudio delivers (about 300 ms here).
        first = mic.read_frame(timeout=5.0)
        assert first is not None, "recording never started"
        frames = [first]
        chunks = [*frames_of(pcm), *([silence(2880)] * extra_frames)]
        with speaker:
            # A few frames ahead first (a busy machine must not starve the
            # speaker: a gap would be recorded as silence inside the speech),
            # then one frame out, one frame in: the microphone paces the loop,
            # and neither queue fills up.
            for chunk in chunks[:LEAD_FRAMES]:
                speaker.write(chunk)
            for chunk in [*chunks[LEAD_FRAMES:], *([None] * LEAD_FRAMES)]:
                if chunk is not None:
                    speaker.write(chunk)
                frame = mic.read_frame(timeout=3.0)
                assert frame is not None, f"recording stalled after {len(frames)} frames"
                assert frame.shape == (mic.frame_samples,)
                frames.append(frame)
            assert speaker.drain(timeout=5.0)
    assert mic.dropped == 0
    return np.concatenate(frames)


def speech() -> Pcm:
    return sample_speech()[: 48_000 * 3]


def test_the_virtual_device_is_listed_for_input_and_output() -> None:
    devices = list_devices()
    assert any(d.is_default_input and d.max_input_channels > 0 for d in devices)
    assert any(d.is_default_output and d.max_output_channels > 0 for d in devices)


def frames_found(played: Pcm, recorded: Pcm, window: int = 24_000) -> float:
    """The share of the played speech's loud 60 ms frames found, each on its own,
    in the recording (normalised correlation above 0.9 within half a second of
    where the whole speech lines up). A machine starved for CPU may insert a gap
    (an underrun) into the recording: the frames after it are still there, only
    shifted, so each frame is looked for by itself."""
    lag, _ = best_alignment(played, recorded)
    r = recorded.astype(np.float64)
    frames = list(frames_of(played))
    loud = [(i, f) for i, f in enumerate(frames) if measure(f).rms_dbfs > -35]
    found = 0
    for index, frame in loud:
        start = max(0, lag + index * frame.size - window)
        area = r[start : lag + (index + 1) * frame.size + window]
        if area.size < frame.size:
            continue
        f = frame.astype(np.float64)
        n = area.size + f.size
        valid = area.size - f.size + 1
        dots = np.fft.irfft(np.fft.rfft(area, n) * np.conj(np.fft.rfft(f, n)), n)[:valid]
        sums = np.concatenate([[0.0], np.cumsum(area * area)])
        energy = np.sqrt(np.maximum(sums[f.size :] - sums[:valid], 0.0))
        score = np.max(dots / (np.linalg.norm(f) * energy + 1e-9))
        found += score > 0.9
    return found / max(1, len(loud))


def test_recording_the_monitor_gets_the_speech_that_was_played() -> None:
    played = speech()
    recorded = play_and_record(played)
    loud = [f for f in recorded.reshape(-1, 2880) if measure(f).rms_dbfs > -40]
    assert len(loud) > 20, "the recording is silent"
    lag, _ = best_alignment(played, recorded)
    assert lag < 48_000, f"{lag / 48:.0f} ms between playing and recording"
    share = frames_found(played, recorded)
    assert share > 0.9, f"only {share:.0%} of the speech played is in the recording"


def test_opus_packets_played_through_the_device_survive() -> None:
    decoded = decode_packets(encode_pcm(speech()))
    recorded = play_and_record(decoded)
    share = frames_found(decoded, recorded)
    assert share > 0.9, f"only {share:.0%} of the decoded speech is in the recording"


def test_cues_play_and_close_without_hanging() -> None:
    with open_output(None) as out:
        out.write(talk_permit_cue())
        assert out.drain(timeout=5.0)


def test_an_unknown_device_is_an_error_naming_the_real_ones() -> None:
    with pytest.raises(AudioDeviceError, match="choose one of") as info:
        open_input("chok-no-such-device-3f9a")
    assert "\n" not in str(info.value)
    with pytest.raises(AudioDeviceError, match="no sound output device"):
        open_output("99999")
