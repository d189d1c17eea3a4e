"""A CHOK_HOME on a read-only disk (issue 9, item 5): reading works, writing
says so in one line, and listening still works (real broker, real mount)."""

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
