"""The family's commands as people use them: real CLI, real broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chok.codec import make_speech
from tests.conftest import assert_clean_error, run_chok
from tests.provision_helpers import unique, wait_until

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def speech_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "hello.wav"
    make_speech("Dinner is ready. Over.", path)
    return path


def _join(name: str, tmp_path: Path, *admin_args: str) -> str:
    """The admin adds NAME; the bundle is joined as profile NAME (same CHOK_HOME)."""
    bundle = tmp_path / f"{name}.chok"
    added = run_chok("admin", "add-user", name, "--out", str(bundle), *admin_args)
    assert added.code == 0, added.err
    joined = run_chok("join", str(bundle), "--name", name, "--force")
    assert joined.code == 0, joined.err
    return name


def _json(*args: str) -> object:
    result = run_chok(*args)
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_display_names_who_and_name(tmp_path: Path, cluster) -> None:  # type: ignore[no-untyped-def]
    jo = _join(unique("jo"), tmp_path, "--display-name", "Grandma Jo")
    emilie = _join(unique("emilie"), tmp_path)
    me = _json("--profile", jo, "whoami", "--json")
    assert me["display_name"] == "Grandma Jo"  # type: ignore[index]

    renamed = _json("--profile", emilie, "name", "Émilie", "--json")
    assert renamed == {"user": emilie, "display_name": "Émilie"}
    who = _json("--profile", jo, "who", "--json")
    assert isinstance(who, list)
    listed = {m["user"]: m for m in who}
    assert listed[emilie]["display_name"] == "Émilie"
    assert listed[jo]["display_name"] == "Grandma Jo"
    assert set(listed[jo]) == {"user", "display_name", "online", "last_seen_ms"}
    assert listed[jo]["online"] is False

    bad = run_chok("--profile", emilie, "name", "Eve\u202eevil")
    assert "control character U+202E" in assert_clean_error(bad, 2)


def test_listen_shows_online_and_heard_by(tmp_path: Path, speech_file: Path, cluster) -> None:  # type: ignore[no-untyped-def]
    mum = _join(unique("mum"), tmp_path, "--display-name", "Mum")
    dad = _join(unique("dad"), tmp_path, "--display-name", "Dad")
    kid = _join(unique("kid"), tmp_path)
    listener = subprocess.Popen(
        [sys.executable, "-m", "chok", "--profile", dad, "listen", "--device", "null",
         "--json", "--count", "1", "--timeout", "90"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )  # fmt: skip
    assert listener.stdout is not None
    assert json.loads(listener.stdout.readline())["event"] == "tuned_in"

    def dad_online() -> bool:
        who = _json("--profile", kid, "who", "--json")
        return any(m["user"] == dad and m["online"] for m in who)  # type: ignore[union-attr]

    wait_until(dad_online, 60, "dad online")
    talked = _json("--profile", mum, "talk", "--file", str(speech_file), "--json")
    out, err = listener.communicate(timeout=120)
    assert listener.returncode == 0, err
    assert any(json.loads(line)["event"] == "talk_ended" for line in out.splitlines())
    tx_id = talked["id"]  # type: ignore[index]

    def heard_by_dad() -> bool:
        timeline = _json("--profile", mum, "timeline", "--json", "--since", "1h")
        entry = next(e for e in timeline if e["id"] == tx_id)  # type: ignore[union-attr]
        return entry["heard_by"] == [dad] and entry["heard_by_names"] == ["Dad"]

    wait_until(heard_by_dad, 30, "heard by dad in mum's timeline")
    assert not dad_online()  # listen said "offline" when it ended

    played = run_chok("--profile", kid, "play", str(tx_id), "--device", "null")
    assert played.code == 0, played.err
    timeline = _json("--profile", dad, "timeline", "--json", "--since", "1h")
    entry = next(e for e in timeline if e["id"] == tx_id)  # type: ignore[union-attr]
    assert entry["heard_by"] == sorted([dad, kid])
    assert entry["display_name"] == "Mum"
    table = run_chok("--profile", dad, "timeline", "--since", "1h")
    assert "Mum" in table.out and "heard by" in table.out


def test_grant_and_deny_reach_the_person_without_a_bundle(tmp_path: Path, cluster) -> None:  # type: ignore[no-untyped-def]
    kim = _join(unique("kim"), tmp_path, "--channels", "1")
    assert [c["number"] for c in _json("--profile", kim, "whoami", "--json")["channels"]] == [1]  # type: ignore[index]
    assert run_chok("admin", "grant", kim, "2").code == 0
    began = time.monotonic()
    channels = _json("--profile", kim, "whoami", "--json")["channels"]  # type: ignore[index]
    assert [c["number"] for c in channels] == [1, 2]
    assert time.monotonic() - began < 60
    timeline = run_chok("--profile", kim, "timeline", "--channel", "2", "--json")
    assert timeline.code == 0, timeline.err
    assert run_chok("admin", "deny", kim, "2").code == 0
    channels = _json("--profile", kim, "whoami", "--json")["channels"]  # type: ignore[index]
    assert [c["number"] for c in channels] == [1]


def test_delete_own_and_admin_delete(tmp_path: Path, speech_file: Path, cluster) -> None:  # type: ignore[no-untyped-def]
    ann = _join(unique("ann"), tmp_path)
    ben = _join(unique("ben"), tmp_path)
    first = _json("--profile", ann, "talk", "--file", str(speech_file), "--json")
    second = _json("--profile", ann, "talk", "--file", str(speech_file), "--json")
    refused = run_chok("--profile", ben, "delete", str(first["id"]))  # type: ignore[index]
    assert "only your own" in assert_clean_error(refused, 2)
    deleted = _json("--profile", ann, "delete", str(first["id"]), "--json")  # type: ignore[index]
    assert deleted["deleted"] is True  # type: ignore[index]
    ids = [e["id"] for e in _json("--profile", ben, "timeline", "--json", "--since", "1h")]  # type: ignore[union-attr]
    assert first["id"] not in ids and second["id"] in ids  # type: ignore[index]
    by_admin = run_chok("admin", "delete", str(second["id"]), "--channel", "1")  # type: ignore[index]
    assert by_admin.code == 0, by_admin.err
    ids = [e["id"] for e in _json("--profile", ann, "timeline", "--json", "--since", "1h")]  # type: ignore[union-attr]
    assert second["id"] not in ids  # type: ignore[index]
    missing = run_chok("--profile", ann, "delete", "999999999")
    assert_clean_error(missing, 9)


def test_archive_list_play_export(tmp_path: Path, speech_file: Path, cluster) -> None:  # type: ignore[no-untyped-def]
    ann = _join(unique("ann"), tmp_path, "--display-name", "Grandma Ann")
    ben = _join(unique("ben"), tmp_path)
    sent = _json("--profile", ann, "talk", "--file", str(speech_file), "--json")
    kept = _json("--profile", ben, "archive", "--channel", "1", "--json")
    assert kept["archived"] >= 1  # type: ignore[index]
    found = _json("--profile", ben, "archive", "list", "--user", "grandma ann", "--json")
    assert [f["id"] for f in found] == [sent["id"]]  # type: ignore[index, union-attr]
    assert found[0]["archived"] is True and Path(found[0]["path"]).is_file()  # type: ignore[index]
    today = time.strftime("%Y-%m-%d")
    dated = _json("--profile", ben, "archive", "list", "--from", today, "--to", today, "--json")
    assert sent["id"] in [f["id"] for f in dated]  # type: ignore[index, union-attr]
    assert _json("--profile", ben, "archive", "list", "--to", "2000-01-01", "--json") == []
    out = tmp_path / "kept.wav"
    exported = run_chok("--profile", ben, "archive", "export", str(sent["id"]), str(out))  # type: ignore[index]
    assert exported.code == 0, exported.err and out.stat().st_size > 44
    played = run_chok("--profile", ben, "archive", "play", str(sent["id"]), "--device", "null")  # type: ignore[index]
    assert played.code == 0, played.err
    assert_clean_error(run_chok("--profile", ben, "archive", "play", "999999999"), 9)
