"""The composition root: the one place that builds real dependencies from settings and wires them.

Entry points (CLI commands, the faust agent, tests) call these factories; nothing else constructs
pools, producers or models, and nothing here runs at import time.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hanger.settings import Settings
from streams.app import EnrichRuntime

if TYPE_CHECKING:
    from inference.async_classifier import AsyncClassifier


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        stream=sys.stderr,
        format='{"ts":"%(asctime)s","level":"%(levelname)s","logger":"%(name)s","msg":"%(message)s"}',
    )
    # Client libraries narrate every rebalance at INFO; keep their warnings and errors only.
    for noisy in ("aiokafka", "kafka", "faust", "mode"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))


def load_classifier(settings: Settings, model_path: Path | None = None) -> AsyncClassifier:
    """The serving classifier (inference/), wrapped so CPU work stays off the event loop."""
    from inference.async_classifier import AsyncClassifier
    from inference.classifier import Classifier

    classifier = Classifier.load(
        model_path or settings.model_path, intra_op_threads=settings.inference_threads
    )
    return AsyncClassifier(classifier, workers=settings.inference_workers)


async def build_enrich_runtime(settings: Settings, *, group_id: str) -> EnrichRuntime:
    from db.repository import PgEnrichmentStore, create_pool
    from hanger.kafka import DeadLetters, TransactionalPublisher
    from hanger.taxonomy import load_taxonomy
    from streams import metrics
    from streams.enrich import Enricher
    from streams.fetch import ImageFetcher

    metrics.serve(settings.metrics_port)
    pool = await create_pool(settings)
    fetcher = ImageFetcher(settings)
    classifier = load_classifier(settings)
    shadow = load_classifier(settings, settings.shadow_model_path) if settings.shadow_model_path else None
    threshold = settings.auto_approve_threshold
    if threshold is None:
        threshold = classifier.auto_approve_threshold
    enricher = Enricher(
        classifier=classifier,
        fetcher=fetcher,
        store=PgEnrichmentStore(pool),
        taxonomy=load_taxonomy(),
        dead_letters=DeadLetters(None, stage="enrich"),
        threshold=threshold,
        shadow=shadow,
    )
    publisher = TransactionalPublisher(
        settings, transactional_id=f"{settings.group('enrich')}.{settings.worker_id}"
    )
    await publisher.start()

    async def close_classifier() -> None:
        classifier.close()
        if shadow is not None:
            shadow.close()

    return EnrichRuntime(
        settings=settings,
        enricher=enricher,
        publisher=publisher,
        group_id=group_id,
        closers=[pool.close, fetcher.close, close_classifier],
    )
