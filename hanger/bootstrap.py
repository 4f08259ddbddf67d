"""The composition root: the one place that builds real dependencies from settings and wires them.

Entry points (CLI commands, the faust agent, tests) call these factories; nothing else constructs
pools, producers or models, and nothing here runs at import time.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hanger.errors import ConfigError
from hanger.settings import Settings
from streams.app import EnrichRuntime

if TYPE_CHECKING:
    from inference.async_classifier import AsyncClassifier
    from streams.attributes import AttributeStage


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


def load_attribute_stage(settings: Settings) -> AttributeStage:
    """The care-label OCR stage (inference.ocr), with its own thread pool."""
    from inference.ocr import LabelReader
    from inference.ocr.screening import parse_word_list
    from streams.attributes import AttributeStage

    words = None
    if settings.ocr_prohibited_words_path is not None:
        try:
            words = parse_word_list(settings.ocr_prohibited_words_path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError("bad_config", f"prohibited word list {settings.ocr_prohibited_words_path}: "
                              f"{exc.strerror or exc}") from exc
    reader = LabelReader(timeout_s=settings.ocr_timeout_s, prohibited_words=words)
    roles = [r.strip() for r in settings.ocr_roles.split(",") if r.strip()]
    return AttributeStage(reader, roles=roles, workers=settings.ocr_workers,
                          max_images=settings.ocr_max_images)


async def build_enrich_runtime(settings: Settings, *, group_id: str) -> EnrichRuntime:
    from db.repository import PgEnrichmentStore, create_pool
    from hanger.kafka import DeadLetters, TransactionalPublisher, with_retries
    from hanger.taxonomy import load_taxonomy
    from streams import metrics
    from streams.enrich import Enricher
    from streams.fetch import ImageFetcher

    metrics.serve(settings.metrics_port)
    # A worker (re)started while PostgreSQL restarts waits for it, with the batches' backoff.
    pool = await with_retries(settings, "connect to PostgreSQL", lambda: create_pool(settings))
    fetcher = ImageFetcher(settings)
    classifier = load_classifier(settings)
    shadow = load_classifier(settings, settings.shadow_model_path) if settings.shadow_model_path else None
    threshold = settings.auto_approve_threshold
    if threshold is None:
        threshold = classifier.auto_approve_threshold
    attributes = load_attribute_stage(settings) if settings.ocr_enabled else None
    enricher = Enricher(
        classifier=classifier,
        fetcher=fetcher,
        store=PgEnrichmentStore(pool),
        taxonomy=load_taxonomy(),
        dead_letters=DeadLetters(None, stage="enrich"),
        threshold=threshold,
        shadow=shadow,
        attributes=attributes,
        classify_max_images=settings.classify_max_images,
    )
    publisher = TransactionalPublisher(
        settings, transactional_id=f"{settings.group('enrich')}.{settings.worker_id}"
    )
    await publisher.start()

    async def close_classifier() -> None:
        classifier.close()
        if shadow is not None:
            shadow.close()
        if attributes is not None:
            attributes.close()

    return EnrichRuntime(
        settings=settings,
        enricher=enricher,
        publisher=publisher,
        group_id=group_id,
        closers=[pool.close, fetcher.close, close_classifier],
    )
