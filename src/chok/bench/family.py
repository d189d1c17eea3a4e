"""`chok bench --family`: the timeline cache at 100,000 transmissions, and what
presence and heard-by cost (bytes per person per hour, and the timeline load
with them present or absent). Beside the original-like client where it has an
equivalent.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chok.bench import original
from chok.bench.run import Row
from chok.channel import family
from chok.channel.cache import TimelineCache
from chok.channel.family_service import FamilyService
from chok.channel.session import ChannelSession
from chok.channel.store import Store
from chok.kafka.producer import RecordProducer
from chok.profiles import Profile
from chok.protocol.heard import BLOCK, HeardRecord
from chok.protocol.people import person_topic

Say = Callable[[str], None]
NAN = float("nan")
FIRST_SCREEN = 200
RUNS = 3


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _fresh_store(profile: Profile, where: Path) -> Store:
    """A Store in its own folder (a cold cache), not the profile's."""
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    return Store(where / "chok.sqlite", f"bench@{profile.config.broker_url}")


def timeline_rows(session: ChannelSession, profile: Profile, size: int, say: Say) -> list[Row]:
    scratch = Path(tempfile.mkdtemp(prefix="chok-bench-cache-"))
    cold, cold_first, saves, warm_first, warm_tail, warm_all, orig = [], [], [], [], [], [], []
    for run in range(RUNS):
        say(f"timeline at {size}: cold and warm, run {run + 1} of {RUNS}...")
        store = _fresh_store(profile, scratch / f"cold{run}")
        cache = TimelineCache(session, store)
        began = time.monotonic()
        first = cache.recent()[:FIRST_SCREEN]
        cold_first.append(time.monotonic() - began)
        began = time.monotonic()
        full = cache.read_full()
        entries = full.entries()
        cold.append(time.monotonic() - began)
        if len(entries) < size or not first:
            raise RuntimeError(f"the cold read found {len(entries)} of {size} transmissions")
        began = time.monotonic()
        cache.save_full(full)
        saves.append(time.monotonic() - began)
        store.close()
        began = time.monotonic()
        store = Store(store.path, f"bench@{profile.config.broker_url}")
        cache = TimelineCache(session, store)
        screen = cache.cached(limit=FIRST_SCREEN)
        warm_first.append(time.monotonic() - began)
        began = time.monotonic()
        cache.refresh()  # the tail: nothing new
        warm_tail.append(time.monotonic() - began)
        began = time.monotonic()
        everything = cache.cached()
        warm_all.append(time.monotonic() - began)
        if len(screen) != FIRST_SCREEN or len(everything) < size:
            raise RuntimeError("the warm cache lost transmissions")
        store.close()
        _found, took = original.load_timeline(session.creds, session.metadata_topic, size)
        orig.append(took)
    shutil.rmtree(scratch, ignore_errors=True)
    return [
        Row(f"cold open, first screen ({size} tx)", _median_ms(cold_first), NAN, "ms", ""),
        Row(f"cold load, whole timeline ({size} tx)", _median_ms(cold), _median_ms(orig), "ms",
            "<= 1500"),
        Row("  then written to the cache", _median_ms(saves), NAN, "ms", ""),
        Row(f"warm open, first screen ({size} tx)", _median_ms(warm_first), NAN, "ms", "<= 200"),
        Row("  then the new tail read (none)", _median_ms(warm_tail), NAN, "ms", ""),
        Row("  whole timeline from the cache", _median_ms(warm_all), NAN, "ms", ""),
    ]  # fmt: skip


class _Stats:
    """librdkafka's statistics of every client of one person, latest per client."""

    def __init__(self) -> None:
        self.latest: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def __call__(self, raw: str) -> None:
        data = json.loads(raw)
        with self._lock:
            self.latest[str(data["name"])] = data

    def total(self) -> int:
        with self._lock:
            return sum(int(d["tx_bytes"]) + int(d["rx_bytes"]) for d in self.latest.values())

    def written(self) -> int:
        with self._lock:
            return sum(int(d["tx_bytes"]) for d in self.latest.values() if d["type"] == "producer")


def _services(people: list[Profile], scratch: Path) -> tuple[list[FamilyService], list[_Stats]]:
    services, stats = [], []
    for person in people:
        stat = _Stats()
        extra = {"statistics.interval.ms": 1000, "stats_cb": stat}
        store = _fresh_store(person, scratch / person.user)
        services.append(FamilyService(person, store, client_extra=extra).start())
        stats.append(stat)
    return services, stats


