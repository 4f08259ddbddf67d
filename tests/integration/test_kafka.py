"""Real broker: the transactional consume loop's commits survive a restart; bad messages are
dead-lettered and the loop keeps going; transactions hide aborted outputs from read_committed
readers."""

from __future__ import annotations

import asyncio
import base64

import pytest
from aiokafka import TopicPartition

from hanger import topics
from hanger.errors import InputError
from hanger.events import DeadLetter, ProductSubmitted, decode, encode
from hanger.kafka import EventProducer, TransactionalPublisher, run_transactional
from hanger.settings import Settings
from tests.conftest import read_topic
from tests.unit.factories import submission

pytestmark = pytest.mark.integration


async def test_restart_resumes_after_the_committed_offset(
    settings: Settings, producer: EventProducer
) -> None:
    sent = [submission(f"P-{i}") for i in range(10)]
    for event in sent:  # one key -> one partition, so order is total
        await producer.send(topics.SUBMISSIONS, "same-key", event)

    seen: list[str] = []

    async def handler_until(n: int, stop: asyncio.Event):  # type: ignore[no-untyped-def]
        async def handle(record, sink, dead_letters) -> None:  # type: ignore[no-untyped-def]
            seen.append(decode(ProductSubmitted, record.value).portal_product_id)
            if len(seen) == n:
                stop.set()
        return handle

    for n in (4, 10):  # a second loop in the same group = a restarted worker
        stop = asyncio.Event()
        await asyncio.wait_for(
            run_transactional(settings, "resume-test", [topics.SUBMISSIONS],
                              await handler_until(n, stop), stage="test", stop=stop, max_records=1),
            timeout=60,
        )

    assert seen == [e.portal_product_id for e in sent]  # each exactly once, in order


async def test_bad_messages_go_to_the_dlq_and_the_consumer_keeps_going(
    settings: Settings, producer: EventProducer
) -> None:
    good = submission("GOOD-1")
    bad = [b"not json", encode(good).replace(b'"schema_version":1', b'"schema_version":9'),
           encode(good)[:-1] + b',"extra":1}']
    for raw in [*bad, encode(good)]:
        await producer.send(topics.SUBMISSIONS, "k", raw)

    handled: list[str] = []
    stop = asyncio.Event()

    async def handle(record, sink, dead_letters) -> None:  # type: ignore[no-untyped-def]
        handled.append(decode(ProductSubmitted, record.value).portal_product_id)
        stop.set()

    await asyncio.wait_for(
        run_transactional(settings, "dlq-test", [topics.SUBMISSIONS], handle, stage="test", stop=stop),
        60,
    )

    assert handled == ["GOOD-1"]
    letters = [decode(DeadLetter, v) for _, v in await read_topic(settings, topics.DLQ, 3)]
    assert sorted(letter.code for letter in letters) == ["invalid_event", "not_json", "wrong_schema_version"]
    assert {base64.b64decode(letter.original_value_b64) for letter in letters} == set(bad)
    assert all(letter.original_topic == settings.topic(topics.SUBMISSIONS) for letter in letters)
    assert all("extra" in letter.message for letter in letters if letter.code == "invalid_event")


async def test_input_error_raised_by_a_handler_is_dead_lettered(
    settings: Settings, producer: EventProducer
) -> None:
    await producer.send(topics.SUBMISSIONS, "k", b"payload")
    stop = asyncio.Event()

    async def handle(record, sink, dead_letters) -> None:  # type: ignore[no-untyped-def]
        stop.set()
        raise InputError("custom_code", "the handler refused it")

    await asyncio.wait_for(
        run_transactional(settings, "dlq-test-2", [topics.SUBMISSIONS], handle, stage="test",
                          stop=stop),
        60,
    )
    [(_, raw)] = await read_topic(settings, topics.DLQ, 1)
    assert decode(DeadLetter, raw).code == "custom_code"


