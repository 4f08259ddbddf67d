"""From what a portal's translation read to the canonical ``ProductSubmitted``, the same for every
portal: each ``to_canonical`` checks its native product, reads a :class:`Draft` out of it, and
:func:`submitted` (or :func:`body_to_canonical` for the JSON portals) does the rest — revision,
submission id, declared category, attributes and one validation of the whole event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from adapters.common.categories import declared_category_values
from adapters.common.issues import Issue, error, has_errors
from adapters.common.notices import declared_attribute_values
from adapters.common.pipeline import Accepted, Context, Native, Translation, content_revision
from hanger.events import ImageRole, Portal, ProductSubmitted, submission_id_for


@dataclass(frozen=True)
class Draft:
    """One valid native product as the portal's translation read it."""

    product_id: str
    title: str
    category_code: object  # as sent (None or "" when not declared)
    images: Mapping[str, ImageRole]  # URI → role, in the portal's order; the first role wins
    notice: list[tuple[str, object]]  # 의류 notice (item name, value) pairs
    options: Mapping[str, list[str]]  # option axis → its values
    category_path: str | None = None
    seller_id: str | None = None  # when the payload names its seller; else the transport does


def submitted(portal: Portal, draft: Draft, ctx: Context, native: Native, content: Any,
              row: int | None = None) -> ProductSubmitted | list[Issue]:
    """The event for ``draft``; ``content`` is what its revision is computed from (the product as
    sent, so the same product re-sent is the same submission)."""
    revision = content_revision(content)
    code = draft.category_code
    try:
        # Nested parts go in as plain data: the whole event is validated in one pass.
        return ProductSubmitted(
            submission_id=submission_id_for(portal, draft.product_id, revision),
            portal=portal,
            seller_id=str(draft.seller_id if draft.seller_id is not None else ctx.seller_id),
            portal_product_id=draft.product_id,
            revision=revision,
            submitted_at=ctx.received_at,
            title=draft.title,
            declared_category=declared_category_values(portal, None if code is None else str(code),
                                                       draft.category_path),
            images=[{"uri": uri, "role": role, "order": order}
                    for order, (uri, role) in enumerate(draft.images.items())],
            attributes=declared_attribute_values(draft.notice, draft.options),
            native=native,
        )
    except ValidationError as exc:
        return [error("invalid_product", f"{'.'.join(map(str, e['loc']))}: {e['msg']}",
                      ".".join(map(str, e["loc"])), row) for e in exc.errors()]


def body_to_canonical(
    portal: Portal,
    native: Native,
    ctx: Context,
    check: Callable[[dict[str, Any]], list[Issue]],
    read: Callable[[dict[str, Any]], Draft],
    seller_by_transport: str | None = None,
) -> Translation:
    """``to_canonical`` of a JSON portal: check the body, read it, build the event.

    ``seller_by_transport`` is set (to the portal's word for its sellers) when the portal names the
    seller by credentials rather than in the body: the id then comes from ``ctx`` and is kept in
    the native envelope for the return trip.
    """
    body: dict[str, Any] = native["body"]
    issues = check(body)
    if seller_by_transport is not None:
        if not ctx.seller_id:
            issues.append(error("missing_seller_id", f"{seller_by_transport} ID가 없습니다: "
                                                     "--seller 또는 Kafka 헤더 seller_id로 지정하세요"))
        native = {**native, "seller_id": ctx.seller_id}
    if has_errors(issues):
        return issues
    event = submitted(portal, read(body), ctx, native, body)
    if isinstance(event, list):
        return [*issues, *event]
    return Accepted(event, tuple(issues)) if issues else event
