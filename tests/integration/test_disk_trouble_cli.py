"""Disks that cannot take a write under a person's feet (issue 9, item 5):
a CHOK_HOME on a read-only disk still reads and listens; a --save folder that
fills up costs only the recordings that no longer fit (real broker, real mounts)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from chok import profiles
from tests.conftest import assert_clean_error, run_chok
from tests.fs_helpers import small_disk

pytestmark = pytest.mark.broker


def test_a_read_only_home_reads_and_listens(new_user, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    person: profiles.Profile = new_user("reader")
    with small_disk(tmp_path / "disk", "1m") as disk:
        home = disk.path / "home"
        shutil.copytree(person.path, home / "profiles" / person.name)
        (home / "state.json").write_text(json.dumps({"default": person.name}))
        disk.read_only()

        listed = run_chok("profiles", home=home)
        assert (listed.code, listed.out.split()) == (0, ["*", person.name]), listed.err
        who = run_chok("whoami", "--json", home=home)
        assert who.code == 0 and json.loads(who.out)["access"] == "ok", who.err
        timeline = run_chok("timeline", "--since", "1h", home=home)
        assert timeline.code == 0 and "Traceback" not in timeline.err, timeline.err

        listened = run_chok("listen", "--no-play", "--timeout", "1", home=home)
        assert listened.code == 0, listened.err
        warnings = [ln for ln in listened.err.splitlines() if ln.startswith("chok: warning:")]
        assert len(warnings) == 1 and "read-only" in warnings[0], listened.err

        line = assert_clean_error(run_chok("react", "1", "like", "--channel", "9", home=home), 7)
        assert "not a member" in line
        line = assert_clean_error(run_chok("join", str(person.path), home=home), code=2)
        assert "directory" in line


def test_a_disk_that_fills_while_listening_costs_only_what_no_longer_fits(
    new_user, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from chok.codec import write_wav
    from tests.integration.test_cli_talk import _listen

    talker, listener = new_user("filler"), new_user("keeper")
    tone = tmp_path / "tone.wav"
    write_wav(tone, (np.sin(np.arange(48000 * 3) / 6) * 9000).astype(np.int16))
    with small_disk(tmp_path / "disk", "64k") as disk:
        disk.fill(leave=2048)
        proc = _listen(listener.name, "--count", "1", "--timeout", "60",
                       "--save", str(disk.path / "heard"))  # fmt: skip
        said = run_chok("--profile", talker.name, "talk", "--file", str(tone), "--fast")
        assert said.code == 0, said.err
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 4, err
        assert "talk_ended" in out  # it was heard all the same
        lines = err.strip().splitlines()
        assert [ln.split(":")[1] for ln in lines] == [" warning", " error"], err
        assert "the disk is full" in lines[1] and "1 recording(s)" in lines[1]
        assert list((disk.path / "heard").iterdir()) == []  # no partial recording
