"""Thin wrappers over aiokafka that encode our delivery rules once.

- :class:`EventProducer`: idempotent producer (``acks=all``); ``send`` returns only after the broker
  acknowledged, so a caller that commits afterwards never loses an output.
- :class:`DeadLetters`: wraps original bytes with stage, code and reason into ``hanger.dlq``.
- :func:`run_transactional`: the exactly-once loop for plain workers (adapter bridge, registrar):
  a batch's outputs, dead letters and offsets in one Kafka transaction; input errors →
  dead-letter; transient errors → retry the batch with backoff, never commit past it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from pydantic import BaseModel

from hanger import topics
from hanger.errors import HangerError, InputError, TransientError
from hanger.events import DeadLetter, encode, utcnow
from hanger.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


class EventProducer:
    """Idempotent producer for canonical events and native payloads."""

    def __init__(self, settings: Settings, **overrides: Any) -> None:
        self._settings = settings
        options: dict[str, Any] = {
            **settings.kafka_client_options(),
            "enable_idempotence": True,
            "acks": "all",
            "linger_ms": 5,
            "max_request_size": settings.max_message_bytes,
        }
        options.update(overrides)
        self._producer = AIOKafkaProducer(**options)

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def __aenter__(self) -> EventProducer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def send(
        self,
        topic: str,
        key: str | bytes | None,
        value: BaseModel | bytes,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> tuple[int, int]:
        """Send and wait for the broker's acknowledgement; returns (partition, offset).

        ``topic`` is a registry name; the settings' prefix is applied here.
        Raises :class:`TransientError` when the broker cannot take it now.
        """
        raw_key = key.encode("utf-8") if isinstance(key, str) else key
        raw_value = value if isinstance(value, bytes) else encode(value)
        try:
            meta = await self._producer.send_and_wait(
                self._settings.topic(topic), raw_value, key=raw_key, headers=headers
            )
        except KafkaError as exc:
            if getattr(exc, "retriable", False):
                raise TransientError("kafka_send", f"{topic}: {exc!r}") from exc
            raise
        return meta.partition, meta.offset

    async def enqueue(
        self, topic: str, key: str | bytes | None, value: BaseModel | bytes
    ) -> asyncio.Future[Any]:
        """Hand a message to the producer's batch and return the acknowledgement future (await it
        before committing anything that depends on it). For pipelines that send many at once."""
        raw_key = key.encode("utf-8") if isinstance(key, str) else key
        raw_value = value if isinstance(value, bytes) else encode(value)
        future: asyncio.Future[Any] = await self._producer.send(
            self._settings.topic(topic), raw_value, key=raw_key
        )
        return future

    async def send_many(self, items: list[tuple[str, str | bytes | None, BaseModel | bytes]]) -> None:
        """Send a batch concurrently and wait for every acknowledgement."""
        raw = [
            (
                self._settings.topic(t),
                k.encode("utf-8") if isinstance(k, str) else k,
                v if isinstance(v, bytes) else encode(v),
            )
            for t, k, v in items
        ]
        futures = [await self._producer.send(t, v, key=k) for t, k, v in raw]
        await asyncio.gather(*futures)


class EventSink(Protocol):
    """What handlers send through: an :class:`EventProducer`, or a :class:`Collector` that keeps
    the messages for a transaction."""

    async def send(
        self, topic: str, key: str | bytes | None, value: BaseModel | bytes,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> tuple[int, int]: ...


class Collector:
    """Records what a handler sends, to be published in one transaction with the batch's offsets."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str | bytes | None, BaseModel | bytes]] = []
        self.after: list[Callable[[], Awaitable[None]]] = []

    def after_commit(self, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action`` once the transaction carrying these messages has committed (e.g. mark a
        stored row published). A failure there is logged, not retried: the messages are out."""
        self.after.append(action)

    async def send(
        self, topic: str, key: str | bytes | None, value: BaseModel | bytes,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> tuple[int, int]:
        if headers:
            raise ValueError("transactional outputs carry no headers")
        self.items.append((topic, key, value))
        return -1, -1


@dataclass(frozen=True)
class Original:
    """Where a message came from, for the dead-letter record."""

    value: bytes
    key: bytes | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None

    @classmethod
    def of(cls, record: ConsumerRecord[bytes, bytes]) -> Original:
        return cls(record.value or b"", record.key, record.topic, record.partition, record.offset)


class DeadLetters:
    """Publishes :class:`DeadLetter` records (original bytes + reason) to ``hanger.dlq``."""

    def __init__(self, producer: EventSink | None, stage: str) -> None:
        self._producer = producer
        self._stage = stage

    def build(self, error: HangerError, original: Original) -> DeadLetter:
        return DeadLetter(
            stage=self._stage,
            code=error.code,
            message=error.message[:4000],
            retriable=error.retriable,
            original_topic=original.topic,
            original_partition=original.partition,
            original_offset=original.offset,
            original_key_b64=base64.b64encode(original.key).decode() if original.key else None,
            original_value_b64=base64.b64encode(original.value).decode(),
            original_sha256=DeadLetter.digest(original.value),
            failed_at=utcnow(),
        )

    async def publish(self, error: HangerError, original: Original) -> DeadLetter:
        letter = self.build(error, original)
        if self._producer is None:
            raise RuntimeError("DeadLetters built without a producer can only build letters")
        await self._producer.send(topics.DLQ, original.key, letter)
        log.warning(
            "dead-lettered",
            extra={"stage": self._stage, "code": error.code, "topic": original.topic,
                   "offset": original.offset},
        )
        return letter


def backoff_delays(settings: Settings) -> list[float]:
    """Exponential backoff with full jitter, capped; one delay per retry."""
    delays = []
    for attempt in range(settings.retry_attempts):
        cap = min(settings.retry_max_s, settings.retry_initial_s * (2**attempt))
        delays.append(random.uniform(cap / 2, cap))  # noqa: S311 - jitter, not crypto
    return delays


async def with_retries(
    settings: Settings, what: str, call: Callable[[], Awaitable[T]],
    *, delays: Sequence[float] | None = None,
) -> T:
    """Run ``call``; on :class:`TransientError` retry with backoff (``delays``, one per retry;
    default :func:`backoff_delays`); re-raise after the last try."""
    if delays is None:
        delays = backoff_delays(settings)
    for attempt, delay in enumerate([*delays, None]):
        try:
            return await call()
        except TransientError as exc:
            if delay is None:
                raise
            log.warning("transient failure, retrying", extra={"what": what, "attempt": attempt,
                                                              "error": str(exc)})
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def make_consumer(settings: Settings, group: str, *topic_names: str, **overrides: Any) -> AIOKafkaConsumer:
    options: dict[str, Any] = {
        **settings.kafka_client_options(),
        "group_id": settings.group(group),
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "max_poll_records": 100,
        "session_timeout_ms": int(settings.kafka_session_timeout_s * 1000),
        "heartbeat_interval_ms": int(settings.kafka_session_timeout_s * 1000 / 5),
    }
    options.update(overrides)
    return AIOKafkaConsumer(*(settings.topic(t) for t in topic_names), **options)


TransactionalHandler = Callable[[ConsumerRecord[bytes, bytes], Collector, "DeadLetters"], Awaitable[None]]


async def run_transactional(
    settings: Settings,
    group: str,
    topic_names: Sequence[str],
    handler: TransactionalHandler,
    *,
    stage: str,
    stop: asyncio.Event | None = None,
    max_records: int = 200,
) -> None:
    """Exactly-once consume → produce (Kafka transactions): each fetched batch's outputs — dead
    letters included — and its offsets are committed in one transaction, or not at all.

    A crash, a kill or a broker failure before the commit leaves nothing visible to
    ``read_committed`` consumers and the batch is redelivered; a restarted worker with the same
    ``HANGER_WORKER_ID`` fences its predecessor. On a rebalance the in-flight batch finishes first
    (the revocation waits for it), and records of partitions no longer owned are left to their new
    owner. Transient errors retry the whole batch with backoff; when retries run out the exception
    propagates (exit without committing; the supervisor restarts the worker at the same batch).
    """
    stop = stop or asyncio.Event()
    group_id = settings.group(group)
    publisher = TransactionalPublisher(settings, transactional_id=f"{group_id}.{settings.worker_id}")
    consumer = make_consumer(settings, group)
    in_flight = asyncio.Lock()

    class FinishFirst(ConsumerRebalanceListener):  # type: ignore[misc]
        async def on_partitions_revoked(self, revoked: Any) -> None:
            async with in_flight:
                await publisher.settle()

        async def on_partitions_assigned(self, assigned: Any) -> None:
            pass

    consumer.subscribe([settings.topic(t) for t in topic_names], listener=FinishFirst())
    await publisher.start()
    await consumer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=max_records)
            if not batches:
                continue
            async with in_flight:
                owned = consumer.assignment()
                mine = {tp: records for tp, records in batches.items() if tp in owned and records}

                async def attempt(mine: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = mine,
                                  ) -> None:
                    collector = Collector()
                    dead_letters = DeadLetters(collector, stage)
                    for records in mine.values():
                        for record in records:
                            try:
                                await handler(record, collector, dead_letters)
                            except InputError as exc:
                                await dead_letters.publish(exc, Original.of(record))
                    offsets = {tp: records[-1].offset + 1 for tp, records in mine.items()}
                    await publisher.publish(collector.items, offsets, group_id)
                    for action in collector.after:
                        try:
                            await action()
                        except Exception:
                            log.warning("after-commit action failed", exc_info=True)

                if mine:
                    await with_retries(settings, f"{group} batch", attempt)
    finally:
        await publisher.settle()  # before leaving the group: the next owner reads our offsets
        await consumer.stop()
        await publisher.stop()


async def create_topics(settings: Settings, names: list[str] | None = None) -> list[str]:
    """Create the registry's topics (or ``names``) if missing; returns the names created."""
    specs = [t for t in topics.registry() if names is None or t.name in names]
    extra = [n for n in (names or []) if n not in {t.name for t in specs}]
    specs += [topics.TopicSpec(n, "", "", "", "") for n in extra]
    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name=settings.topic(s.name),
                num_partitions=s.partitions or settings.topic_partitions,
                replication_factor=settings.topic_replication,
                topic_configs={
                    "retention.ms": str(s.retention_ms),
                    "max.message.bytes": str(settings.max_message_bytes),
                },
            )
            for s in specs
            if settings.topic(s.name) not in existing
        ]
        if wanted:
            # Another process may create one between list and create: that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(wanted)
        return [t.name for t in wanted]
    finally:
        await admin.close()


