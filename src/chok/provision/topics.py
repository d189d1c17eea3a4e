"""The topics of a channel, created as the original app expects them.

Audio: ``cleanup.policy=delete`` with a 7-day retention (a family's week of
talk; a second of speech costs ~3 KB, so a busy channel stays in the tens of
MB), in 1-day segments so expired audio really goes within 8 days.
Metadata: compacted, so transmission and reaction records live as long as
the channel (only the newest record per key is kept).
Two partitions as the original provisioning made (both apps use partition 0).
On a replicated cluster each topic keeps ``replication`` copies and takes a
write only once two of them hold it (``min.insync.replicas``; producers ask
``acks=all``), so one node may die without losing an acknowledged frame.
"""

from __future__ import annotations

from chok.broker.config import min_insync_for
from chok.kafka.admin import TopicSpec
from chok.protocol.topics import audio_topic, metadata_topic

PARTITIONS = 2
AUDIO_RETENTION_MS = 7 * 24 * 3600 * 1000
SEGMENT_MS = 24 * 3600 * 1000
HOUR_MS = 3600 * 1000
# A transmission taken back (protocol.md 5.6) leaves the log at the latest
# about an hour after the first record written an hour after it (compaction
# rolls the active segment only on a write); its tombstone stays a day
# (delete.retention.ms), which chok's timeline cache relies on.
METADATA_CONFIG = {
    "cleanup.policy": "compact",
    "segment.ms": str(SEGMENT_MS),
    "min.cleanable.dirty.ratio": "0.5",
    "max.compaction.lag.ms": str(HOUR_MS),
    "delete.retention.ms": str(24 * HOUR_MS),
}


def channel_topics(channel: int, replication: int = 1) -> list[TopicSpec]:
    durable = {"min.insync.replicas": str(min_insync_for(replication))} if replication > 1 else {}
    return [
        TopicSpec(
            audio_topic(channel),
            PARTITIONS,
            replication,
            {
                "cleanup.policy": "delete",
                "retention.ms": str(AUDIO_RETENTION_MS),
                "segment.ms": str(SEGMENT_MS),
                **durable,
            },
        ),
        TopicSpec(
            metadata_topic(channel),
            PARTITIONS,
            replication,
            {**METADATA_CONFIG, **durable},
        ),
    ]
