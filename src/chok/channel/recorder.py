"""Keeping what was heard: one Ogg/Opus file per transmission (the exact packets)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

from chok.channel.live import Event, FrameArrived, TalkEnded
from chok.codec import write_ogg_opus
from chok.errors import ChokError, UsageError, storage_error
from chok.home import writable_folder
from chok.protocol.display import safe_file_part

LOG = logging.getLogger("chok.recorder")


@dataclass
class SaveDir:
    root: Path
    _packets: dict[str, list[bytes]] = field(default_factory=dict)
    _frame_ms: dict[str, int] = field(default_factory=dict)
    saved: list[Path] = field(default_factory=list)
    # Recordings that could not be written (a disk that filled up while
    # listening): listening goes on, the caller reports them at the end.
    failed: list[ChokError] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(f"--save needs a directory, and {self.root} is a file")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, f"create the folder {self.root}") from exc
        writable_folder(self.root, f"save recordings in {self.root}")

    def feed(self, event: Event) -> Path | None:
        """Collect frames; on the end of a transmission write its file and return the path."""
        if isinstance(event, FrameArrived):
            self._packets.setdefault(event.key, []).append(event.frame.packet)
            self._frame_ms[event.key] = event.frame.frame_ms
        elif isinstance(event, TalkEnded):
            return self._write(event.key, event.talker)
        return None

    def flush(self) -> list[Path]:
        """Write whatever is still open (listening stopped mid-transmission)."""
        return [p for key in list(self._packets) if (p := self._write(key, "unfinished"))]

    def _write(self, key: str, talker: str) -> Path | None:
        packets = self._packets.pop(key, [])
        frame_ms = self._frame_ms.pop(key, 60)
        if not packets:
            return None
        path = self._free_path(talker, key)
        try:
            write_ogg_opus(path, packets, frame_ms)
        except ChokError as exc:
            self.failed.append(exc)
            LOG.warning(f"{exc} (listening goes on)")
            return None
        self.saved.append(path)
        return path

    def _free_path(self, talker: str, key: str) -> Path:
        """A new file for this transmission. The talker's name comes from a record
        that anyone may have written: only a bounded, harmless piece of it is used."""
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        stem = f"{stamp}-{safe_file_part(talker)}-{safe_file_part(key)}"
        path = self.root / f"{stem}.ogg"
        number = 1
        while path.exists() or path in self.saved:  # the same id twice in one second
            number += 1
            path = self.root / f"{stem}-{number}.ogg"
        return path
