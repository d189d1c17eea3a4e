"""Sound in and out, behind one small interface; jitter buffer, mixer, level meter, cues.

The use cases call::

    open_input(device) -> AudioInput      # start(), read_frame/read_block(timeout), stop()
    open_output(device) -> AudioOutput    # start(), write(pcm), drain(timeout), close()
    Mixer().push(talker, packet, seq); Mixer().pop_due() -> [frame, ...]
    LevelMeter().update(frame); talk_permit_cue(), end_cue(), busy_cue()

Devices: None or "default" (the system's), a PortAudio number or name, "file:PATH",
and for output "null". No device, or no PortAudio, is an AudioDeviceError.
"""

from chok.audio.base import (
    ArrayInput,
    AudioInput,
    AudioOutput,
    BufferOutput,
    FileInput,
    FileOutput,
    NullOutput,
    TimedBlock,
)
from chok.audio.jitter import GAP, Gap, JitterBuffer, JitterStats
from chok.audio.meter import FLOOR_DBFS, Level, LevelMeter, measure
from chok.audio.mixer import Decoder, Mixer, mix
from chok.audio.sound import (
    DeviceInfo,
    SoundDeviceInput,
    SoundDeviceOutput,
    list_devices,
    open_input,
    open_output,
)
from chok.audio.tones import busy_cue, end_cue, talk_permit_cue, tone

__all__ = [
    "FLOOR_DBFS",
    "GAP",
    "ArrayInput",
    "AudioInput",
    "AudioOutput",
    "BufferOutput",
    "Decoder",
    "DeviceInfo",
    "FileInput",
    "FileOutput",
    "Gap",
    "JitterBuffer",
    "JitterStats",
    "Level",
    "LevelMeter",
    "Mixer",
    "NullOutput",
    "SoundDeviceInput",
    "SoundDeviceOutput",
    "TimedBlock",
    "busy_cue",
    "end_cue",
    "list_devices",
    "measure",
    "mix",
    "open_input",
    "open_output",
    "talk_permit_cue",
    "tone",
]