async def list_topics_with_prefix(settings: Settings, prefix: str) -> list[str]:
    """The topics whose names start with ``prefix``, sorted."""
    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    await admin.start()
    try:
        return await _topics_with_prefix(admin, prefix)
    finally:
        await admin.close()


async def _topics_with_prefix(admin: AIOKafkaAdminClient, prefix: str) -> list[str]:
    return sorted(t for t in await admin.list_topics() if t.startswith(prefix))


async def delete_topics_with_prefix(settings: Settings, prefix: str | None = None) -> list[str]:
    """Delete every topic whose name starts with ``prefix`` (default: the deployment's own,
    which must not be empty); returns the names deleted. Tests and benchmarks clean up with this,
    ops with ``hanger topics prune``."""
    prefix = settings.topic_prefix if prefix is None else prefix
    if not prefix:
        raise ValueError("refusing to delete topics without a prefix")
    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    await admin.start()
    try:
        doomed = await _topics_with_prefix(admin, prefix)
        if doomed:
            await admin.delete_topics(doomed)
        return doomed
    finally:
        await admin.close()


async def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(**settings.kafka_client_options())
    await consumer.start()
    try:
        parts = await partitions_of(consumer, settings.topic(topic))
        tps = [TopicPartition(settings.topic(topic), p) for p in parts]
        offsets = await consumer.end_offsets(tps) if tps else {}
        return {tp.partition: off for tp, off in offsets.items()}
    finally:
        await consumer.stop()


