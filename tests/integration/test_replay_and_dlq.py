"""Replay and dead-letter re-drive against the real broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from hanger import topics
from hanger.errors import InvalidMessage
from hanger.events import Portal, ProductEnriched, ProductSubmitted, Route, decode, utcnow
from hanger.kafka import DeadLetters, EventProducer, Original, create_topics
from hanger.settings import Settings
from streams.ops import read_dead_letters, redrive
from streams.replay import ReplayPlan, replay
from tests.conftest import read_topic
from tests.unit.factories import submission

pytestmark = pytest.mark.integration


async def _publish_mixed(producer: EventProducer, unique: str) -> list[ProductSubmitted]:
    events = [submission(f"{unique}-{i}", portal=list(Portal)[i % 3]) for i in range(9)]
    for e in events:
        await producer.send(topics.SUBMISSIONS, e.submission_id, e)
    await producer.send(topics.SUBMISSIONS, "junk", b"not an event")
    return events


async def test_replay_filters_and_is_idempotent_into_a_named_topic(
    settings: Settings, producer: EventProducer, unique: str
) -> None:
    events = await _publish_mixed(producer, unique)
    await create_topics(settings, ["replay.target"])
    plan = ReplayPlan(source=topics.SUBMISSIONS, filters={"portal": "tmon"}, target="replay.target")

    dry = await replay(settings, ReplayPlan(source=topics.SUBMISSIONS, filters={"portal": "tmon"},
                                            dry_run=True))
    assert (dry.scanned, dry.selected, dry.sent, dry.skipped_invalid) == (10, 3, 0, 1)

    done = await replay(settings, plan)
    assert (done.selected, done.sent) == (3, 3)
    out = [decode(ProductSubmitted, v) for _, v in await read_topic(settings, "replay.target", 3)]
    assert sorted(e.portal_product_id for e in out) == sorted(
        e.portal_product_id for e in events if e.portal == Portal.TMON)


async def test_replay_of_enriched_goes_back_into_the_pipeline_as_submissions(
    settings: Settings, producer: EventProducer, unique: str
) -> None:
    sub = submission(f"{unique}-e")
    enriched = ProductEnriched(submission=sub, classification=None,
                               route=Route(kind="needs_md", md_id="MD-QUEUE"), enriched_at=utcnow())
    await producer.send(topics.ENRICHED, sub.submission_id, enriched)
    summary = await replay(settings, ReplayPlan(source=topics.ENRICHED, key=sub.submission_id))
    assert summary.sent == 1
    [(key, raw)] = await read_topic(settings, topics.SUBMISSIONS, 1)
    assert key == sub.submission_id.encode() and decode(ProductSubmitted, raw) == sub


async def test_checkpoint_resumes_an_interrupted_replay(
    settings: Settings, producer: EventProducer, unique: str, tmp_path: Path
) -> None:
    events = [submission(f"{unique}-{i}") for i in range(6)]
    for e in events:
        await producer.send(topics.SUBMISSIONS, "one-partition", e)
    await create_topics(settings, ["replay.target"])
    partition = next(p for p, (a, b) in (await replay(settings, ReplayPlan(
        source=topics.SUBMISSIONS, dry_run=True))).ranges.items() if b > a)
    checkpoint = tmp_path / "cp.json"
    checkpoint.write_text(f'{{"{partition}": 4}}')  # an earlier run got through offset 3
    summary = await replay(settings, ReplayPlan(source=topics.SUBMISSIONS, target="replay.target",
                                                checkpoint=checkpoint))
    assert summary.sent == 2
    assert not checkpoint.exists()  # finished
    out = [decode(ProductSubmitted, v) for _, v in await read_topic(settings, "replay.target", 2)]
    assert [e.portal_product_id for e in out] == [e.portal_product_id for e in events[4:]]


async def test_time_range_after_the_last_message_selects_nothing(
    settings: Settings, producer: EventProducer, unique: str
) -> None:
    await _publish_mixed(producer, unique)
    summary = await replay(settings, ReplayPlan(source=topics.SUBMISSIONS, start=utcnow(), dry_run=True))
    assert summary.scanned == 0


async def test_dead_letters_can_be_listed_by_code_and_redriven(
    settings: Settings, producer: EventProducer
) -> None:
    letters = DeadLetters(producer, "test")
    original = Original(b"payload-1", key=b"k1", topic=settings.topic(topics.SUBMISSIONS),
                        partition=0, offset=3)
    await letters.publish(InvalidMessage("not_json", "broken"), original)
    await letters.publish(InvalidMessage("invalid_event", "other"), Original(b"payload-2"))
    found = await read_dead_letters(settings, code="not_json")
    assert [s.letter.message for s in found] == ["broken"]
    assert await redrive(settings, found) == 1
    assert await read_topic(settings, topics.SUBMISSIONS, 1) == [(b"k1", b"payload-1")]


async def test_replay_by_offset_range_and_partition(
    settings: Settings, producer: EventProducer, unique: str
) -> None:
    events = [submission(f"{unique}-{i}") for i in range(8)]
    for e in events:
        await producer.send(topics.SUBMISSIONS, "one-partition", e)
    await create_topics(settings, ["replay.target"])
    probe = await replay(settings, ReplayPlan(source=topics.SUBMISSIONS, dry_run=True))
    [partition] = [p for p, (a, b) in probe.ranges.items() if b > a]
    summary = await replay(settings, ReplayPlan(source=topics.SUBMISSIONS, start=2, end=5,
                                                partitions=[partition], target="replay.target"))
    assert (summary.scanned, summary.sent, summary.ranges) == (3, 3, {partition: (2, 5)})
    out = [decode(ProductSubmitted, v) for _, v in await read_topic(settings, "replay.target", 3)]
    assert [e.portal_product_id for e in out] == [e.portal_product_id for e in events[2:5]]
    other = [p for p in probe.ranges if p != partition]
    empty = await replay(settings, ReplayPlan(source=topics.SUBMISSIONS, partitions=other, dry_run=True))
    assert empty.scanned == 0
