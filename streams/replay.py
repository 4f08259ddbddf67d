"""Replay (backfill) a topic range back into the pipeline or onto another topic, idempotently.

Selection is by partition and offset range or time range (the broker's offsets-for-times), with
optional key / submission id / field filters. Replaying ``hanger.submissions`` or ``hanger.enriched``
back into the pipeline re-sends the *submission*: the enrich worker answers it from its dedupe
record (same ``submission_id`` + model version ⇒ same result, no new MD request), or computes a new
result when a new model version is deployed. A checkpoint file makes an interrupted replay continue
where it stopped; replaying the same range twice changes nothing downstream.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from hanger import topics
from hanger.errors import InputError
from hanger.events import ProductEnriched, ProductSubmitted, decode
from hanger.kafka import EventProducer, partitions_of
from hanger.settings import Settings

_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_point(value: str | None, *, now: dt.datetime | None = None) -> int | dt.datetime | None:
    """An offset (``1234``), an ISO-8601 time, or a relative age (``7d``, ``12h``) → offset or time."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    match = _RELATIVE.match(value)
    if match:
        now = now or dt.datetime.now(dt.UTC)
        return now - dt.timedelta(seconds=int(match[1]) * _UNITS[match[2]])
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError("bad_range", f"not an offset, ISO-8601 time or age like 7d: {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def parse_filters(items: list[str]) -> dict[str, str]:
    filters = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InputError("bad_filter", f"filter must look like field=value: {item!r}")
        filters[name.strip()] = value.strip()
    return filters


def submission_of(topic: str, raw: bytes) -> ProductSubmitted:
    """The submission carried by a message of ``topic`` (submissions or enriched)."""
    if topic.endswith(topics.ENRICHED):
        return decode(ProductEnriched, raw).submission
    return decode(ProductSubmitted, raw)


def matches(submission: ProductSubmitted, filters: dict[str, str]) -> bool:
    if not filters:
        return True
    data: dict[str, Any] = submission.model_dump(mode="json")
    for name, wanted in filters.items():
        value: Any = data
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if str(value) != wanted:
            return False
    return True


@dataclass
class ReplayPlan:
    source: str
    start: int | dt.datetime | None = None
    end: int | dt.datetime | None = None
    partitions: list[int] | None = None
    key: str | None = None
    filters: dict[str, str] = field(default_factory=dict)
    target: str | None = None  # None: back into the pipeline (hanger.submissions)
    rate: float | None = None  # messages per second
    dry_run: bool = False
    checkpoint: Path | None = None
    sample_size: int = 5


@dataclass
class ReplaySummary:
    scanned: int = 0
    selected: int = 0
    sent: int = 0
    skipped_invalid: int = 0
    ranges: dict[int, tuple[int, int]] = field(default_factory=dict)
    sample: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned, "selected": self.selected, "sent": self.sent,
            "skipped_invalid": self.skipped_invalid,
            "ranges": {str(p): list(r) for p, r in self.ranges.items()},
            "sample": self.sample, "elapsed_s": round(self.elapsed_s, 2),
        }


def _load_checkpoint(path: Path | None) -> dict[int, int]:
    if path is None or not path.exists():
        return {}
    return {int(p): int(o) for p, o in json.loads(path.read_text()).items()}


def _save_checkpoint(path: Path | None, positions: dict[int, int]) -> None:
    if path is not None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(positions))
        tmp.replace(path)


async def _resolve(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], point: int | dt.datetime | None,
    default: dict[TopicPartition, int],
) -> dict[TopicPartition, int]:
    if point is None:
        return dict(default)
    if isinstance(point, int):
        return {tp: point for tp in tps}
    found = await consumer.offsets_for_times({tp: int(point.timestamp() * 1000) for tp in tps})
    ends = await consumer.end_offsets(tps)
    return {tp: (found[tp].offset if found.get(tp) else ends[tp]) for tp in tps}


