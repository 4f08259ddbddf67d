"""What an enriched or registered event means for the portal's answer, portal-independently.

Each portal's ``from_canonical`` asks :func:`return_info` which category to write (only when the
product is auto-approved or registered — a product waiting for an MD keeps the seller's category
and gets our suggestion in the message), which notice values we fill (extracted values, only into
cells the seller left empty) and which status to report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from adapters.common.categories import replacement_code, taxonomy_label
from adapters.common.notices import ATTRIBUTE_FIELDS
from adapters.common.pipeline import Native, copy_native
from hanger.events import (
    DecisionKind,
    Portal,
    ProductRegistered,
    ProductRejected,
    ResultEvent,
    RouteKind,
)

Status = Literal["classified", "needs_md", "unclassified", "registered", "rejected"]

STATUS_KO: dict[str, str] = {
    "classified": "분류완료",
    "needs_md": "MD검토중",
    "unclassified": "분류불가",
    "registered": "등록완료",
    "rejected": "반려",
}


@dataclass(frozen=True)
class ReturnInfo:
    stage: Literal["enriched", "registered"]
    status: Status
    taxonomy_id: str | None  # the category to write; None keeps the seller's
    message: str
    fill: dict[str, str] = field(default_factory=dict)  # attribute field → value for empty slots
    product_id: int | None = None

    @property
    def status_ko(self) -> str:
        return STATUS_KO[self.status]


def return_info(event: ResultEvent) -> ReturnInfo:
    if isinstance(event, ProductRejected):
        word = "반려" if event.decision is DecisionKind.REJECT else "수정요청"
        return ReturnInfo("registered", "rejected", None,
                          f"{word}: {event.reason} (MD {event.md_id})")
    if isinstance(event, ProductRegistered):
        return ReturnInfo("registered", "registered", event.taxonomy_id,
                          f"등록완료: {taxonomy_label(event.taxonomy_id)} "
                          f"(상품번호 {event.product_id}, 승인 {event.decided_by})",
                          product_id=event.product_id)
    fill = {
        name: value.value
        for name, value in event.attributes_extracted.items()
        if name in ATTRIBUTE_FIELDS and value.value.strip()
    }
    cls = event.classification
    if cls is None:
        reasons = "; ".join(event.route.reasons) or "이미지를 분류할 수 없습니다"
        return ReturnInfo("enriched", "unclassified", None, f"분류불가: {reasons}", fill)
    label = f"{taxonomy_label(cls.taxonomy_id)} (신뢰도 {cls.confidence:.1%})"
    if event.route.kind is RouteKind.AUTO_APPROVED:
        return ReturnInfo("enriched", "classified", cls.taxonomy_id, f"분류완료: {label}", fill)
    reasons = "; ".join(event.route.reasons)
    return ReturnInfo("enriched", "needs_md", None,
                      f"MD검토중: 추천 {label}" + (f" — {reasons}" if reasons else ""), fill)


def final_taxonomy(event: ResultEvent) -> str | None:
    """The category the product ends up with as far as we know (for choosing the notice kind)."""
    if isinstance(event, ProductRegistered):
        return event.taxonomy_id
    if isinstance(event, ProductRejected):
        return event.submission.declared_category.taxonomy_id
    if event.classification is not None:
        return event.classification.taxonomy_id
    return event.submission.declared_category.taxonomy_id


def answer_body(portal: Portal, event: ResultEvent, original: Native,
                category_field: str) -> tuple[ReturnInfo, dict[str, Any]]:
    """What ``event`` means for the portal, and a copy of the body as sent with our category code
    in ``category_field`` (a top-level number) when we own one: how the ``from_canonical`` of
    Coupang's Open API and TMON start."""
    info = return_info(event)
    body: dict[str, Any] = copy_native(original["body"])
    code = replacement_code(portal, body.get(category_field), info.taxonomy_id)
    if code:
        body[category_field] = int(code)
    return info, body
