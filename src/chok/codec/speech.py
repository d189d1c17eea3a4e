"""Synthetic speech for demos, tests and measurements (espeak-ng), and the shipped sample.

espeak-ng's formant speech is not a human voice: good enough to exercise the
whole path and to compare codec settings with each other, not a claim about
how a real voice will sound.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

from chok.codec.files import export, read_audio_file
from chok.codec.opus import Pcm
from chok.errors import CodecError, EnvironmentError_

SAMPLE_SPEECH_TEXT = "Chok radio check. One, two, three. Can you hear me? Over."


def make_speech(
    text: str,
    path: str | Path | None = None,
    *,
    voice: str = "en-us",
    words_per_minute: int = 160,
) -> Pcm:
    """Speak ``text`` with espeak-ng; return 48 kHz mono PCM, and save it if ``path`` is given.

    ``path`` may end in .wav, .ogg or .opus (see ``export``).
    """
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise EnvironmentError_(
            "espeak-ng is not installed: install it (Debian/Ubuntu: apt-get install espeak-ng)"
        )
    with tempfile.TemporaryDirectory(prefix="chok-speech-") as tmp:
        wav = Path(tmp) / "speech.wav"
        # "--" so that a text starting with "-" is not taken for an option.
        cmd = [exe, "-v", voice, "-s", str(words_per_minute), "-w", str(wav), "--", text]
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        except subprocess.CalledProcessError as exc:
            detail = exc.stderr.decode(errors="replace").strip().splitlines()
            reason = detail[0] if detail else f"exit status {exc.returncode}"
            raise CodecError(f"espeak-ng could not speak the text: {reason}") from exc
        except subprocess.TimeoutExpired as exc:
            raise CodecError("espeak-ng did not finish within 60 s") from exc
        pcm = read_audio_file(wav)
    if path is not None:
        export(path, pcm)
    return pcm


def sample_speech_path() -> Path:
    """The shipped few-second speech sample: ``make_speech(SAMPLE_SPEECH_TEXT, path)``, .ogg."""
    return Path(str(resources.files("chok") / "assets" / "sample-speech.ogg"))


def sample_speech() -> Pcm:
    """The shipped speech sample, decoded to 48 kHz mono PCM."""
    return read_audio_file(sample_speech_path())
