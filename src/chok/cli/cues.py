"""Walkie-talkie cues on the sound device, when there is one."""

from __future__ import annotations

from collections.abc import Callable

from chok.audio import busy_cue, end_cue, open_output, talk_permit_cue
from chok.codec import Pcm
from chok.errors import AudioDeviceError

CUES: dict[str, Callable[[], Pcm]] = {
    "permit": talk_permit_cue,
    "end": end_cue,
    "busy": busy_cue,
}


def play_cue(kind: str, device: str | None) -> None:
    """Play the talk-permit, end or busy cue; silently skip without a sound device."""
    try:
        with open_output(device) as speaker:
            speaker.write(CUES[kind]())
            speaker.drain(2.0)
    except AudioDeviceError:
        return
