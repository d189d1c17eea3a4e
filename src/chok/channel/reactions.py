"""Reacting: one compacted record per (transmission, person, emoji), so
concurrent reactions never overwrite each other; then the original app's
``reactions`` map is brought up to date (protocol.md section 5.5).

Reconciling converges: after writing, a client re-reads the metadata
partition to its end and rewrites the transmission record only while the
newest map differs from the effective reactions it can see. Whoever writes a
stale map last re-reads afterwards and sees the other's reaction record.

Reaction records are signed by the person reacting (protocol.md 9.4); on a
private channel they are sealed and there is no map to refresh (the original
app never reads such a channel).
"""

from __future__ import annotations

from dataclasses import dataclass

from chok.channel.outgoing import metadata_record, reaction_record
from chok.channel.session import ChannelSession, now_ms
from chok.channel.timeline import Timeline, load_timeline
from chok.errors import AccessDeniedError, AuthenticationError, KafkaError
from chok.kafka.producer import RecordProducer
from chok.protocol.names import validate_emoji
from chok.protocol.reactions import ReactionRecord, toggle_target_state

MAX_ROUNDS = 5


@dataclass(frozen=True)
class ReactResult:
    on: bool
    reactions: dict[str, list[str]]
    map_rewrites: int
    # Why the original app's map could not be brought up to date (the reaction
    # itself is recorded all the same), or None.
    map_problem: str | None = None


def toggle_reaction(session: ChannelSession, tx_id: int, emoji: str) -> ReactResult:
    emoji = validate_emoji(emoji)
    timeline = load_timeline(session)
    entry = timeline.find(tx_id)
    on = toggle_target_state(entry.reactions, session.user, emoji)
    record = ReactionRecord(session.number, tx_id, session.user, emoji, on, now_ms())
    producer = session.producer()
    security = session.security
    partition = session.config.metadata_partition
    security.publish_cert(producer, session.metadata_topic, partition)
    key, value = reaction_record(security, record, entry.epoch)
    producer.produce(session.metadata_topic, key, value, partition=partition)
    producer.flush()
    if session.private:  # no map to refresh: the original app never reads the channel
        entry = load_timeline(session, from_offset=timeline.first_offsets.get(tx_id)).find(tx_id)
        return ReactResult(on, entry.reactions, 0)
    try:
        reactions, rewrites = reconcile_map(session, tx_id, producer, timeline)
    except (AccessDeniedError, AuthenticationError):
        raise
    except KafkaError as exc:
        # The refresh rewrites a record anyone may have written: one as large
        # as the broker takes cannot grow. The reaction record is written:
        # chok clients see the reaction, the original app not yet.
        now = load_timeline(session, from_offset=timeline.first_offsets.get(tx_id))
        effective = now.find(tx_id).reactions
        return ReactResult(on, effective, 0, f"the original app's copy was not updated: {exc}")
    return ReactResult(on, reactions, rewrites)


def reconcile_map(
    session: ChannelSession, tx_id: int, producer: RecordProducer, before: Timeline
) -> tuple[dict[str, list[str]], int]:
    """Rewrite the transmission record until its map equals the effective reactions."""
    start = before.first_offsets.get(tx_id)
    rewrites = 0
    for _ in range(MAX_ROUNDS):
        entry = load_timeline(session, from_offset=start).find(tx_id)
        current = {emoji: list(names) for emoji, names in entry.transmission.reactions.items()}
        if current == entry.reactions:
            return entry.reactions, rewrites
        # From the signed copy when the newest record is the original app's
        # rewrite of it: the refresh puts the talker's signature back (9.3).
        refreshed = entry.signed.with_reactions(entry.reactions)
        key, value = metadata_record(session.security, refreshed.key(), refreshed.to_value())
        producer.produce(
            session.metadata_topic, key, value, partition=session.config.metadata_partition
        )
        producer.flush()
        rewrites += 1
    return entry.reactions, rewrites
