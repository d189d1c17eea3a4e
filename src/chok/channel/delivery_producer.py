"""The producer one delivery sends through, and the reports it gives back.

It exists apart from ``delivery`` (what is sent in which order, and the state a
talker watches) because replacing a producer that failed for good is a small
protocol of its own: the process's shared producer is forgotten, never closed
(other deliveries may hold it); one made for the delivery is closed; and a
failure reported by a producer already replaced does not count again, while
its acknowledgements still do.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator

from chok.channel.producers import forget_shared
from chok.errors import ChokError
from chok.kafka.producer import Delivered, Headers, RecordProducer

ProducerFactory = Callable[[], RecordProducer]
Report = Callable[[Delivered | None, ChokError | None], None]
#: (generation, what, delivered, error): ``what`` is the caller's name for the record.
_Queued = tuple[int, int, Delivered | None, ChokError | None]


class DeliveryProducer:
    """A replaceable producer whose delivery reports are read on the caller's thread."""

    def __init__(self, producer: RecordProducer, new_producer: ProducerFactory) -> None:
        self._producer = producer
        self._new_producer = new_producer
        self._owned = False  # the caller's, or the process's shared one: never closed here
        self._generation = 0
        self._reports: queue.SimpleQueue[_Queued] = queue.SimpleQueue()

    def poll(self, timeout: float) -> None:
        self._producer.poll(timeout)

    def take_error(self) -> ChokError | None:
        return self._producer.take_error()

    def enqueue(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers | None,
        partition: int,
        what: int,
    ) -> bool:
        """Queue a record (False: librdkafka's queue is full); its report comes
        back from ``reports`` under ``what``."""
        return self._producer.enqueue(topic, key, value, headers, partition, self._report(what))

    def _report(self, what: int) -> Report:
        generation = self._generation
        return lambda delivered, error: self._reports.put((generation, what, delivered, error))

    def reports(self) -> Iterator[tuple[int, Delivered | None, ChokError | None]]:
        """(what, delivered, error) of each report come in since last asked,
        but for the failures of a producer replaced since."""
        while True:
            try:
                generation, what, delivered, error = self._reports.get_nowait()
            except queue.Empty:
                return
            if delivered is not None or generation == self._generation:
                yield what, delivered, error

    def replace(self) -> None:
        """Go on with a new producer of the delivery's own."""
        old, owned = self._producer, self._owned
        self._generation += 1
        self._producer, self._owned = self._new_producer(), True
        if owned:
            old.close()
        else:
            forget_shared(old)

    def close(self) -> None:
        """Close the producer if it is the delivery's own."""
        if self._owned:
            self._producer.close()
