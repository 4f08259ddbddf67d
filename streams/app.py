"""The faust application: agents are glue; the work is in :class:`streams.enrich.Enricher`.

The enrich agent takes up to ``max_in_flight`` submissions at a time and handles them concurrently
(CPU work runs in the classifier's thread pool, never on the event loop), then publishes the batch's
outputs and offsets in one Kafka transaction. While one batch is being stored and published, the
next one is prepared (fetched and classified): at most two batches are in flight, which bounds
memory (the backpressure: faust stops fetching while both are busy) and keeps the inference
threads busy through the database and transaction round trips.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import faust
from aiokafka import TopicPartition
from faust.types import TP

from hanger import topics
from hanger.errors import TransientError
from hanger.kafka import Original, TransactionalPublisher, with_retries
from hanger.settings import Settings
from streams.enrich import Enricher, Outcome, PreparedBatch

log = logging.getLogger(__name__)

T = TypeVar("T")

ENRICH_WORKER = "enrich"


def broker_urls(settings: Settings) -> list[str]:
    return [f"kafka://{server.strip()}" for server in settings.kafka_bootstrap.split(",")]


def create_app(settings: Settings) -> EnrichApp:
    """The faust app for the enrich worker; no connections are made until it starts."""
    options: dict[str, Any] = {}
    client = settings.kafka_client_options()
    ssl_context = client.get("ssl_context")
    assert ssl_context is None or isinstance(ssl_context, ssl.SSLContext)
    if settings.kafka_sasl_mechanism:
        options["broker_credentials"] = faust.SASLCredentials(
            username=settings.kafka_sasl_username or "",
            password=(
                settings.kafka_sasl_password.get_secret_value()
                if settings.kafka_sasl_password else ""
            ),
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=ssl_context,
        )
    elif ssl_context is not None:
        options["broker_credentials"] = faust.SSLCredentials(ssl_context)
    # A rebalance must not hand a partition to another worker while this one still has a batch of
    # it in flight (the new owner would start from the last committed offset and answer the batch a
    # second time). The gate counts the batches in flight; every revocation drains it first.
    gate = BatchGate()
    app = EnrichApp(
        gate,
        settings.group(ENRICH_WORKER),
        broker=broker_urls(settings),
        store="memory://",
        web_enabled=False,
        topic_disable_leader=True,
        topic_allow_declare=False,  # topics are pre-created by `hanger topics create`
        consumer_auto_offset_reset="earliest",
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        broker_session_timeout=settings.kafka_session_timeout_s,
        broker_heartbeat_interval=settings.kafka_session_timeout_s / 5,
        stream_buffer_maxsize=settings.max_in_flight * 4,
        datadir=str(settings.state_dir / "faust"),
        **options,
    )
    # acks=False: faust never commits offsets of this topic itself. Offsets are committed only
    # inside the Kafka transaction that publishes a batch's outputs (EnrichRuntime), so neither a
    # crash, a shutdown mid-batch nor a rebalance can commit past an unanswered submission.
    submissions = app.topic(
        settings.topic(topics.SUBMISSIONS), value_type=bytes, key_type=bytes,
        value_serializer="raw", key_serializer="raw", acks=False,
    )

    # faust awaits this signal before the consumer rejoins the group, so draining the gate here
    # finishes (commits or fails) every in-flight batch first, and admits no new one. (A rebalance
    # that comes while the worker is stopping skips this signal: EnrichApp drains the gate then.)
    async def finish_in_flight_batches(sender: Any, *args: Any, **kwargs: Any) -> None:
        await gate.drain()

    # A graceful stop (SIGTERM, a scale-down) must do the same before the consumer leaves the group,
    # and then admit nothing: faust sends this signal after pausing the partitions and before it
    # stops the agents and the consumer.
    async def finish_in_flight_batches_for_good(sender: Any, *args: Any, **kwargs: Any) -> None:
        await gate.drain(reopen=False)

    app.on_partitions_revoked.connect(finish_in_flight_batches)  # type: ignore[arg-type]
    app.on_before_shutdown.connect(finish_in_flight_batches_for_good)  # type: ignore[arg-type]
    # After a rebalance faust seeks every partition back to its committed offset, so records this
    # worker already took (a batch assembled just before the rebalance) arrive a second time.
    taken = OffsetGuard()

    @app.agent(submissions, name="enrich")
    async def enrich(stream: Any) -> None:  # faust.Stream: take_events is not on StreamT
        await exit_on_escape(lambda: _enrich(stream))

    async def _enrich(stream: Any) -> None:
        from hanger.bootstrap import build_enrich_runtime

        runtime = await build_enrich_runtime(settings, group_id=app.conf.id)
        gate.settle = runtime.publisher.settle
        # Two batches overlap: while batch N is stored and published (database and Kafka round
        # trips, a transaction commit: the inference threads would idle), batch N+1 is fetched
        # and classified. Completions stay strictly in order, one transaction at a time.
        completing: asyncio.Task[None] | None = None
        try:
            async for batch in stream.take_events(settings.max_in_flight, within=0.05):
                if not await gate.admit():
                    break  # shutting down: what was taken stays uncommitted for the next owner
                # Events taken just before a rebalance may belong to partitions this worker no
                # longer owns: leave them to their new owner (nothing of them is committed).
                owned = app.consumer.assignment()
                records = taken.admit([
                    Original(
                        value=event.message.value or b"",
                        key=event.message.key,
                        topic=event.message.topic,
                        partition=event.message.partition,
                        offset=event.message.offset,
                    )
                    for event in batch
                    if event.message.tp in owned
                ])
                if not records:
                    continue
                gate.enter()
                try:
                    prepared = await runtime.prepare(records)
                    if completing is not None:
                        await completing
                except BaseException:
                    gate.leave()
                    raise
                completing = asyncio.create_task(_complete(runtime, gate, records, prepared))
        finally:
            if completing is not None:
                await asyncio.wait({completing}, timeout=settings.batch_timeout_s)
                completing.cancel()
            await runtime.stop()

    return app


class EnrichApp(faust.App):
    """The faust app, with two changes to how a rebalance during a graceful stop is handled: it
    waits for the batches in flight, as every other rebalance does, and it leaves the consumer to
    faust's stop (which leaves the group) instead of closing it on the spot.

    faust skips the ``on_partitions_revoked`` signal once the app is stopping
    (``App._on_partitions_revoked`` returns at once when ``should_stop``), so the consumer rejoined
    the group while the last batch was still being published: the new owner of its partitions read
    the old committed offset and answered that batch a second time (the ``remove_worker`` fault
    test: 4 submissions answered twice in 3 of 7 runs; 0 of 30 with this). In the failing runs the
    rebalance began 120-270 ms after SIGTERM, while the last batch was still being published.
    aiokafka awaits this method before it rejoins, so draining here closes the window; the drain
    also runs on ``on_before_shutdown`` for a stop without a rebalance.
    """

    def __init__(self, gate: BatchGate, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = gate

    async def _on_partitions_revoked(self, revoked: set[TP]) -> None:
        if self.should_stop:
            await self.gate.drain(reopen=False)
        await super()._on_partitions_revoked(revoked)

    def _on_rebalance_when_stopped(self) -> None:
        """faust closes the consumer's client here, which drops the connection before the group
        coordinator hears a LeaveGroup: the stopping member stayed in the group, holding the
        partitions the rebalance had just given it, until its session timed out (measured: one
        partition idle 15-42 s after a scale-down). Doing nothing lets the rebalance finish and
        faust's own stop a moment later send LeaveGroup (measured: within 0.3 s of SIGTERM; the
        survivor owns every partition 3-4 s after it, one heartbeat interval)."""


async def _complete(runtime: EnrichRuntime, gate: BatchGate, records: list[Original],
                    prepared: PreparedBatch) -> None:
    try:
        await runtime.complete(records, prepared)
    finally:
        gate.leave()


class BatchGate:
    """Counts the batches between being taken and being committed. A rebalance drains it: it waits
    until no batch is in flight (and their offsets are visible to the next owner) and, meanwhile,
    admits no new one."""

    def __init__(self) -> None:
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._open = asyncio.Event()
        self._open.set()
        self._closed = False
        # Run once no batch is in flight, before the partitions are given up: waits until the
        # coordinator hands out the offsets just committed (TransactionalPublisher.settle).
        self.settle: Callable[[], Awaitable[object]] | None = None

    def enter(self) -> None:
        self._in_flight += 1
        self._idle.clear()

    def leave(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()

    async def admit(self) -> bool:
        """Wait while a drain is in progress; False once the gate is closed for good."""
        await self._open.wait()
        return not self._closed

    async def drain(self, *, reopen: bool = True) -> None:
        """Wait until no batch is in flight; then reopen, or close for good (shutdown)."""
        self._open.clear()
        try:
            await self._idle.wait()
            if self.settle is not None:
                await self.settle()
        finally:
            self._closed = self._closed or not reopen
            self._open.set()


class OffsetGuard:
    """Admits each record of a partition once per process: a record at an offset below the next
    one already taken from its partition is a second delivery and is dropped.

    Safe to keep across rebalances: every record taken is either committed before a revocation
    completes (the gate drains) or this process fail-stops. A partition that comes back after
    another worker owned it resumes at that worker's committed offset, which is never below ours.
    """

    def __init__(self) -> None:
        self._next: dict[tuple[str | None, int | None], int] = {}

    def admit(self, records: list[Original]) -> list[Original]:
        fresh = []
        for record in records:
            tp = (record.topic, record.partition)
            assert record.offset is not None
            if record.offset < self._next.get(tp, 0):
                continue
            self._next[tp] = record.offset + 1
            fresh.append(record)
        if len(fresh) < len(records):
            log.info("dropped %d records delivered again after a rebalance",
                     len(records) - len(fresh))
        return fresh


async def fail_stop(
    what: str, body: Callable[[], Awaitable[T]], exit: Callable[[int], NoReturn] = os._exit
) -> T:
    """Run ``body``; if anything but a stop escapes it, exit the process for its supervisor to
    restart, which resumes at the committed offsets: 75 when retries ran out (try again later),
    70 for anything else (a bug or an unclassified failure: stopping is what keeps later batches
    from committing past this one, so "nothing lost" holds for errors nobody foresaw)."""
    try:
        return await body()  # a stop cancels it: CancelledError is a BaseException, never caught
    except TransientError:
        log.critical("%s: retries exhausted; exiting for a restart", what, exc_info=True)
        exit(75)
    except Exception:
        log.critical("%s failed; exiting for a restart", what, exc_info=True)
        exit(70)


async def exit_on_escape(
    body: Callable[[], Awaitable[None]], exit: Callable[[int], NoReturn] = os._exit
) -> None:
    """Run the agent's body under :func:`fail_stop`.

    faust would log the crash and restart the agent in the same process, every few seconds, for
    good: a worker that cannot start (PostgreSQL or the broker unreachable past the retries) looked
    alive to its supervisor and never took a record; and one that crashed mid-stream would resume
    after records it had taken but not committed, which a later batch's offsets then skip (lost)."""
    await fail_stop("the enrich agent", body, exit)


