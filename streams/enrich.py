"""The enrichment stage: one ``ProductSubmitted`` in, one ``ProductEnriched`` (+ maybe an
``ApprovalRequested``) out. Plain async code with its dependencies passed in; the faust agent in
:mod:`streams.app` is only glue around :meth:`Enricher.prepare_batch` and
:meth:`Enricher.complete_batch`.

Delivery: results are stored first (dedupe on ``submission_id`` + model version: the first result
wins), then every output of a batch *and the batch's consumer offsets* are published in one Kafka
transaction. A crash before the commit aborts the transaction; redelivery finds the stored result
and publishes the very same answer. So each submission has exactly one committed enriched event
per model version on the topic, and an MD is asked at most once per submission.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel

from db.repository import EnrichmentStore, MdQuery
from hanger import topics
from hanger.errors import ImageError, InputError
from hanger.events import (
    ApprovalRequested,
    Classification,
    ImageRef,
    ImageRole,
    ModelInfo,
    ProductEnriched,
    ProductSubmitted,
    RouteKind,
    decode,
    utcnow,
)
from hanger.kafka import DeadLetters, Original
from hanger.taxonomy import Taxonomy
from streams import metrics
from streams.attributes import AttributeReaderPort, Findings
from streams.routing import Decision, candidate_categories, decide, route_for

log = logging.getLogger(__name__)

_REQUEST_NAMESPACE = uuid.UUID("0b5c1f7e-2d34-4f5a-9c61-7a8e4d2b9f10")


class Prediction(Protocol):
    @property
    def classification(self) -> Classification: ...

    @property
    def image_problems(self) -> tuple[str, ...]: ...


class ClassifierPort(Protocol):
    """What the stage needs of ``inference.AsyncClassifier`` (a fake in unit tests)."""

    @property
    def model_info(self) -> ModelInfo: ...

    @property
    def auto_approve_threshold(self) -> float: ...

    async def classify_images(self, images: Sequence[bytes]) -> Prediction: ...


class FetcherPort(Protocol):
    async def fetch(self, uri: str) -> bytes: ...


@dataclass(frozen=True)
class Output:
    topic: str
    key: str | bytes | None
    value: BaseModel


@dataclass
class Outcome:
    """What handling one message produced: outputs to publish, approvals to mark after commit."""

    outputs: list[Output] = field(default_factory=list)
    approval_submission: str | None = None


def request_id_for(submission_id: str) -> str:
    return str(uuid.uuid5(_REQUEST_NAMESPACE, submission_id))


@dataclass(frozen=True)
class _Computed:
    """A submission's answer before its MD is looked up (the lookup is one query per batch)."""

    submission: ProductSubmitted
    classification: Classification | None
    decision: Decision
    findings: Findings


@dataclass(frozen=True)
class PreparedBatch:
    """A batch after :meth:`Enricher.prepare_batch`: what :meth:`Enricher.complete_batch` needs."""

    size: int
    dead: dict[int, Output]  # position → its dead letter
    decoded: dict[int, ProductSubmitted]  # position → its submission
    stored: dict[str, ProductEnriched]  # answers found stored, by submission id
    computed: list[ProductEnriched]  # answers computed now, not stored yet