def traffic_rows(people: list[Profile], seconds: float, say: Say) -> list[Row]:
    """Bytes on the wire per person: idle (presence: heartbeats, long polls,
    everyone else's heartbeats), and per transmission heard."""
    scratch = Path(tempfile.mkdtemp(prefix="chok-bench-family-"))
    services, stats = _services(people, scratch)
    try:
        time.sleep(5)  # every service has read the family's topics once: not counted
        say(f"presence: {len(people)} people idle for {seconds:.0f} s (default heartbeat)...")
        before = [s.total() for s in stats]
        time.sleep(seconds)  # the measurement window
        idle = [(s.total() - b) * 3600 / seconds for s, b in zip(stats, before, strict=True)]
        say("heard-by: 10 transmissions heard by one person...")
        hearer, stat = services[0], stats[0]
        written = stat.written()
        for index in range(10):
            start = 10_000_000 + index * 50
            hearer.heard(3, start, start + 40)
            time.sleep(2.5)  # past the heard record's debounce: one record each
        time.sleep(2)  # the statistics of the last record
        per_heard = (stat.written() - written) / 10
    finally:
        for service in services:
            service.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return [
        Row(f"presence, idle, per person ({len(people)})", statistics.mean(idle) / 1000, NAN,
            "KB/h", "small"),
        Row("heard-by, per transmission heard", per_heard, NAN, "bytes", ""),
    ]  # fmt: skip


def fill_family(session: ChannelSession, people: list[Profile], size: int, span: int) -> int:
    """Every person heard every transmission of the timeline (as live listening
    would write it), and said online: the family's records a load may meet."""
    written = 0
    for person in people:
        producer = RecordProducer(person.credentials, {"linger.ms": 20})
        last = size * span
        for block in range(last // BLOCK + 1):
            record = HeardRecord(
                person.user, session.number, block,
                ((block * BLOCK, min(last, (block + 1) * BLOCK - 1)),), int(time.time() * 1000),
            )  # fmt: skip
            producer.produce(person_topic(person.user), record.key(), record.to_value())
            written += 1
        producer.flush(60)
    return written


def presence_rows(
    session: ChannelSession, reader: Profile, people: list[Profile], size: int, say: Say
) -> list[Row]:
    """The timeline load, cold and as `chok timeline` does it (the family read
    beside it), with the family's records absent and then present."""

    def measure() -> tuple[float, float]:
        alone, beside = [], []
        scratch = Path(tempfile.mkdtemp(prefix="chok-bench-presence-"))
        for run in range(RUNS):
            store = _fresh_store(reader, scratch / f"a{run}")
            began = time.monotonic()
            TimelineCache(session, store).read_full().entries()
            alone.append(time.monotonic() - began)
            store.close()
            store = _fresh_store(reader, scratch / f"b{run}")
            began = time.monotonic()
            people_read = threading.Thread(
                target=family.refresh_family, args=(reader.credentials, reader.user, store)
            )
            people_read.start()
            TimelineCache(session, store).read_full().entries()
            people_read.join()
            beside.append(time.monotonic() - began)
            store.close()
        shutil.rmtree(scratch, ignore_errors=True)
        return _median_ms(alone), _median_ms(beside)

    say("timeline load without the family's records...")
    absent = measure()
    say(f"writing heard records for {len(people)} people x {size} transmissions...")
    records = fill_family(session, people, size, 40)
    say(f"timeline load with {records} heard records present...")
    present = measure()
    return [
        Row("cold load, family absent", absent[0], NAN, "ms", ""),
        Row("cold load, family present", present[0], NAN, "ms", "no change"),
        Row("  + family read beside, absent", absent[1], NAN, "ms", ""),
        Row("  + family read beside, present", present[1], NAN, "ms", "no change"),
    ]


def run_family(
    say: Say, size: int, traffic_s: float, people_count: int, isolated: bool
) -> list[Row]:
    if isolated:
        os.environ["CHOK_HOME"] = tempfile.mkdtemp(prefix="chok-bench-")
    from chok import profiles
    from chok.bench import measure as m
    from chok.broker import process
    from chok.broker.process import free_port_pair, start
    from chok.channel.session import open_session
    from chok.protocol.bundle import read_bundle
    from chok.provision import local

    started_here = not process.status().running
    try:
        start(port=free_port_pair() if isolated else None, progress=say)
        local.init([], 3, say)
        people = []
        for index in range(max(2, people_count)):
            name = f"kin{index}"
            bundle, _ = local.add_user(name, None, force=True)
            people.append(profiles.install(read_bundle(bundle.to_zip()), name, force=True))
        reader = people[1]
        session = open_session(reader, 3)
        have = session.metadata_reader("bench")
        try:
            _, high = have.watermarks()
        finally:
            have.close()
        if high < size:
            say(f"timeline: writing {size} transmissions...")
            m.fill_timeline(session, size)
        rows = timeline_rows(session, reader, size, say)
        rows += traffic_rows(people, traffic_s, say)
        rows += presence_rows(session, reader, people, size, say)
        return rows
    finally:
        if isolated and started_here:
            process.stop()
