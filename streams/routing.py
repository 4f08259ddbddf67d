"""Routing decisions, as plain functions: compare the model with the seller, decide who looks.

A submission is ``auto_approved`` only when the calibrated confidence reaches the model card's
≥ 99 %-precision threshold *and* the prediction agrees with the seller's own category (same leaf,
or the seller declared the parent). A threshold of 1 approves nothing: it is what training writes
when no confidence reaches 99 % precision, and a float32 confidence of exactly 1.0 is a rounded,
saturated softmax, not certainty. Everything else goes to an MD with the reasons spelled out, so
an MD sees why it is on their queue.
"""

from __future__ import annotations

from dataclasses import dataclass

from hanger.events import Classification, Flags, ProductSubmitted, Route, RouteKind, TextFinding
from hanger.taxonomy import Taxonomy


@dataclass(frozen=True)
class Decision:
    flags: Flags
    route_kind: RouteKind
    reasons: tuple[str, ...]


def agrees(taxonomy: Taxonomy, predicted: str, declared: str | None) -> bool:
    """The seller's category agrees when it is the predicted leaf or one of its ancestors."""
    if declared is None:
        return False
    node_id: str | None = predicted
    while node_id is not None:
        if node_id == declared:
            return True
        node_id = taxonomy.nodes[node_id].parent if node_id in taxonomy.nodes else None
    return False


def decide(
    submission: ProductSubmitted,
    classification: Classification | None,
    *,
    taxonomy: Taxonomy,
    threshold: float,
    image_problems: tuple[str, ...] = (),
    prohibited_text: tuple[str, ...] = (),
    prohibited_found: tuple[TextFinding, ...] = (),
    attribute_mismatches: tuple[str, ...] = (),
) -> Decision:
    declared = submission.declared_category.taxonomy_id
    unmapped = declared is None
    reasons: list[str] = []
    if classification is None:
        reasons.append("no_usable_image")
        mismatch, low = False, False
    else:
        mismatch = not unmapped and not agrees(taxonomy, classification.taxonomy_id, declared)
        low = threshold >= 1.0 or classification.confidence < threshold
        if low:
            reasons.append("low_confidence")
        if mismatch:
            reasons.append("category_mismatch")
    if unmapped:
        reasons.append("unmapped_declared_category")
    if image_problems:
        reasons.append("image_problems")
    if prohibited_text:
        reasons.append("prohibited_text")
    if attribute_mismatches:
        reasons.append("attribute_mismatch")
    flags = Flags(
        category_mismatch=mismatch,
        low_confidence=low,
        unmapped_declared_category=unmapped,
        prohibited_text=prohibited_text,
        prohibited_found=prohibited_found,
        attribute_mismatches=attribute_mismatches,
        image_problems=image_problems,
    )
    kind = RouteKind.NEEDS_MD if reasons else RouteKind.AUTO_APPROVED
    return Decision(flags, kind, tuple(reasons))


def candidate_categories(
    taxonomy: Taxonomy, submission: ProductSubmitted, classification: Classification | None
) -> list[str]:
    """Taxonomy ids to look up the responsible MD with, most specific first: the seller's declared
    category (the MD who owns what the seller says it is reviews the disagreement), then the
    prediction, then their parents."""
    ids: list[str] = []
    for tid in (
        submission.declared_category.taxonomy_id,
        classification.taxonomy_id if classification else None,
    ):
        if tid and tid in taxonomy.nodes and tid not in ids:
            ids.append(tid)
    for tid in list(ids):
        parent = taxonomy.nodes[tid].parent
        if parent and parent not in ids:
            ids.append(parent)
    return ids


def route_for(decision: Decision, md_id: str | None) -> Route:
    if decision.route_kind == RouteKind.AUTO_APPROVED:
        return Route(kind=RouteKind.AUTO_APPROVED)
    return Route(kind=RouteKind.NEEDS_MD, md_id=md_id, reasons=decision.reasons)
