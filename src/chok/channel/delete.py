"""Taking a transmission back, for everyone (protocol.md section 5.6).

Three kinds of records, in this order, all on the metadata partition:

1. the deletion marker: the same key, ``timestamp`` 0 and ``chokDeletedBy``.
   The original app parses it, keeps it in place of the transmission (it
   keeps one entry per start offset) and never shows it, since it shows the
   last 24 hours at most; chok readers drop the transmission;
2. a tombstone for each of its reaction records;
3. a tombstone for the transmission key: once compaction has run (about an
   hour after the next write an hour later; ``provision.topics``), the
   transmission and the marker are gone from the log, and a day later the
   tombstone too.

The audio records stay until the audio topic's retention removes them (7
days by default): Kafka deletes a partition's records only from its start.

Only the talker takes a transmission back with ``chok delete``; the admin may
take back any (``chok admin delete``). A member with write access can write
tombstones whatever chok allows (Kafka's ACLs cannot look at keys): that is
no new power, deleting records was always possible for them.
"""

from __future__ import annotations

from dataclasses import dataclass

from chok.channel.session import ChannelSession
from chok.channel.timeline import Fold, _read_until, reaction_start
from chok.errors import NotFoundError, UsageError
from chok.kafka.stream import BEGINNING
from chok.protocol.transmission import Transmission


@dataclass(frozen=True)
class Deleted:
    transmission: Transmission
    reactions_removed: int


def _fold_from(session: ChannelSession, first_offset: int | None) -> Fold:
    fold = Fold(session.number, session.security)  # a private channel's records opened
    reader = session.metadata_reader("delete")
    try:
        low, high = reader.watermarks()
        if high > low:
            start = low if first_offset is None else max(low, first_offset)
            reader.assign(BEGINNING if first_offset is None else start)
            _read_until(reader, high, fold, start=start)
    finally:
        reader.close()
    return fold


def delete_transmission(
    session: ChannelSession,
    start_offset: int,
    *,
    as_admin: bool = False,
    first_offset: int | None = None,
) -> Deleted:
    """Take transmission ``start_offset`` back; only its talker may, or the admin.

    ``first_offset`` (where its first record is, from the timeline cache) saves
    reading the whole partition.
    """
    fold = _fold_from(session, first_offset)
    tx = _transmission(fold, start_offset)
    if tx is None and first_offset is not None:
        fold = _fold_from(session, None)  # the cache was wrong: look everywhere
        tx = _transmission(fold, start_offset)
    if tx is None:
        raise NotFoundError(f"no transmission {start_offset} on channel {session.number}")
    if not as_admin and tx.user_id != session.user:
        raise UsageError(
            f"recording {start_offset} is {tx.user_id}'s: you can take back only your own",
            hint="the admin can delete any with `chok admin delete`",
        )
    reaction_keys = [key for key, r in fold.reactions.items() if reaction_start(r) == start_offset]
    producer = session.producer()
    partition = session.config.metadata_partition
    if not session.private:  # the original app never reads a private channel; a marker
        # in the clear would show what the sealed record hides (who, when)
        marker = tx.deletion_marker(session.user)
        producer.produce(
            session.metadata_topic, marker.key(), marker.to_value(), partition=partition
        )
    for key in reaction_keys:
        producer.produce(session.metadata_topic, key, None, partition=partition)
    producer.produce(session.metadata_topic, tx.key(), None, partition=partition)
    producer.flush()
    return Deleted(tx, len(reaction_keys))


def _transmission(fold: Fold, start_offset: int) -> Transmission | None:
    found = fold.transmissions().get(start_offset)
    return found[0] if found is not None else None