async def replay(
    settings: Settings, plan: ReplayPlan, progress: Callable[[int, int], None] | None = None
) -> ReplaySummary:
    """Run a replay; returns counts. ``progress(done, total)`` is called as it goes."""
    summary = ReplaySummary()
    started = time.monotonic()
    source = settings.topic(plan.source)
    consumer = AIOKafkaConsumer(
        **settings.kafka_client_options(), group_id=None, enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    producer = None if plan.dry_run else EventProducer(settings)
    if producer is not None:
        await producer.start()
    try:
        parts = sorted(await partitions_of(consumer, source))
        if not parts:
            raise InputError("unknown_topic", f"topic {source} does not exist")
        if plan.partitions is not None:
            parts = [p for p in parts if p in plan.partitions]
        tps = [TopicPartition(source, p) for p in parts]
        beginnings = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        starts = await _resolve(consumer, tps, plan.start, beginnings)
        stops = await _resolve(consumer, tps, plan.end, ends)
        done = _load_checkpoint(plan.checkpoint)
        for tp in tps:
            starts[tp] = max(starts[tp], beginnings[tp], done.get(tp.partition, 0))
            stops[tp] = min(stops[tp], ends[tp])
            summary.ranges[tp.partition] = (starts[tp], stops[tp])
        active = [tp for tp in tps if starts[tp] < stops[tp]]
        total = sum(stops[tp] - starts[tp] for tp in active)
        consumer.assign(active)
        for tp in active:
            consumer.seek(tp, starts[tp])
        positions = {tp.partition: starts[tp] for tp in tps}
        interval = 1.0 / plan.rate if plan.rate else 0.0
        while active:
            batch = await consumer.getmany(*active, timeout_ms=500, max_records=500)
            pending: list[asyncio.Future[Any]] = []
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= stops[tp]:
                        break
                    summary.scanned += 1
                    positions[tp.partition] = record.offset + 1
                    sent = await _replay_one(plan, record, summary, producer)
                    if sent is not None:
                        pending.append(sent)
                    if interval and not plan.dry_run:
                        await asyncio.sleep(interval)
            # Every send of the batch acknowledged before the checkpoint moves past it.
            await asyncio.gather(*pending)
            summary.sent += len(pending)
            _save_checkpoint(plan.checkpoint, positions)
            active = [tp for tp in active if positions[tp.partition] < stops[tp]
                      and await consumer.position(tp) < stops[tp]]
            if progress:
                progress(summary.scanned, total)
    finally:
        await consumer.stop()
        if producer is not None:
            await producer.stop()
    summary.elapsed_s = time.monotonic() - started
    if plan.checkpoint is not None and not plan.dry_run:
        plan.checkpoint.unlink(missing_ok=True)  # finished: the next run starts afresh
    return summary


async def _replay_one(
    plan: ReplayPlan, record: Any, summary: ReplaySummary, producer: EventProducer | None
) -> asyncio.Future[Any] | None:
    """Select and (unless dry-run) enqueue one record; returns the send's acknowledgement."""
    key = record.key.decode("utf-8", "replace") if record.key else None
    raw: bytes = record.value or b""
    into_pipeline = plan.target is None
    if into_pipeline or plan.filters:
        try:
            submission = submission_of(record.topic, raw)
        except InputError:
            summary.skipped_invalid += 1
            return None
        if plan.key and plan.key not in (key, submission.submission_id):
            return None
        if not matches(submission, plan.filters):
            return None
        if into_pipeline:
            if record.topic.endswith(topics.ENRICHED):  # re-send the submission it answered
                raw = submission.model_dump_json().encode("utf-8")
            key = submission.submission_id  # (a submission's own bytes go back as they are)
    elif plan.key and plan.key != key:
        return None
    summary.selected += 1
    if len(summary.sample) < plan.sample_size:
        summary.sample.append(f"{record.partition}@{record.offset} key={key}")
    if producer is None:
        return None
    return await producer.enqueue(plan.target or topics.SUBMISSIONS, key, raw)