@dataclass
class Enricher:
    classifier: ClassifierPort
    fetcher: FetcherPort
    store: EnrichmentStore
    taxonomy: Taxonomy
    dead_letters: DeadLetters
    threshold: float
    shadow: ClassifierPort | None = None  # a candidate model: recorded for comparison, not routed
    attributes: AttributeReaderPort | None = None  # care-label OCR, screening, keywords
    classify_max_images: int = 4  # garment photos classified per submission, main first

    async def handle(self, original: Original) -> Outcome:
        """Handle one wire message (a batch of one)."""
        return (await self.handle_batch([original]))[0]

    async def handle_batch(self, originals: Sequence[Original]) -> list[Outcome]:
        """Handle a batch of wire messages: one outcome per message, in order. Input errors become
        DLQ outputs; transient errors raise (the caller retries the whole batch). The same
        submission twice in one batch (a quick re-send) is computed once and asks its MD once."""
        return await self.complete_batch(await self.prepare_batch(originals))

    async def prepare_batch(self, originals: Sequence[Original]) -> PreparedBatch:
        """The CPU-heavy half of a batch: decode, look up stored answers, fetch, classify, read
        attributes, find the MDs. Nothing it does is visible downstream (the submission rows it
        records are idempotent), so it may run while the previous batch is still completing."""
        dead: dict[int, Output] = {}
        decoded: dict[int, ProductSubmitted] = {}
        for i, original in enumerate(originals):
            try:
                decoded[i] = decode(ProductSubmitted, original.value)
            except InputError as exc:
                metrics.DEAD_LETTERS.labels("enrich", exc.code).inc()
                dead[i] = Output(topics.DLQ, original.key, self.dead_letters.build(exc, original))
        unique: dict[str, ProductSubmitted] = {}
        for submission in decoded.values():
            unique.setdefault(submission.submission_id, submission)
        stored: dict[str, ProductEnriched] = {}
        computed: list[ProductEnriched] = []
        if unique:
            submissions = list(unique.values())
            await self.store.record_submissions(submissions)
            version = self.classifier.model_info.version
            stored = await self.store.find_results([s.submission_id for s in submissions], version)
            fresh = [s for s in submissions if s.submission_id not in stored]
            metrics.DEDUPED.inc(len(submissions) - len(fresh))
            if fresh:
                computed = await self._finish(await asyncio.gather(
                    *(self._compute(s, self.classifier, self.threshold) for s in fresh)
                ))
                if self.shadow is not None:
                    await self._record_shadow(fresh)
        return PreparedBatch(len(originals), dead, decoded, stored, computed)

    async def complete_batch(self, prepared: PreparedBatch) -> list[Outcome]:
        """The other half: store the computed answers (first result wins, so a concurrent or earlier
        answer of the same submission is the one published), claim the MD requests and assemble
        the outcomes. Safe to repeat after a transient failure."""
        answers, claimed = await self._store_and_claim(prepared)
        outcomes = [Outcome() for _ in range(prepared.size)]
        for i, letter in prepared.dead.items():
            outcomes[i].outputs.append(letter)
        for i, submission in prepared.decoded.items():
            sid = submission.submission_id
            enriched = answers[sid]
            metrics.PROCESSED.labels(enriched.route.kind.value).inc()
            for reason in enriched.route.reasons:
                metrics.ROUTE_REASONS.labels(reason).inc()
            outcome = outcomes[i]
            outcome.outputs.append(Output(topics.ENRICHED, sid, enriched))
            request = claimed.pop(sid, None)  # popped: a second copy in the batch asks no one
            if request is not None:
                outcome.outputs.append(Output(topics.APPROVAL_REQUESTS, request.md_id, request))
                outcome.approval_submission = sid
        return outcomes

    async def _store_and_claim(
        self, prepared: PreparedBatch
    ) -> tuple[dict[str, ProductEnriched], dict[str, ApprovalRequested]]:
        """The stored (or newly stored) answer of each distinct submission, and the MD requests
        that must be published, by submission id: two database round trips at most."""
        answers = dict(prepared.stored)
        if prepared.computed:
            answers.update(await self.store.save_results(prepared.computed))
        requests = [
            self._approval_request(e) for e in answers.values()
            if e.route.kind == RouteKind.NEEDS_MD and e.route.md_id
        ]
        claimed = await self.store.claim_approval_requests(requests) if requests else set()
        return answers, {r.submission_id: r for r in requests if r.submission_id in claimed}

    async def _record_shadow(self, submissions: Sequence[ProductSubmitted]) -> None:
        """Run the shadow model and store its answers (``shadow`` rows) without publishing them."""
        assert self.shadow is not None
        shadow = self.shadow
        done = await self.store.find_results(
            [s.submission_id for s in submissions], shadow.model_info.version)

        async def attempt(submission: ProductSubmitted) -> _Computed | None:
            try:
                return await self._compute(submission, shadow, shadow.auto_approve_threshold,
                                           read_attributes=False)
            except ImageError:
                return None

        computed = await asyncio.gather(
            *(attempt(s) for s in submissions if s.submission_id not in done))
        results = await self._finish([c for c in computed if c is not None])
        if results:
            await self.store.save_results(results, shadow=True)

    async def _compute(
        self, submission: ProductSubmitted, classifier: ClassifierPort, threshold: float,
        *, read_attributes: bool = True,
    ) -> _Computed:
        # Care-label photos tell the notice fields, not the garment type: the classifier sees the
        # other images (main first, at most classify_max_images: a listing with thirty photos must
        # not cost thirty inferences); OCR reads what its stage chooses, beside it in its own
        # thread pool. Only those images are fetched.
        reader = self.attributes if read_attributes else None
        ordered = sorted(submission.images, key=lambda i: (i.role != ImageRole.MAIN, i.order))
        garment_refs = [i for i in ordered if i.role != ImageRole.LABEL][:self.classify_max_images]
        ocr_refs = reader.choose(ordered) if reader is not None else []
        wanted = {id(i) for i in (*garment_refs, *ocr_refs)}
        fetched, problems = await self._fetch_images([i for i in ordered if id(i) in wanted])
        for_garment = {id(i) for i in garment_refs}
        garment = [data for ref, data in fetched if id(ref) in for_garment]
        reading = (asyncio.create_task(reader.read(submission, fetched))
                   if reader is not None else None)
        classification: Classification | None = None
        try:
            if garment:
                try:
                    with metrics.INFERENCE_SECONDS.time():
                        prediction = await classifier.classify_images(garment)
                    classification = prediction.classification
                    problems += list(prediction.image_problems)
                except ImageError as exc:
                    problems.append(f"all_images: {exc.code}")
            findings = await reading if reading is not None else Findings()
        finally:
            if reading is not None and not reading.done():
                reading.cancel()
        decision = decide(
            submission, classification, taxonomy=self.taxonomy, threshold=threshold,
            image_problems=tuple(problems),
            prohibited_text=tuple(dict.fromkeys(f.word for f in findings.prohibited)),
            prohibited_found=findings.prohibited,
            attribute_mismatches=findings.mismatches,
        )
        return _Computed(submission, classification, decision, findings)

    async def _finish(self, computed: Sequence[_Computed]) -> list[ProductEnriched]:
        """Look up the responsible MDs of those needing one (one query) and build the events."""
        needs_md = [c for c in computed if c.decision.route_kind == RouteKind.NEEDS_MD]
        mds = await self.store.responsible_mds([
            MdQuery(c.submission.portal.value, c.submission.seller_id,
                    tuple(candidate_categories(self.taxonomy, c.submission, c.classification)))
            for c in needs_md
        ]) if needs_md else []
        md_of = {id(c): md for c, md in zip(needs_md, mds, strict=True)}
        now = utcnow()
        return [
            ProductEnriched(
                submission=c.submission,
                classification=c.classification,
                attributes_extracted=c.findings.attributes,
                keywords=c.findings.keywords,
                flags=c.decision.flags,
                route=route_for(c.decision, md_of.get(id(c))),
                enriched_at=now,
            )
            for c in computed
        ]

    async def _fetch_images(
        self, ordered: Sequence[ImageRef]
    ) -> tuple[list[tuple[ImageRef, bytes]], list[str]]:
        """The images, in the order given; a bad image is a problem, not a failure."""
        results = await asyncio.gather(
            *(self.fetcher.fetch(img.uri) for img in ordered), return_exceptions=True
        )
        images: list[tuple[ImageRef, bytes]] = []
        problems: list[str] = []
        for img, result in zip(ordered, results, strict=True):
            if isinstance(result, ImageError):
                problems.append(f"image[{img.order}]: {result.code}")
            elif isinstance(result, BaseException):
                raise result  # transient: let the caller retry the whole message
            else:
                images.append((img, result))
        return images, problems

    def _approval_request(self, enriched: ProductEnriched) -> ApprovalRequested:
        s = enriched.submission
        assert enriched.route.md_id is not None
        return ApprovalRequested(
            request_id=request_id_for(s.submission_id),
            submission_id=s.submission_id,
            portal=s.portal,
            seller_id=s.seller_id,
            md_id=enriched.route.md_id,
            reasons=enriched.route.reasons,
            title=s.title,
            image_uris=tuple(i.uri for i in s.images),
            declared_category=s.declared_category,
            predicted=enriched.classification,
            attributes_extracted=enriched.attributes_extracted,
            requested_at=enriched.enriched_at,
        )
