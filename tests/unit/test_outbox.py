"""The outbox on disk: what one process wrote, another finds, whole, exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from chok.channel.outbox import MAGIC, Outbox, OutboxEnd, OutboxMeta


def _meta(tx_id: str = "8f3a5c0e", created_ms: int = 1_700_000_000_000) -> OutboxMeta:
    return OutboxMeta(
        profile="dan", talker="dan", tx_id=tx_id, channel=1, audio_topic="chok-audio-1",
        audio_partition=0, metadata_topic="chok-metadata-1", metadata_partition=0,
        frame_ms=60, created_ms=created_ms,
    )  # fmt: skip


def test_a_left_entry_is_found_whole_by_the_next_one(tmp_path: Path) -> None:
    entry = Outbox(tmp_path).create(_meta())
    for seq in (0, 1, 4):
        entry.add_frame(seq, bytes([seq]) * 30)
    entry.ack_frame(0, 100)
    entry.ack_frame(1, 101)
    entry.ack_frame(1, 999)  # a second report of the same frame keeps the first offset
    entry.close_transmission(OutboxEnd(6, 360, 1_700_000_000_400))
    assert Outbox(tmp_path).claim(entry.path) is None  # held: nobody else sends it
    entry.leave()

    again = Outbox(tmp_path).claim(entry.path)
    assert again is not None
    assert again.meta == _meta()
    assert again.frames == {seq: bytes([seq]) * 30 for seq in (0, 1, 4)}
    assert again.acks == {0: 100, 1: 101}
    assert again.unacked() == [4]
    assert again.end == OutboxEnd(6, 360, 1_700_000_000_400)
    assert again.end_offset is None and not again.record_sent
    assert again.bytes_said == 90


def test_finishing_removes_the_entry_and_its_lock(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    entry = outbox.create(_meta())
    entry.add_frame(0, b"x" * 30)
    entry.ack_frame(0, 7)
    entry.close_transmission(OutboxEnd(1, 60, 1))
    entry.ack_end(8)
    entry.ack_record()
    entry.finish()
    assert outbox.pending() == []
    assert list(tmp_path.iterdir()) == []


def test_a_torn_tail_is_cut_off_and_writing_goes_on_after_it(tmp_path: Path) -> None:
    entry = Outbox(tmp_path).create(_meta())
    entry.add_frame(0, b"a" * 30)
    entry.add_frame(1, b"b" * 30)
    entry.leave()
    whole = entry.path.stat().st_size
    with open(entry.path, "ab") as file:  # power cut in the middle of a write
        file.write(b"\x40\x00\x00\x00\x12\x34")
    again = Outbox(tmp_path).claim(entry.path)
    assert again is not None and sorted(again.frames) == [0, 1]
    assert entry.path.stat().st_size == whole
    again.add_frame(2, b"c" * 30)
    again.leave()
    third = Outbox(tmp_path).claim(entry.path)
    assert third is not None and sorted(third.frames) == [0, 1, 2]
    third.leave()


def test_a_flipped_byte_ends_the_entry_there(tmp_path: Path) -> None:
    entry = Outbox(tmp_path).create(_meta())
    entry.add_frame(0, b"a" * 30)
    entry.add_frame(1, b"b" * 30)
    entry.leave()
    data = bytearray(entry.path.read_bytes())
    data[-5] ^= 0xFF
    entry.path.write_bytes(bytes(data))
    again = Outbox(tmp_path).claim(entry.path)
    assert again is not None and list(again.frames) == [0]
    again.leave()


def test_an_entry_without_its_first_record_is_dropped(tmp_path: Path) -> None:
    junk = tmp_path / "1-1-00000000.out"
    junk.write_bytes(MAGIC[:4])
    outbox = Outbox(tmp_path)
    assert outbox.claim(junk) is None
    assert not junk.exists()


def test_oldest_first(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    later = outbox.create(_meta("00000002", created_ms=2_000))
    earlier = outbox.create(_meta("00000001", created_ms=1_000))
    assert outbox.pending() == [earlier.path, later.path]
    for entry in (earlier, later):
        entry.leave()
    assert [e.meta.tx_id for e in outbox.claim_all()] == ["00000001", "00000002"]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_writer_loses_nothing_it_wrote_and_frees_the_entry(tmp_path: Path) -> None:
    """The process is killed without any chance to close or sync: every frame it
    handed over is there, and its lock is free for the next process."""
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from chok.channel.outbox import Outbox, OutboxMeta
        meta = OutboxMeta("dan", "dan", "8f3a5c0e", 1, "chok-audio-1", 0,
                          "chok-metadata-1", 0, 60, 1)
        entry = Outbox(__import__("pathlib").Path({str(tmp_path)!r})).create(meta)
        for seq in range(50):
            entry.add_frame(seq, bytes([seq % 256]) * 40)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], check=False, env=os.environ.copy())
    assert result.returncode == -9
    outbox = Outbox(tmp_path)
    [entry] = outbox.claim_all()
    assert sorted(entry.frames) == list(range(50))
    entry.leave()
