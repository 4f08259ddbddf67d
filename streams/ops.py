"""Operations views: consumer lag per group/topic/partition, the dead-letter topic (list, show,
re-drive after a fix), and the diff between two model versions after a backfill."""

from __future__ import annotations

import base64
import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from hanger import topics
from hanger.events import DeadLetter, decode
from hanger.kafka import EventProducer, partitions_of
from hanger.settings import Settings


@dataclass(frozen=True)
class Lag:
    group: str
    topic: str
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(0, self.end - self.committed)


async def consumer_lag(settings: Settings) -> list[Lag]:
    """Lag of every consumer group of this deployment (its group prefix) on every partition."""
    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    consumer = AIOKafkaConsumer(**settings.kafka_client_options(), group_id=None)
    await admin.start()
    await consumer.start()
    try:
        groups = [g[0] for g in await admin.list_consumer_groups()
                  if g[0].startswith(f"{settings.consumer_group_prefix}.{settings.topic_prefix}")]
        rows: list[Lag] = []
        for group in sorted(groups):
            offsets = await admin.list_consumer_group_offsets(group)
            tps = list(offsets)
            ends = await consumer.end_offsets(tps) if tps else {}
            rows.extend(
                Lag(group, tp.topic, tp.partition, meta.offset, ends[tp])
                for tp, meta in sorted(offsets.items())
            )
        return rows
    finally:
        await consumer.stop()
        await admin.close()


@dataclass(frozen=True)
class StoredLetter:
    partition: int
    offset: int
    letter: DeadLetter

    @property
    def ref(self) -> str:
        return f"{self.partition}:{self.offset}"


async def read_dead_letters(
    settings: Settings, *, code: str | None = None, since: dt.datetime | None = None,
    limit: int = 10_000,
) -> list[StoredLetter]:
    consumer = AIOKafkaConsumer(
        settings.topic(topics.DLQ), **settings.kafka_client_options(), group_id=None,
        auto_offset_reset="earliest", enable_auto_commit=False,
    )
    await consumer.start()
    out: list[StoredLetter] = []
    try:
        tps = [TopicPartition(settings.topic(topics.DLQ), p)
               for p in await partitions_of(consumer, settings.topic(topics.DLQ))]
        ends = await consumer.end_offsets(tps) if tps else {}
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining and len(out) < limit:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for r in records:
                    letter = decode(DeadLetter, r.value or b"")
                    if (code is None or letter.code == code) and (since is None or letter.failed_at >= since):
                        out.append(StoredLetter(r.partition, r.offset, letter))
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return out[:limit]


def counts_by_code(letters: list[StoredLetter]) -> dict[str, int]:
    return dict(Counter(s.letter.code for s in letters).most_common())


async def redrive(settings: Settings, letters: list[StoredLetter]) -> int:
    """Re-publish the original bytes of each letter to its original topic (after a fix).

    Letters whose original topic is unknown are skipped. Idempotent downstream: the worker dedupes
    on submission id, so re-driving twice answers twice with the same result.
    """
    sent = 0
    async with EventProducer(settings) as producer:
        for stored in letters:
            letter = stored.letter
            if not letter.original_topic:
                continue
            key = base64.b64decode(letter.original_key_b64) if letter.original_key_b64 else None
            value = base64.b64decode(letter.original_value_b64)
            # original_topic already carries the prefix: strip it, send() adds it back.
            topic = letter.original_topic.removeprefix(settings.topic_prefix)
            await producer.send(topic, key, value, headers=[("hanger-redrive-of", stored.ref.encode())])
            sent += 1
    return sent


@dataclass(frozen=True)
class ModelDiff:
    compared: int
    changed: int
    per_class: dict[str, dict[str, int]]  # old label -> new label -> count (changes only)
    route_changes: dict[str, int]  # "needs_md->auto_approved" -> count


async def model_diff(
    pool: asyncpg.Pool, old_version: str, new_version: str,
    submission_ids: Sequence[str] | None = None,
) -> ModelDiff:
    """How the results of two model versions differ on the submissions both classified (all of
    them, or only ``submission_ids``)."""
    rows = await pool.fetch(
        """SELECT o.taxonomy_id AS old_label, n.taxonomy_id AS new_label,
                  o.route AS old_route, n.route AS new_route
           FROM classification o JOIN classification n USING (submission_id)
           WHERE o.model_version = $1 AND n.model_version = $2
             AND ($3::text[] IS NULL OR o.submission_id = ANY($3::text[]))""",
        old_version, new_version, None if submission_ids is None else list(submission_ids),
    )
    per_class: dict[str, dict[str, int]] = {}
    routes: Counter[str] = Counter()
    changed = 0
    for r in rows:
        old, new = r["old_label"] or "none", r["new_label"] or "none"
        if old != new:
            changed += 1
            per_class.setdefault(old, {})
            per_class[old][new] = per_class[old].get(new, 0) + 1
        if r["old_route"] != r["new_route"]:
            routes[f"{r['old_route']}->{r['new_route']}"] += 1
    return ModelDiff(len(rows), changed, per_class, dict(routes))