async def test_aborted_transaction_is_invisible_and_committed_one_is_seen(settings: Settings) -> None:
    publisher = TransactionalPublisher(settings, transactional_id=f"{settings.topic_prefix}tx")
    await publisher.start()
    try:
        class Boom(Exception):
            pass

        with pytest.raises(Boom):
            async with publisher._producer.transaction():
                await publisher._producer.send_and_wait(settings.topic(topics.ENRICHED), b"aborted")
                raise Boom
        tp = TopicPartition(settings.topic(topics.SUBMISSIONS), 0)
        await publisher.publish([(topics.ENRICHED, "k", b"committed")], {tp: 1},
                                settings.group("tx-test"))
        # What a worker does before giving the partition up: the coordinator hands out offset 1.
        assert await publisher.settle(timeout_s=10) is True
        assert await publisher._read_offsets(settings.group("tx-test"), [tp]) == {tp: 1}
    finally:
        await publisher.stop()
    values = [v for _, v in await read_topic(settings, topics.ENRICHED, 1)]
    assert values == [b"committed"]


async def test_topics_prune_lists_then_deletes_only_the_prefixed_topics(settings: Settings) -> None:
    import json
    import sys

    from hanger.kafka import create_topics, list_topics_with_prefix

    old = settings.model_copy(update={"topic_prefix": settings.topic_prefix + "old."})
    await create_topics(old, ["a", "b"])

    async def hanger(*args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hanger.cli", "topics", "prune", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, _ = await proc.communicate()
        assert proc.returncode is not None
        return proc.returncode, out.decode()

    code, out = await hanger("--prefix", old.topic_prefix, "--json")  # dry run: lists only
    assert code == 0 and json.loads(out)["would_delete"] == [old.topic("a"), old.topic("b")]
    assert await list_topics_with_prefix(settings, old.topic_prefix) == [old.topic("a"), old.topic("b")]
    code, out = await hanger("--prefix", old.topic_prefix, "--yes", "--json")
    assert code == 0 and json.loads(out)["deleted"] == [old.topic("a"), old.topic("b")]
    deadline = asyncio.get_running_loop().time() + 30
    while await list_topics_with_prefix(settings, old.topic_prefix):
        assert asyncio.get_running_loop().time() < deadline, "prefixed topics still listed"
        await asyncio.sleep(0.5)
    # The test's own topics (a shorter prefix of the pruned one) are untouched.
    remaining = await list_topics_with_prefix(settings, settings.topic_prefix)
    assert settings.topic(topics.SUBMISSIONS) in remaining
    assert (await hanger("--prefix", ""))[0] == 2  # an empty prefix would mean every topic


async def test_partitions_of_lets_offset_lookups_find_the_leader_without_a_retry(
    settings: Settings,
) -> None:
    """An offsets lookup of a topic the client does not track finds no leader, refreshes metadata
    and sleeps the retry backoff first; partitions_of tracks an existing topic so the first lookup
    already has its leader. A missing topic is not tracked (tracking could auto-create it)."""
    from aiokafka import AIOKafkaConsumer

    from hanger.kafka import list_topics_with_prefix, partitions_of

    consumer = AIOKafkaConsumer(**settings.kafka_client_options())
    await consumer.start()
    try:
        topic = settings.topic(topics.SUBMISSIONS)
        tp = TopicPartition(topic, 0)
        assert consumer._client.cluster.leader_for_partition(tp) is None  # untracked yet
        assert await partitions_of(consumer, topic) == {0, 1}
        assert consumer._client.cluster.leader_for_partition(tp) is not None
        assert topic in consumer._client._topics

        missing = settings.topic("never-created")
        assert await partitions_of(consumer, missing) == set()
        assert missing not in consumer._client._topics
    finally:
        await consumer.stop()
    assert settings.topic("never-created") not in await list_topics_with_prefix(
        settings, settings.topic_prefix)
