"""Small builders for canonical events in tests (no I/O)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hanger.events import (
    Classification,
    ClassScore,
    DeclaredCategory,
    ImageRef,
    ModelInfo,
    Portal,
    ProductSubmitted,
    submission_id_for,
)

MODEL = ModelInfo(name="test-model", version="t1", sha256="0" * 64)


def submission(
    product_id: str = "P-1",
    *,
    portal: Portal = Portal.TMON,
    declared: str | None = "T101",
    images: tuple[str, ...] = ("file:///img/main.jpg",),
    seller: str = "seller-1",
    **extra: Any,
) -> ProductSubmitted:
    return ProductSubmitted(
        submission_id=submission_id_for(portal, product_id),
        portal=portal,
        seller_id=seller,
        portal_product_id=product_id,
        submitted_at=dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC),
        title="여성 반팔 티셔츠",
        declared_category=DeclaredCategory(portal_code="C-1", taxonomy_id=declared),
        images=tuple(
            ImageRef(uri=uri, role="main" if i == 0 else "detail", order=i)
            for i, uri in enumerate(images)
        ),
        native={"dealNo": product_id, "unknownField": [1, 2, {"x": "y"}]},
        **extra,
    )


def classification(taxonomy_id: str = "T101", confidence: float = 0.99) -> Classification:
    score = ClassScore(taxonomy_id=taxonomy_id, label_en="x", label_ko="x", confidence=confidence)
    return Classification(
        taxonomy_id=taxonomy_id, label_en="x", label_ko="x", confidence=confidence,
        top_k=(score,), model=MODEL,
    )
