"""The machinery of the bad-input table (tests/integration/test_bad_inputs.py).

A ``Case`` is one `chok` command line that must fail: its exit code, words of
its one error line, and which prepared CHOK_HOME it runs in. ``run_cases``
runs many at once (they are independent processes) and, for each, compares
the files of its CHOK_HOME and output folders before and after: a failing
command must leave nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from chok.protocol.bundle import Bundle
from tests.conftest import CHOK

WORKERS = 4  # commands at once: they mostly wait (sockets, disks), 2 cores suffice
ROOT = Path(__file__).resolve().parents[1]


class Zygote:
    """A warm interpreter that forks one `chok` process per command
    (tests/chok_forkserver.py). CHOK_TABLE_SUBPROCESS=1 starts a fresh Python
    for each command instead, to check that both give the same outcomes."""

    def __init__(self) -> None:
        req_r, self._req_w = os.pipe()
        self._ans_r, ans_w = os.pipe()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.chok_forkserver", str(req_r), str(ans_w)],
            pass_fds=(req_r, ans_w),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
        )
        os.close(req_r)
        os.close(ans_w)
        self._requests = os.fdopen(self._req_w, "w")
        self._answers = os.fdopen(self._ans_r, "r")

    def run(self, args: list[str], env: dict[str, str], cwd: Path, stdin: str | None) -> Outcome:
        request = {"args": args, "env": env, "cwd": str(cwd), "stdin": stdin}
        self._requests.write(json.dumps(request) + "\n")
        self._requests.flush()
        line = self._answers.readline()
        if not line:
            raise RuntimeError("the chok fork server died")
        answer = json.loads(line)
        return Outcome(answer["code"], answer["out"], answer["err"])

    def close(self) -> None:
        self._requests.close()
        self._proc.wait(timeout=30)
        self._answers.close()


def _subprocess(args: list[str], env: dict[str, str], cwd: Path, stdin: str | None) -> Outcome:
    proc = subprocess.run(
        [*CHOK, *args], input=stdin, capture_output=True, text=True, env=env, cwd=cwd,
        timeout=120, check=False,
    )  # fmt: skip
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    code: int
    words: str
    home: str = "none"  # a key of the prepared homes; "none" is a home not made yet
    stdin: str | None = None
    copy_home: bool = True  # False for homes on a read-only disk (they cannot change)


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    changed: list[str] = field(default_factory=list)
    seconds: float = 0.0


def case(cid: str, *args: str, code: int, words: str, **kw: object) -> Case:
    return Case(cid, args, code, words, **kw)  # type: ignore[arg-type]


def snapshot(roots: Iterable[Path]) -> dict[str, str]:
    """Every file below the roots and a hash of its contents (lock files aside:
    they are empty and stay by design, see chok.home.locked; and the timeline
    cache, chok.sqlite*: a copy of the broker that any read may bring up to date)."""
    found: dict[str, str] = {}
    for root in roots:
        if not root.exists():
            continue
        for path in root.rglob("*"):
            if path.name.startswith("chok.sqlite") and path.parent.parent.name == "archive":
                continue
            if path.is_file() and not path.name.endswith(".lock"):
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    added = [f"+{p}" for p in sorted(after.keys() - before.keys())]
    removed = [f"-{p}" for p in sorted(before.keys() - after.keys())]
    modified = [f"~{p}" for p in sorted(before.keys() & after.keys()) if before[p] != after[p]]
    return added + removed + modified


@dataclass
class Bench:
    """Where the cases run: prepared homes, input files and output folders."""

    root: Path
    homes: dict[str, Path]
    places: dict[str, Path]  # {name} placeholders in arguments
    watched: list[Path]  # shared folders no case may change (read-only and full disks)
    # What to compare of a home that is not copied (a live cluster's home: its
    # broker's data changes all the time, its registry and profiles must not).
    home_roots: dict[str, list[Path]] = field(default_factory=dict)
    _local: threading.local = field(default_factory=threading.local)
    _zygotes: list[Zygote] = field(default_factory=list)

    def run(self, c: Case) -> Outcome:
        work = self.root / "runs" / c.id
        out = work / "out"
        out.mkdir(parents=True)
        home = self._home(c, work)
        args = [a.format(out=out, **{k: str(v) for k, v in self.places.items()}) for a in c.args]
        roots = [*self.home_roots.get(c.home, [home]), out, *self.watched]
        before = snapshot(roots)
        began = time.monotonic()
        env = {**os.environ, "CHOK_HOME": str(home)}
        env.pop("CHOK_PROFILE", None)
        zygote = getattr(self._local, "zygote", None)
        if zygote is None and not os.environ.get("CHOK_TABLE_SUBPROCESS"):
            zygote = self._local.zygote = Zygote()
            self._zygotes.append(zygote)
        run = zygote.run if zygote else _subprocess
        outcome = run(args, env, out, c.stdin)
        outcome.seconds = time.monotonic() - began
        outcome.changed = changes(before, snapshot(roots))
        return outcome

    def _home(self, c: Case, work: Path) -> Path:
        if c.home == "none":
            return work / "home"
        template = self.homes[c.home]
        if not c.copy_home:
            return template
        home = work / "home"
        shutil.copytree(template, home, symlinks=True)
        return home

    def touches_shared(self, c: Case) -> bool:
        """Does the case write (even for a moment) where every case looks for
        leftovers: a shared home, or a watched folder named in its arguments?"""
        if c.home != "none" and not c.copy_home:
            return True
        named = [a.format(out="", **{k: str(v) for k, v in self.places.items()}) for a in c.args]
        return any(str(folder) in arg for folder in self.watched for arg in named)

    def run_all(self, cases: list[Case]) -> dict[str, Outcome]:
        """Cases that keep to their own folders run four at a time; those that touch
        shared ones run alone afterwards, so that no case sees another's
        temporary file in a shared folder as a leftover of its own."""
        alone = [c for c in cases if self.touches_shared(c)]
        together = [c for c in cases if c not in alone]
        try:
            with ThreadPoolExecutor(WORKERS) as pool:
                outcomes = dict(
                    zip([c.id for c in together], pool.map(self.run, together), strict=True)
                )
            outcomes.update((c.id, self.run(c)) for c in alone)
            return outcomes
        finally:
            for zygote in self._zygotes:
                zygote.close()
            self._zygotes.clear()


def plant_profile(home: Path, bundle: Bundle, name: str) -> None:
    """A profile as it stands on a person's disk, written directly (e.g. joined
    before its certificate expired, which `chok join` would refuse now)."""
    directory = home / "profiles" / name
    directory.mkdir(parents=True)
    config = bundle.config
    for member, data in (
        ("kafka_config.json", config.to_json()),
        (config.ca_asset, bundle.ca_pem),
        (config.client_cert_asset, bundle.cert_pem),
        (config.client_key_asset, bundle.key_pem),
    ):
        (directory / member).write_bytes(data)
    (home / "state.json").write_text(f'{{"default": "{name}"}}')


def check(c: Case, outcome: Outcome) -> None:
    """One line on stderr, the documented exit code, no traceback, nothing left."""
    lines = outcome.err.strip().splitlines()
    assert "Traceback" not in outcome.err, outcome.err
    assert len(lines) == 1 and lines[0].startswith("chok: error: "), outcome.err
    assert outcome.code == c.code, (outcome.code, outcome.err)
    assert c.words in lines[0], lines[0]
    assert outcome.changed == [], outcome.changed
