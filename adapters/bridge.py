"""The adapter bridge worker: legacy topics ⇄ canonical topics, in each portal's own format.

(a) ``legacy.<portal>.submissions`` (native bytes as the legacy backend sent them; key = portal
    product id; optional header ``seller_id``) → ``hanger.submissions`` (``ProductSubmitted``);
    rejected items → ``hanger.dlq`` plus the portal-native rejection on ``legacy.<portal>.enriched``.
(b) ``hanger.enriched`` / ``hanger.registered`` / ``hanger.rejected`` → the portal-native result
    on ``legacy.<portal>.enriched`` / ``legacy.<portal>.registered`` (an MD's rejection is the
    registration answer: 반려 / 수정요청 with the reason), keyed by the portal product id.

Exactly-once through :func:`hanger.kafka.run_transactional`: a batch's outputs, dead letters and
offsets commit in one Kafka transaction, so a killed bridge neither loses nor repeats an answer;
a replay re-sends identical answers and identical submission ids. Both canonical
events carry the submission with its native payload, so the bridge keeps no state and scales out
as a consumer group.
"""

from __future__ import annotations

import asyncio

from aiokafka import ConsumerRecord

from adapters.common.pipeline import Context, ingest
from adapters.publish import publish_report
from adapters.registry import adapter_for
from hanger import topics
from hanger.events import (
    Portal,
    ProductEnriched,
    ProductRegistered,
    ProductRejected,
    ResultEvent,
    decode,
    utcnow,
)
from hanger.kafka import Collector, DeadLetters, EventSink, Original, run_transactional
from hanger.settings import Settings

STAGE = "adapters.bridge"
INBOUND_GROUP = "adapters-bridge-submissions"
OUTBOUND_GROUP = "adapters-bridge-results"
SELLER_HEADER = "seller_id"


class Bridge:
    """The two handlers, free of consumer plumbing so unit tests can call them directly."""

    def __init__(self, settings: Settings, producer: EventSink, dead_letters: DeadLetters) -> None:
        self._settings = settings
        self._producer = producer
        self._dead_letters = dead_letters

    def _base_topic(self, topic: str) -> str:
        prefix = self._settings.topic_prefix
        return topic[len(prefix):] if prefix and topic.startswith(prefix) else topic

    async def handle_submission(self, record: ConsumerRecord[bytes, bytes]) -> None:
        topic = self._base_topic(record.topic)
        portal = Portal(topic.split(".")[1])
        headers = dict(record.headers or ())
        seller = headers.get(SELLER_HEADER)
        context = Context(received_at=utcnow(),
                          seller_id=seller.decode("utf-8", "replace") if seller else None,
                          source=f"{topic}@{record.partition}:{record.offset}")
        raw = record.value or b""
        report = ingest(adapter_for(portal), raw, context.source, context)
        await publish_report(report, self._producer, self._dead_letters, raw,
                             max_letter_bytes=self._settings.max_message_bytes // 2,
                             origin=Original.of(record))
        if report.failed:
            key = record.key or (report.outcomes[0].product_id or "").encode("utf-8") or None
            await self._producer.send(topics.legacy(portal, "enriched"), key, report.answer)

    async def handle_result(self, record: ConsumerRecord[bytes, bytes]) -> None:
        raw = record.value or b""
        if self._base_topic(record.topic) == topics.REJECTED:
            rejected = decode(ProductRejected, raw)
            sub = rejected.submission
            await self._answer(rejected, sub.portal, sub.portal_product_id, sub.native, "registered")
            return
        if self._base_topic(record.topic) == topics.REGISTERED:
            registered = decode(ProductRegistered, raw)
            await self._answer(registered, registered.portal, registered.portal_product_id,
                               registered.submission.native, "registered")
            return
        enriched = decode(ProductEnriched, raw)
        sub = enriched.submission
        await self._answer(enriched, sub.portal, sub.portal_product_id, sub.native, "enriched")

    async def _answer(self, event: ResultEvent, portal: Portal,
                      product_id: str, native: dict[str, object], kind: str) -> None:
        adapter = adapter_for(portal)
        result = adapter.from_canonical(event, native)
        await self._producer.send(topics.legacy(portal, kind), product_id,
                                  adapter.encode_result(result, native))


async def run_bridge(settings: Settings, stop: asyncio.Event | None = None, *,
                     portals: tuple[Portal, ...] = tuple(Portal)) -> None:
    """Run both directions until ``stop`` is set (or forever), each exactly-once: a batch's
    outputs, dead letters and offsets commit in one Kafka transaction."""
    stop = stop or asyncio.Event()

    async def inbound(record: ConsumerRecord[bytes, bytes], sink: Collector,
                      dead_letters: DeadLetters) -> None:
        await Bridge(settings, sink, dead_letters).handle_submission(record)

    async def outbound(record: ConsumerRecord[bytes, bytes], sink: Collector,
                       dead_letters: DeadLetters) -> None:
        await Bridge(settings, sink, dead_letters).handle_result(record)

    async with asyncio.TaskGroup() as group:
        group.create_task(run_transactional(
            settings, INBOUND_GROUP, [topics.legacy(p, "submissions") for p in portals], inbound,
            stage=STAGE, stop=stop))
        group.create_task(run_transactional(
            settings, OUTBOUND_GROUP, [topics.ENRICHED, topics.REGISTERED, topics.REJECTED], outbound,
            stage=STAGE, stop=stop))


async def run_worker(settings: Settings) -> None:
    """Entry point for ``hanger worker bridge`` (runs until interrupted)."""
    await run_bridge(settings)
