"""The registrar worker (``hanger worker registrar``): MD decisions and auto-approvals become
product rows in PostgreSQL, and each registration is announced as ``ProductRegistered``.

Inputs: ``hanger.approvals.decisions`` (``ApprovalDecided``) and ``hanger.enriched``
(``ProductEnriched``; only ``route.kind == auto_approved`` is acted on).
Output: ``hanger.registered`` (``ProductRegistered``, key submission_id); the adapters' bridge turns
it into each portal's native registration result.

Delivery: exactly once. Each message is handled in one database transaction (product + audit rows
+ decision record + ``registration`` dedupe row); then the announcement and the message's offset
are committed in one Kafka transaction (:func:`hanger.kafka.run_transactional`), and the row is
marked published after that. A crash anywhere before the Kafka commit makes Kafka redeliver the
message; the database transaction finds the stored registration and, if it was never marked
published, publishes that same stored ``ProductRegistered``. So nothing is registered twice,
nothing is lost, and no announcement repeats (a replay of an already-announced decision stays
quiet thanks to the published mark). Rejections (reject / request_change → ``ProductRejected`` on
``hanger.rejected``) carry the same guarantee through ``approval_decision.announced_at``.
Conflicting decisions: the first final outcome wins (rules in :mod:`db.approvals`).
Bad decisions (unknown submission, not the MD's request, override without a known category,
reject without reason …) are input errors: dead-lettered with their code, never retried.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from aiokafka import ConsumerRecord

from db.approvals import (
    REGISTERING_DECISIONS,
    PgRegistrationUnitOfWork,
    Verdict,
    check_authority,
    check_decision,
    draft_product,
    final_outcome_of,
    resolve_conflict,
)
from db.repository import TRANSIENT_DB_ERRORS, create_pool
from hanger import topics
from hanger.errors import ConfigError, TransientError
from hanger.events import (
    ApprovalDecided,
    ProductEnriched,
    ProductRegistered,
    ProductRejected,
    RouteKind,
    decode,
)
from hanger.kafka import Collector, DeadLetters, run_transactional
from hanger.settings import Settings
from hanger.taxonomy import Taxonomy, load_taxonomy

log = logging.getLogger(__name__)

STAGE = "registrar"

UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[PgRegistrationUnitOfWork]]


@dataclass
class Registrar:
    """Turns one decision or auto-approval into at most one registration (no Kafka in here)."""

    unit_of_work: UnitOfWorkFactory
    taxonomy: Taxonomy

    async def on_decision(
        self, decision: ApprovalDecided
    ) -> ProductRegistered | ProductRejected | None:
        """Apply an MD's decision; returns the event to publish (after commit), if any.

        Raises :class:`db.approvals.InvalidDecision` for decisions that can never apply.
        """
        check_decision(decision, self.taxonomy)
        sid = decision.submission_id
        async with self.unit_of_work() as uow:
            await uow.lock(sid)
            registered = await uow.products.registration(sid)
            seen = await uow.decisions.seen(decision.decision_id)
            request = await uow.requests.get(sid)
            if not seen:
                check_authority(
                    decision,
                    submission_known=await uow.submissions.get(sid) is not None,
                    request=request,
                    md_active=await uow.mds.is_active(decision.md_id),
                )
            verdict = resolve_conflict(
                seen_before=seen,
                final_outcome=final_outcome_of(request, registered.event.decided_by
                                               if registered else None),
            )
            if verdict == Verdict.DUPLICATE:
                if (registered is not None and registered.decision_id == decision.decision_id
                        and not registered.published):
                    log.info("duplicate decision: publishing its unpublished registration",
                             extra={"decision_id": decision.decision_id, "submission_id": sid})
                    return registered.event
                if await uow.decisions.unannounced_rejection(decision.decision_id):
                    log.info("duplicate decision: announcing its unannounced rejection",
                             extra={"decision_id": decision.decision_id, "submission_id": sid})
                    return await self._rejected(uow, decision)
                log.info("duplicate decision: already handled",
                         extra={"decision_id": decision.decision_id, "submission_id": sid})
                return None
            await uow.decisions.record(decision, verdict)
            if verdict == Verdict.IGNORE:
                log.warning(
                    "decision ignored: the submission already has a final outcome",
                    extra={"decision_id": decision.decision_id, "submission_id": sid,
                           "md_id": decision.md_id, "decision": decision.decision.value},
                )
                return None
            await uow.requests.close(decision)
            if decision.decision not in REGISTERING_DECISIONS:
                await uow.products.audit_decision(decision)
                return await self._rejected(uow, decision)
            submission = await uow.submissions.get(sid)
            assert submission is not None  # check_authority saw it in this transaction
            draft = draft_product(submission, await uow.submissions.routed_result(sid), decision,
                                  self.taxonomy)
            return await uow.products.register(draft)

    @staticmethod
    async def _rejected(uow: PgRegistrationUnitOfWork, decision: ApprovalDecided) -> ProductRejected:
        """The portal's answer to a reject / request_change (the same event however often built)."""
        submission = await uow.submissions.get(decision.submission_id)
        assert submission is not None  # check_authority saw it when the decision was recorded
        return ProductRejected(
            submission_id=decision.submission_id, decision=decision.decision,
            reason=decision.reason or "", md_id=decision.md_id, decided_at=decision.decided_at,
            submission=submission,
        )

    async def on_enriched(self, enriched: ProductEnriched) -> ProductRegistered | None:
        """Register an auto-approved product; other routes are the MDs' business."""
        if enriched.route.kind != RouteKind.AUTO_APPROVED:
            return None
        sid = enriched.submission_id
        async with self.unit_of_work() as uow:
            await uow.lock(sid)
            registered = await uow.products.registration(sid)
            if registered is not None:  # redelivery or replay
                return None if registered.published else registered.event
            final = final_outcome_of(await uow.requests.get(sid), None)
            if final is not None:
                log.warning("auto-approval ignored: an MD already decided the submission",
                            extra={"submission_id": sid, "outcome": final})
                return None
            await uow.submissions.add_if_missing(enriched.submission)
            draft = draft_product(enriched.submission, enriched, None, self.taxonomy)
            return await uow.products.register(draft)

    async def mark_published(self, event: ProductRegistered | ProductRejected) -> None:
        """Call after the broker acknowledged ``event``; a later redelivery then stays quiet."""
        try:
            async with self.unit_of_work() as uow:
                if isinstance(event, ProductRejected):
                    await uow.decisions.mark_announced(event.submission_id)
                else:
                    await uow.products.mark_published(event.submission_id)
        except TRANSIENT_DB_ERRORS as exc:
            raise TransientError("db_unavailable", f"{type(exc).__name__}: {exc}") from exc

    async def handle(
        self, topic: str, raw: bytes
    ) -> ProductRegistered | ProductRejected | None:
        """One wire message from ``topic`` (a registry name). Input errors raise
        :class:`hanger.errors.InputError`; database outages raise :class:`TransientError`."""
        try:
            if topic == topics.APPROVAL_DECISIONS:
                return await self.on_decision(decode(ApprovalDecided, raw))
            if topic == topics.ENRICHED:
                return await self.on_enriched(decode(ProductEnriched, raw))
        except TRANSIENT_DB_ERRORS as exc:
            raise TransientError("db_unavailable", f"{type(exc).__name__}: {exc}") from exc
        raise ValueError(f"registrar does not consume {topic}")


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (or forever); see the module docstring for the guarantees."""
    pool = await create_pool(settings)
    if not await pool.fetchval("SELECT to_regclass('registration') IS NOT NULL"):
        await pool.close()
        raise ConfigError("schema_outdated",
                          "the registration tables are missing: run `hanger db migrate` first")
    registrar = Registrar(lambda: PgRegistrationUnitOfWork(pool), load_taxonomy())
    by_real_name = {settings.topic(t): t for t in (topics.APPROVAL_DECISIONS, topics.ENRICHED)}
    try:
        async def handle(record: ConsumerRecord[bytes, bytes], sink: Collector,
                         dead_letters: DeadLetters) -> None:
            outcome = await registrar.handle(by_real_name[record.topic], record.value or b"")
            if outcome is None:
                return
            # A rejection tells the portal (bridge → legacy.<portal>.registered); a registration
            # announces the product. Either goes out in the transaction that commits the message's
            # offset, and is marked announced after that commit.
            topic = topics.REJECTED if isinstance(outcome, ProductRejected) else topics.REGISTERED
            if any(t == topic and k == outcome.submission_id and v == outcome for t, k, v in sink.items):
                return  # the same decision twice in one batch: announced once (marked after commit)
            await sink.send(topic, outcome.submission_id, outcome)
            sink.after_commit(functools.partial(registrar.mark_published, outcome))
            if isinstance(outcome, ProductRegistered):
                log.info("registered", extra={"submission_id": outcome.submission_id,
                                              "product_id": outcome.product_id})

        await run_transactional(settings, STAGE, list(by_real_name.values()), handle, stage=STAGE,
                                stop=stop)
    finally:
        await pool.close()
