"""Prometheus metrics of the enrich worker (served on ``HANGER_METRICS_PORT`` when set)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

REGISTRY = CollectorRegistry(auto_describe=True)

PROCESSED = Counter(
    "hanger_enrich_processed_total", "Submissions answered, by route.", ["route"], registry=REGISTRY
)
ROUTE_REASONS = Counter(
    "hanger_enrich_route_reasons_total", "Reasons submissions went to an MD.", ["reason"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "hanger_dead_letters_total", "Messages dead-lettered, by stage and code.", ["stage", "code"],
    registry=REGISTRY,
)
DEDUPED = Counter(
    "hanger_enrich_deduplicated_total", "Submissions answered from a stored result.", registry=REGISTRY
)
INFERENCE_SECONDS = Histogram(
    "hanger_inference_seconds", "Classification time per submission (all its images).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5), registry=REGISTRY,
)
OCR_SECONDS = Histogram(
    "hanger_ocr_seconds", "Care-label OCR time per image.",
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0), registry=REGISTRY,
)
OCR_TIMEOUTS = Counter(
    "hanger_ocr_timeouts_total", "Images whose OCR hit its time box (partial reading).", registry=REGISTRY
)
BATCH_SECONDS = Histogram(
    "hanger_enrich_batch_seconds",
    "Time of one batch phase: prepare (fetch, classify, OCR) or complete (store, publish, commit); "
    "a worker overlaps the prepare of one batch with the complete of the previous one.",
    ["phase"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0), registry=REGISTRY,
)


def serve(port: int | None) -> None:
    if port is not None:
        start_http_server(port, registry=REGISTRY)
