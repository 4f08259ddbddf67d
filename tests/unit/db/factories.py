"""Builders for the approval/registration tests (no I/O): enriched events and MD decisions."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from hanger.events import (
    ApprovalDecided,
    DecisionKind,
    DeclaredAttributes,
    ExtractedValue,
    Flags,
    ProductEnriched,
    ProductSubmitted,
    Route,
    RouteKind,
)
from tests.unit.factories import classification, submission

DECIDED_AT = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)


def enriched(
    product_id: str = "P-1",
    *,
    predicted: str | None = "T101",
    confidence: float = 0.62,
    md_id: str | None = "MD-1",
    declared: str | None = "T101",
    attributes: DeclaredAttributes | None = None,
    extracted: dict[str, ExtractedValue] | None = None,
    **submission_extra: Any,
) -> ProductEnriched:
    """An enriched submission; ``md_id`` None means auto-approved."""
    sub: ProductSubmitted = submission(
        product_id, declared=declared, attributes=attributes or DeclaredAttributes(),
        **submission_extra,
    )
    route = (Route(kind=RouteKind.AUTO_APPROVED) if md_id is None
             else Route(kind=RouteKind.NEEDS_MD, md_id=md_id, reasons=("low_confidence",)))
    return ProductEnriched(
        submission=sub,
        classification=classification(predicted, confidence) if predicted else None,
        attributes_extracted=extracted or {},
        flags=Flags(low_confidence=md_id is not None),
        route=route,
        enriched_at=dt.datetime(2026, 11, 25, 9, 5, tzinfo=dt.UTC),
    )


def decision(
    submission_id: str,
    kind: DecisionKind | str = DecisionKind.APPROVE,
    *,
    md_id: str = "MD-1",
    decision_id: str | None = None,
    **fields: Any,
) -> ApprovalDecided:
    return ApprovalDecided(
        decision_id=decision_id or str(uuid.uuid4()),
        submission_id=submission_id,
        md_id=md_id,
        decision=DecisionKind(kind),
        decided_at=DECIDED_AT,
        **fields,
    )
