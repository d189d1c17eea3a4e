"""Following a partition to its new leader when a broker dies without a word.

librdkafka learns a new leader only from metadata. When the old leader
vanished (kill -9, power cut) it is still named in the metadata until the
controller fences it, and librdkafka asks again only on a fixed one-second
timer (not configurable: librdkafka issue #2202); in 2.16 it then drops the
dead broker, which parks the partition once more until the next tick. On a
three-node cluster that fences a dead node in ~0.8 s, listeners heard
1.5–2.6 s of silence (and past STALE_TALK_S one transmission became two).

So every chok producer and reader watches its own librdkafka log: when a
connection to a broker fails, a watcher asks the cluster who leads the
partitions now (on a small connection of its own, every ASK_EVERY_S, for at
most WATCH_S) and calls ``on_moved`` once none of them is led by the failed
broker: the producer refreshes its metadata, the reader reconnects where it
was. Nothing of this runs while the cluster is healthy.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka.admin import AdminClient

from chok.kafka.client import LIBRDKAFKA_LOG, Credentials

WATCH_S = 30.0
# Each ask is one small metadata request, made only while a broker is down.
# Asking every 20 ms instead did not shorten the gap (the leader's first
# acknowledgement is what listeners wait for), and it loads the survivors.
ASK_EVERY_S = 0.05
# "ssl://localhost:29095/2: Disconnected ..." names the broker by node id.
_FAILED_NODE = re.compile(r"/(\d+): ")

Partitions = Callable[[], Iterable[tuple[str, int]]]


class ClientLog:
    """The ``logger`` a librdkafka client writes to: passes every line on to
    chok's librdkafka logger and reports connection failures (facility FAIL)."""

    def __init__(self, on_failure: Callable[[int], None]) -> None:
        self._on_failure = on_failure

    def log(self, level: int, fmt: str, *args: Any) -> None:
        LIBRDKAFKA_LOG.log(level, fmt, *args)
        if args and args[0] == "FAIL":
            node = _FAILED_NODE.search(str(args[-1]))
            if node is not None:
                self._on_failure(int(node.group(1)))


class LeaderWatch:
    """Asks the cluster, after a broker failed, until its partitions moved."""

    def __init__(
        self,
        creds: Credentials,
        partitions: Partitions,
        on_moved: Callable[[], None],
        admin: Callable[[], Any] | None = None,
    ) -> None:
        self._admin = admin or (lambda: AdminClient({**creds.librdkafka(), "client.id": "chok"}))
        self._partitions = partitions
        self._on_moved = on_moved
        self._lock = threading.Lock()
        self._failed: set[int] = set()
        self._running = False
        self._closed = False

    def broker_failed(self, node: int) -> None:
        with self._lock:
            self._failed.add(node)
            if self._running or self._closed:
                return
            self._running = True
        threading.Thread(target=self._watch, name="chok-leader-watch", daemon=True).start()

    @property
    def watching(self) -> bool:
        """A broker failed and the watch has not yet seen where its partitions went."""
        with self._lock:
            return self._running

    def close(self) -> None:
        with self._lock:
            self._closed = True

    def _watch(self) -> None:
        admin: Any = None
        deadline = time.monotonic() + WATCH_S
        first = True
        try:
            while time.monotonic() < deadline and not self._closed:
                admin = admin or self._admin()
                waiting = self._still_led_by_failed(admin)
                if waiting is False:
                    # At the first look (long before a dead node is fenced) a
                    # partition not led by the failed broker was never ours.
                    if not first:
                        self._on_moved()
                    return
                first = first and waiting is None
                time.sleep(ASK_EVERY_S)  # poll interval while the cluster elects a leader
        finally:
            with self._lock:
                self._running = False
                self._failed.clear()

    def _still_led_by_failed(self, admin: Any) -> bool | None:
        """Whether a watched partition is led by a failed broker (or by none);
        None when the cluster did not answer."""
        with self._lock:
            failed = set(self._failed)
        try:
            meta = admin.list_topics(timeout=1.0)
        except Exception:  # KafkaException: no broker answered yet, ask again
            return None
        for topic, partition in self._partitions():
            info = meta.topics.get(topic)
            part = info.partitions.get(partition) if info is not None else None
            if part is None or part.leader < 0 or part.leader in failed:
                return True
        return False