def _hung(seconds: float) -> None:
    log.critical("a batch attempt hung for %.0f s; exiting for a restart", seconds)
    os._exit(75)


@dataclass
class EnrichRuntime:
    settings: Settings
    enricher: Enricher
    publisher: TransactionalPublisher
    group_id: str
    closers: list[Any]

    async def prepare(self, records: list[Original]) -> PreparedBatch:
        """Fetch, classify and read the batch (retried with backoff; fail-stop when retries run out)."""
        return await self._fail_stop(
            "prepare", lambda: self._guarded(lambda: self.enricher.prepare_batch(records)))

    async def complete(self, records: list[Original], prepared: PreparedBatch) -> None:
        """Store the answers, then publish the outputs and the batch's offsets in one transaction."""
        await self._fail_stop(
            "complete", lambda: self._guarded(lambda: self._complete_once(records, prepared)))

    async def _fail_stop(self, phase: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """A batch phase with retries; when they run out (or on anything unforeseen), exit without
        committing: a restart resumes at this batch."""
        from streams import metrics

        what = f"enrich batch ({phase})"

        async def timed() -> T:
            with metrics.BATCH_SECONDS.labels(phase).time():
                return await with_retries(self.settings, what, attempt)

        return await fail_stop(what, timed)

    async def _guarded(self, step: Callable[[], Awaitable[T]]) -> T:
        """One attempt of a batch phase, time-boxed; database failures become transient."""
        from db.repository import TRANSIENT_DB_ERRORS

        # The watchdog is a thread: it fires even if a library swallows the cancellation of the
        # timeout below or the event loop is stuck. Fail-stop then, so the supervisor restarts us
        # at this batch (nothing of it is committed), instead of hanging for good.
        grace = self.settings.batch_timeout_s * 1.25 + 1
        watchdog = threading.Timer(grace, _hung, args=(grace,))
        watchdog.daemon = True
        watchdog.start()
        try:
            async with asyncio.timeout(self.settings.batch_timeout_s):
                return await step()
        except TimeoutError as exc:
            await self._reset_store()
            raise TransientError("batch_timeout", f"no answer in {self.settings.batch_timeout_s}s") from exc
        except TRANSIENT_DB_ERRORS as exc:
            # Connections that saw the failure may be half-open: replace them all.
            await self._reset_store()
            raise TransientError("db_unavailable", repr(exc)) from exc
        finally:
            watchdog.cancel()

    async def _reset_store(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                await self.enricher.store.reset()

    async def _complete_once(self, records: list[Original], prepared: PreparedBatch) -> None:
        from db.repository import TRANSIENT_DB_ERRORS

        outcomes: list[Outcome] = await self.enricher.complete_batch(prepared)
        items = [(o.topic, o.key, o.value) for outcome in outcomes for o in outcome.outputs]
        offsets: dict[TopicPartition, int] = {}
        for r in records:
            assert r.topic is not None and r.partition is not None and r.offset is not None
            tp = TopicPartition(r.topic, r.partition)
            offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
        await self.publisher.publish(items, offsets, self.group_id)
        asked = [o.approval_submission for o in outcomes if o.approval_submission]
        try:
            async with asyncio.timeout(10):
                await self.enricher.store.mark_approvals_published(asked)
        except (TimeoutError, *TRANSIENT_DB_ERRORS):  # type: ignore[misc]
            # Already published and committed; the rows stay 'unpublished', which at worst lets a
            # later re-send of this submission ask the MD again (documented trade-off).
            log.warning("could not mark approval requests published", exc_info=True)

    async def stop(self) -> None:
        await self.publisher.stop()
        for close in reversed(self.closers):
            await close()
