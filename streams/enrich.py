"""The enrichment stage: one ``ProductSubmitted`` in, one ``ProductEnriched`` (+ maybe an
``ApprovalRequested``) out. Plain async code with its dependencies passed in; the faust agent in
:mod:`streams.app` is only glue around :meth:`Enricher.handle_batch`.

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

from db.repository import EnrichmentStore
from hanger import topics
from hanger.errors import ImageError, InputError
from hanger.events import (
    ApprovalRequested,
    Classification,
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
from streams.routing import candidate_categories, decide, route_for

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


@dataclass
class Enricher:
    classifier: ClassifierPort
    fetcher: FetcherPort
    store: EnrichmentStore
    taxonomy: Taxonomy
    dead_letters: DeadLetters
    threshold: float
    shadow: ClassifierPort | None = None  # a candidate model: recorded for comparison, not routed

    async def handle(self, original: Original) -> Outcome:
        """Handle one wire message. Input errors become a DLQ output; transient errors raise."""
        try:
            submission = decode(ProductSubmitted, original.value)
            return await self.enrich(submission)
        except InputError as exc:
            metrics.DEAD_LETTERS.labels("enrich", exc.code).inc()
            letter = self.dead_letters.build(exc, original)
            return Outcome(outputs=[Output(topics.DLQ, original.key, letter)])

    async def enrich(self, submission: ProductSubmitted) -> Outcome:
        await self.store.record_submission(submission)
        version = self.classifier.model_info.version
        enriched = await self.store.find_result(submission.submission_id, version)
        if enriched is None:
            computed = await self._compute(submission, self.classifier, self.threshold)
            enriched = await self.store.save_result(computed)
            if self.shadow is not None:
                await self._record_shadow(submission)
        else:
            metrics.DEDUPED.inc()
        metrics.PROCESSED.labels(enriched.route.kind.value).inc()
        for reason in enriched.route.reasons:
            metrics.ROUTE_REASONS.labels(reason).inc()
        outcome = Outcome(outputs=[Output(topics.ENRICHED, submission.submission_id, enriched)])
        if enriched.route.kind == RouteKind.NEEDS_MD and enriched.route.md_id:
            request = self._approval_request(enriched)
            if await self.store.claim_approval_request(request):
                outcome.outputs.append(Output(topics.APPROVAL_REQUESTS, request.md_id, request))
                outcome.approval_submission = submission.submission_id
        return outcome

    async def _record_shadow(self, submission: ProductSubmitted) -> None:
        """Run the shadow model and store its answer (``shadow`` rows) without publishing it."""
        assert self.shadow is not None
        if await self.store.find_result(submission.submission_id, self.shadow.model_info.version):
            return
        try:
            result = await self._compute(submission, self.shadow, self.shadow.auto_approve_threshold)
        except ImageError:
            return
        await self.store.save_result(result, shadow=True)

    async def _compute(
        self, submission: ProductSubmitted, classifier: ClassifierPort, threshold: float
    ) -> ProductEnriched:
        images, problems = await self._fetch_images(submission)
        classification: Classification | None = None
        if images:
            try:
                with metrics.INFERENCE_SECONDS.time():
                    prediction = await classifier.classify_images(images)
                classification = prediction.classification
                problems += list(prediction.image_problems)
            except ImageError as exc:
                problems.append(f"all_images: {exc.code}")
        decision = decide(
            submission, classification, taxonomy=self.taxonomy, threshold=threshold,
            image_problems=tuple(problems),
        )
        md_id = None
        if decision.route_kind == RouteKind.NEEDS_MD:
            md_id = await self.store.responsible_md(
                submission.portal.value, submission.seller_id,
                candidate_categories(self.taxonomy, submission, classification),
            )
        return ProductEnriched(
            submission=submission,
            classification=classification,
            flags=decision.flags,
            route=route_for(decision, md_id),
            enriched_at=utcnow(),
        )

    async def _fetch_images(self, submission: ProductSubmitted) -> tuple[list[bytes], list[str]]:
        """Main image first, then the others in order; a bad image is a problem, not a failure."""
        ordered = sorted(submission.images, key=lambda i: (i.role != "main", i.order))
        results = await asyncio.gather(
            *(self.fetcher.fetch(img.uri) for img in ordered), return_exceptions=True
        )
        images, problems = [], []
        for img, result in zip(ordered, results, strict=True):
            if isinstance(result, ImageError):
                problems.append(f"image[{img.order}]: {result.code}")
            elif isinstance(result, BaseException):
                raise result  # transient: let the caller retry the whole message
            else:
                images.append(result)
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