OffsetsReader = Callable[[str, list[TopicPartition]], Awaitable[dict[TopicPartition, int]]]
"""(group id, partitions) -> the committed offset of each, as the group's coordinator hands it out."""


class TransactionalPublisher:
    """Publishes a batch's outputs and its consumer offsets atomically (Kafka transactions).

    ``transactional_id`` must be stable for one worker slot across restarts, so a restarted worker
    fences its crashed predecessor and aborts the transaction it left open.
    """

    def __init__(
        self, settings: Settings, transactional_id: str, *, read_offsets: OffsetsReader | None = None
    ) -> None:
        self._settings = settings
        self._admin: AIOKafkaAdminClient | None = None
        self._read_offsets = read_offsets or self._read_offsets_from_coordinator
        # Per consumer group, the offsets this publisher's transactions committed and the group's
        # coordinator has not yet been seen handing out (see settle()).
        self._unsettled: dict[str, dict[TopicPartition, int]] = {}
        self._settling = asyncio.Lock()
        self._producer = AIOKafkaProducer(
            **settings.kafka_client_options(),
            transactional_id=transactional_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            max_request_size=settings.max_message_bytes,
            transaction_timeout_ms=15000,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()
        if self._admin is not None:
            await self._admin.close()
            self._admin = None

    async def settle(self, timeout_s: float = 5.0) -> bool:
        """Wait until the group coordinator hands out the offsets this publisher committed.

        Call it before giving partitions up (a rebalance, a stop), with no batch in flight. A
        transaction's offsets reach OffsetFetch only once the coordinator has written the commit
        markers, which it does after ``commit_transaction`` has returned; a worker that takes the
        partition over in between would read the previous offset and answer the last batch again.
        Kafka closes this with KIP-447's ``require_stable`` on the new owner's OffsetFetch, which
        aiokafka does not send, so the old owner waits instead (one OffsetFetch round trip when the
        markers are already written, as they nearly always are). False, after a warning, when it
        cannot confirm within ``timeout_s``: a rebalance is not held up for longer.
        """
        try:
            async with asyncio.timeout(timeout_s), self._settling:
                # One at a time: a stop drains on a rebalance and on on_before_shutdown at once.
                while self._unsettled:
                    for group_id, wanted in list(self._unsettled.items()):
                        seen = await self._read_offsets(group_id, list(wanted))
                        behind = {tp: o for tp, o in wanted.items() if seen.get(tp, -1) < o}
                        if behind:
                            self._unsettled[group_id] = behind
                        else:
                            self._unsettled.pop(group_id, None)
                    if self._unsettled:
                        await asyncio.sleep(0.02)
            return True
        except (TimeoutError, KafkaError, OSError):
            log.warning("committed offsets not seen at the group coordinator within %.1f s; the "
                        "next owner of %s may answer their last batch again", timeout_s,
                        sorted(f"{tp.topic}[{tp.partition}]"
                               for w in self._unsettled.values() for tp in w), exc_info=True)
            return False

    def _remember(self, group_id: str, offsets: dict[TopicPartition, int]) -> None:
        wanted = self._unsettled.setdefault(group_id, {})
        for tp, offset in offsets.items():
            wanted[tp] = max(wanted.get(tp, 0), offset)

    async def _read_offsets_from_coordinator(
        self, group_id: str, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        if self._admin is None:
            admin = AIOKafkaAdminClient(**self._settings.kafka_client_options())
            try:
                await admin.start()
            except BaseException:
                await admin.close()
                raise
            self._admin = admin
        found = await self._admin.list_consumer_group_offsets(group_id, partitions=partitions)
        return {tp: meta.offset for tp, meta in found.items()}

    async def publish(
        self,
        items: Sequence[tuple[str, str | bytes | None, BaseModel | bytes]],
        offsets: dict[TopicPartition, int],
        group_id: str,
    ) -> None:
        """Send ``items`` (registry topic names) and commit ``offsets`` for ``group_id`` in one
        transaction. Raises :class:`TransientError` if the broker fails mid-way (aborted)."""
        try:
            async with self._producer.transaction():
                futures = []
                for topic, key, value in items:
                    raw_key = key.encode("utf-8") if isinstance(key, str) else key
                    raw_value = value if isinstance(value, bytes) else encode(value)
                    futures.append(
                        await self._producer.send(
                            self._settings.topic(topic), raw_value, key=raw_key
                        )
                    )
                await asyncio.gather(*futures)
                if offsets:
                    await self._producer.send_offsets_to_transaction(offsets, group_id)
        except KafkaError as exc:
            raise TransientError("kafka_transaction", repr(exc)) from exc
        if offsets:
            self._remember(group_id, offsets)


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    """Partitions of any topic, subscribed or not (empty set when the topic does not exist).

    aiokafka's ``partitions_for_topic`` only knows subscribed topics; a full metadata fetch is the
    documented way round it (the client's own ``fetch_all_metadata``).
    """
    metadata = await consumer._client.fetch_all_metadata()
    parts = set(metadata.partitions_for_topic(topic) or set())
    if parts:
        # Track it too: an offsets lookup (beginning/end offsets, offsets for times) of a topic the
        # client does not track finds no leader, asks for a metadata refresh and sleeps the retry
        # backoff (100 ms) before it asks again. Only an existing topic: tracking a missing one
        # could make a broker with auto-creation on create it.
        await consumer._client.add_topic(topic)
    return parts
