"""The channel commands as a person or a script uses them: real CLI, real broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chok.codec import make_speech, read_ogg_opus_packets
from tests.conftest import assert_clean_error, run_chok

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def speech_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "hello.wav"
    make_speech("Hello from the command line. Over.", path)
    return path


def _listen(profile: str, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "chok", "--profile", profile, "listen", "--no-play", "--json",
         *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )  # fmt: skip
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())  # blocks until tuned in
    assert first["event"] == "tuned_in", first
    return proc


def test_talk_listen_timeline_play_export_react(
    new_user, speech_file: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    alice, bob = new_user("alice"), new_user("bob")
    listener = _listen(
        bob.name, "--count", "1", "--timeout", "90", "--save", str(tmp_path / "heard")
    )
    talked = run_chok("--profile", alice.name, "talk", "--file", str(speech_file), "--json")
    assert talked.code == 0, talked.err
    sent = json.loads(talked.out)
    out, err = listener.communicate(timeout=120)
    assert listener.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    kinds = [e["event"] for e in events]
    assert "talk_started" in kinds and "talk_ended" in kinds and "saved" in kinds
    ended = next(e for e in events if e["event"] == "talk_ended")
    assert ended["talker"] == alice.user and ended["frames"] == sent["frames"]
    saved = Path(next(e for e in events if e["event"] == "saved")["path"])

    timeline = run_chok("--profile", bob.name, "timeline", "--json", "--since", "1h")
    assert timeline.code == 0, timeline.err
    entry = next(e for e in json.loads(timeline.out) if e["id"] == sent["id"])
    assert entry["user"] == alice.user and entry["audio_available"] is True
    assert entry["duration_ms"] == sent["duration_ms"]

    exported = tmp_path / "export.ogg"
    assert run_chok("--profile", bob.name, "export", str(sent["id"]), str(exported)).code == 0
    # What bob saved live and what he exports later are the very same packets.
    assert read_ogg_opus_packets(exported) == read_ogg_opus_packets(saved)
    wav = tmp_path / "replay.wav"
    played = run_chok("--profile", bob.name, "play", str(sent["id"]), "--out", str(wav))
    assert played.code == 0, played.err and wav.stat().st_size > 44

    reacted = run_chok("--profile", bob.name, "react", str(sent["id"]), "like", "--json")
    assert reacted.code == 0, reacted.err
    assert json.loads(reacted.out)["reactions"] == {"👍": [bob.user]}
    seen_by_alice = json.loads(run_chok("--profile", alice.name, "timeline", "--json").out)
    assert next(e for e in seen_by_alice if e["id"] == sent["id"])["reactions"] == {
        "👍": [bob.user]
    }


def test_catch_up_plays_what_was_missed_in_order(
    new_user, speech_file: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    alice, carol = new_user("alice"), new_user("carol")
    # carol listens once (position remembered), then is away while alice talks twice.
    first = _listen(carol.name, "--timeout", "1")
    first.communicate(timeout=60)
    ids = []
    for _ in range(2):
        talked = run_chok(
            "--profile", alice.name, "talk", "--file", str(speech_file), "--fast", "--json"
        )
        assert talked.code == 0, talked.err
        ids.append(json.loads(talked.out)["id"])
    back = _listen_catch_up(carol.name, tmp_path / "missed")
    replayed = [e["id"] for e in back if e["event"] == "replayed"]
    assert replayed == ids


def _listen_catch_up(profile: str, save: Path) -> list[dict[str, object]]:
    result = run_chok("--profile", profile, "listen", "--no-play", "--json", "--catch-up",
                      "--timeout", "2", "--save", str(save))  # fmt: skip
    assert result.code == 0, result.err
    return [json.loads(line) for line in result.out.splitlines()]


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["timeline", "--since", "3w"], 2, "--since"),
        (["play", "999999999"], 9, "no transmission"),
        (["export", "1", "out.mp3"], 2, ".wav"),
        (["react", "1", "banana"], 2, "emoji"),
        (["talk", "--file", "/nonexistent.wav"], 8, "nonexistent"),
        (["talk", "--seconds", "-1"], 2, "--seconds"),
        (["listen", "--count", "0"], 2, "--count"),
        (["timeline", "--channel", "9"], 7, "channel 9"),  # not a member: usage.md says 7
        (["talk", "--file", "x.wav", "--seconds", "2"], 2, "not both"),
    ],
)
def test_channel_commands_bad_input(new_user, args: list[str], code: int, words: str) -> None:  # type: ignore[no-untyped-def]
    dave = new_user("dave")
    line = assert_clean_error(run_chok("--profile", dave.name, *args), code=code)
    assert words in line, line


def test_talk_without_microphone_says_what_to_do(new_user) -> None:  # type: ignore[no-untyped-def]
    erin = new_user("erin")
    line = assert_clean_error(
        run_chok("--profile", erin.name, "talk", "--seconds", "1", "--device", "no-such-device"),
        code=4,
    )
    # Names the problem, and (with devices present) which ones exist.
    assert "no sound input device" in line, line


def test_revoked_person_gets_access_revoked_not_a_hang(
    cluster, speech_file: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    assert run_chok("admin", "add-user", "fiona", "--out", str(tmp_path)).code == 0
    assert run_chok("join", str(tmp_path / "fiona.chok"), "--name", "fiona").code == 0
    assert run_chok("--profile", "fiona", "timeline", "--json").code == 0
    assert run_chok("admin", "revoke-user", "fiona").code == 0
    for args in (["timeline"], ["listen", "--no-play", "--timeout", "5"],
                 ["talk", "--file", str(speech_file)], ["react", "1", "like"]):  # fmt: skip
        line = assert_clean_error(run_chok("--profile", "fiona", *args, timeout=90), code=7)
        assert "access revoked" in line, (args, line)


def test_talk_waits_while_someone_else_is_talking(new_user, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    alice, bob = new_user("alice"), new_user("bob")
    long_speech = tmp_path / "long.wav"
    make_speech("This is a long message that keeps the channel busy for a while. " * 3, long_speech)
    watcher = _listen(bob.name, "--count", "1", "--timeout", "90")
    talker = subprocess.Popen(
        [sys.executable, "-m", "chok", "--profile", alice.name, "talk", "--file", str(long_speech)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )  # fmt: skip
    assert watcher.stdout is not None
    started = json.loads(watcher.stdout.readline())  # alice is on the air now
    assert started["event"] == "talk_started", started
    waited = run_chok("--profile", bob.name, "talk", "--file", str(long_speech), "--fast")
    assert waited.code == 0, waited.err
    assert f"{alice.user} is talking: waiting" in waited.err
    assert talker.wait(60) == 0
    # bob's first frame came after alice's last one: no talking over her.
    timeline = json.loads(run_chok("--profile", bob.name, "timeline", "--json").out)
    mine = next(e for e in timeline if e["user"] == bob.user)
    hers = next(e for e in timeline if e["user"] == alice.user)
    assert mine["id"] > hers["end_offset"]
    watcher.communicate(timeout=60)
