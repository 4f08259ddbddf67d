"""From what a portal's translation read to the canonical ``ProductSubmitted``, the same for every
portal: each ``to_canonical`` checks its native product, reads a :class:`Draft` out of it, and
:func:`submitted` (or :func:`body_to_canonical` for the JSON portals) does the rest — revision,
submission id, declared category, attributes and one validation of the whole event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from adapters.common.categories import declare
from adapters.common.issues import Issue, error, has_errors
from adapters.common.notices import declared_attributes
from adapters.common.pipeline import Context, Native, content_revision
from hanger.events import (
    DeclaredAttributes,
    DeclaredCategory,
    ImageRef,
    ImageRole,
    NonEmpty,
    Portal,
    ProductSubmitted,
    submission_id_for,
)


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
    fields: dict[str, Any] = {
        "submission_id": submission_id_for(portal, draft.product_id, revision),
        "portal": portal,
        "seller_id": str(draft.seller_id if draft.seller_id is not None else ctx.seller_id),
        "portal_product_id": draft.product_id,
        "revision": revision,
        "submitted_at": ctx.received_at,
        "title": draft.title,
        "declared_category": declare(portal, None if code is None else str(code),
                                     draft.category_path),
        "images": [{"uri": uri, "role": role, "order": order}
                   for order, (uri, role) in enumerate(draft.images.items())],
        "attributes": declared_attributes(draft.notice, draft.options),
        "native": native,
    }
    event = constructed(fields)
    if event is not None:
        return event
    try:
        # Nested parts go in as plain data: the whole event is validated in one pass.
        return ProductSubmitted(**fields)
    except ValidationError as exc:
        return [error("invalid_product", f"{'.'.join(map(str, e['loc']))}: {e['msg']}",
                      ".".join(map(str, e["loc"])), row) for e in exc.errors()]


_TEXT_LIMIT = NonEmpty.__metadata__[0].max_length  # type: ignore[attr-defined]
# Every field of ProductSubmitted and ImageRef, and what :func:`constructed` requires of it
# (tests/unit/adapters/test_event_construction.py fails when the events gain or lose a field).
CONSTRUCTED_FIELDS = {
    "submission_id": "str (uuid5 text)",
    "portal": "a Portal member",
    "seller_id": "non-empty str up to the NonEmpty limit",
    "portal_product_id": "non-empty str up to the NonEmpty limit",
    "revision": "int >= 0",
    "submitted_at": "a datetime",
    "title": "non-empty str up to the NonEmpty limit",
    "declared_category": "a DeclaredCategory (validated when it was made)",
    "images": "at least one ImageRef: uri a non-empty str up to the limit, role an ImageRole, "
              "order an int >= 0",
    "attributes": "a DeclaredAttributes (validated when it was made)",
    "native": "a dict with str keys (copied, as validation copies it)",
}


def constructed(fields: dict[str, Any]) -> ProductSubmitted | None:
    """The event for ``fields`` built without a second validation pass, or None when any value is
    not already exactly what its field accepts (then ``ProductSubmitted(**fields)`` validates and
    names the problem). Every check here is the field's own constraint, so this builds only events
    that validation would build the same — validating the event costs more than the rest of
    building it, and a valid product (the common case) passed the spec check already."""
    texts = (fields["seller_id"], fields["portal_product_id"], fields["title"])
    images = fields["images"]
    native = fields["native"]
    revision = fields["revision"]
    if not (all(type(text) is str and 0 < len(text) <= _TEXT_LIMIT for text in texts)
            and type(fields["submission_id"]) is str
            and type(fields["portal"]) is Portal
            and type(revision) is int and revision >= 0
            and type(fields["submitted_at"]) is dt.datetime
            and type(fields["declared_category"]) is DeclaredCategory
            and type(fields["attributes"]) is DeclaredAttributes
            and type(native) is dict and all(type(key) is str for key in native)
            and images
            and all(type(i["uri"]) is str and 0 < len(i["uri"]) <= _TEXT_LIMIT
                    and type(i["role"]) is ImageRole and type(i["order"]) is int
                    and i["order"] >= 0 for i in images)):
        return None
    return ProductSubmitted.model_construct(
        **{**fields, "native": dict(native),
           "images": tuple(ImageRef.model_construct(**image) for image in images)})


def body_to_canonical(
    portal: Portal,
    native: Native,
    ctx: Context,
    check: Callable[[dict[str, Any]], list[Issue]],
    read: Callable[[dict[str, Any]], Draft],
    seller_by_transport: str | None = None,
) -> ProductSubmitted | list[Issue]:
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
    return submitted(portal, read(body), ctx, native, body)
