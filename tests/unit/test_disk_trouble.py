"""Read-only and full disks under chok's feet (issue 9, item 5): real tmpfs mounts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chok.channel.live import FrameArrived, TalkEnded
from chok.channel.recorder import SaveDir
from chok.codec import encode_pcm
from chok.errors import StorageError
from chok.home import StagedFile, write_atomic
from chok.protocol.audio import AudioFrame
from tests.fs_helpers import small_disk


def _transmission(saver: SaveDir, key: str, seconds: float) -> Path | None:
    pcm = (np.sin(np.arange(int(48000 * seconds)) / 5) * 9000).astype(np.int16)
    for seq, packet in enumerate(encode_pcm(pcm)):
        frame = AudioFrame("ann", key, seq, 60, packet)
        saver.feed(FrameArrived(key, "ann", frame, 100, 0))
    return saver.feed(TalkEnded(key, "ann", 0, int(seconds * 1000), True))


def test_saving_into_a_read_only_folder_is_refused_before_listening(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        disk.read_only()
        for where in (disk.path, disk.path / "new"):
            with pytest.raises(StorageError, match="read-only"):
                SaveDir(where)


def test_a_disk_that_fills_while_listening_skips_the_recording_and_goes_on(
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path / "disk", "64k") as disk:
        saver = SaveDir(disk.path / "heard")
        assert _transmission(saver, "0000000a", 0.5) is not None
        disk.fill(leave=1024)
        assert _transmission(saver, "0000000b", 3) is None  # no room: skipped, no error
        assert len(saver.failed) == 1 and "the disk is full" in str(saver.failed[0])
        assert sorted(p.name[-12:] for p in (disk.path / "heard").iterdir()) == ["0000000a.ogg"]


def test_a_staged_file_on_a_full_disk_fails_before_anything_else(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "64k") as disk:
        write_atomic(disk.path / "state.json", b"{}")
        disk.fill()
        with pytest.raises(StorageError, match="the disk is full"):
            StagedFile(disk.path / "bundle.chok", b"x" * 8192)
        with pytest.raises(StorageError, match="the disk is full"):
            write_atomic(disk.path / "state.json", b'{"default": "x"}' * 1000)
        assert disk.entries() == {"state.json"}
        assert (disk.path / "state.json").read_bytes() == b"{}"  # the old one is intact
