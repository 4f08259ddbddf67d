"""``adapters.common.canonical.constructed`` builds ``ProductSubmitted`` without validating it
again, so it must never build an event that validation would refuse or build differently: on any
mix of valid and invalid field values it either returns exactly what ``ProductSubmitted(**fields)``
returns, or None (and validation then decides). And it must cover every field of the events, so a
field added to ``ProductSubmitted`` or ``ImageRef`` fails here until ``constructed`` checks it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from adapters.common.canonical import CONSTRUCTED_FIELDS, constructed
from adapters.common.categories import declare
from adapters.common.notices import declared_attributes
from adapters.common.pipeline import ingest
from adapters.registry import adapter_for
from hanger.events import (
    DeclaredAttributes,
    DeclaredCategory,
    ImageRef,
    ImageRole,
    Portal,
    ProductSubmitted,
)
from tests.unit.adapters.adapter_helpers import FIXTURES, ctx

WHEN = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def test_every_event_field_is_checked() -> None:
    assert set(CONSTRUCTED_FIELDS) == set(ProductSubmitted.model_fields) - {"schema_version"}
    assert set(ImageRef.model_fields) == {"uri", "role", "order"}
    assert ProductSubmitted.model_fields["schema_version"].default == 1


def texts(limit: int = 1000) -> st.SearchStrategy[Any]:
    return st.one_of(st.text(max_size=5), st.sampled_from(["", " ", "x" * limit, "x" * (limit + 1),
                                                           "가" * limit]),
                     st.integers(), st.none())


IMAGE: dict[str, Any] = {"uri": "https://img.example.com/a.jpg", "role": ImageRole.MAIN,
                         "order": 0}
image_alternatives = st.fixed_dictionaries({
    "uri": texts(),
    "role": st.sampled_from([ImageRole.MAIN, ImageRole.DETAIL, "main", "label", "other", 1]),
    "order": st.one_of(st.integers(min_value=-2, max_value=3), st.just(True), st.just("1"),
                       st.just(1.0)),
})
# A valid image with one of its fields (or none) replaced.
image = st.tuples(image_alternatives, st.sets(st.sampled_from(sorted(IMAGE)), max_size=1)).map(
    lambda pair: {**IMAGE, **{name: pair[0][name] for name in pair[1]}})
images = st.lists(image, max_size=3)
VALID: dict[str, Any] = {
    "submission_id": "0b1e6a1c-0000-5000-8000-000000000000", "portal": Portal.TMON,
    "seller_id": "S-1", "portal_product_id": "P-1", "revision": 7, "submitted_at": WHEN,
    "title": "니트", "declared_category": declare(Portal.TMON, "46010200", None),
    "images": [{"uri": "https://img.example.com/a.jpg", "role": ImageRole.MAIN, "order": 0}],
    "attributes": DeclaredAttributes(), "native": {"format": "tmon.deal", "body": {}},
}
alternatives = st.fixed_dictionaries({
    "submission_id": st.one_of(st.just("0b1e6a1c-0000-5000-8000-000000000000"), st.integers()),
    "portal": st.sampled_from([Portal.TMON, Portal.COUPANG_WINGS, "tmon", "nope"]),
    "seller_id": texts(),
    "portal_product_id": texts(),
    "revision": st.one_of(st.integers(min_value=-1, max_value=2**31), st.just("5"), st.just(True)),
    "submitted_at": st.sampled_from([WHEN, WHEN.replace(tzinfo=None), "2026-11-25T09:00:00Z",
                                     dt.date(2026, 11, 25), 0]),
    "title": texts(),
    "declared_category": st.sampled_from([
        declare(Portal.TMON, "46010200", None), DeclaredCategory(portal_code=""),
        {"portal_code": "1"}, None]),
    "images": images,
    "attributes": st.sampled_from([
        declared_attributes([("제품 소재", "면 100%"), ("제조연월", "2026.3")]),
        DeclaredAttributes(), {"material": "면"}, {"manufactured": "2026-13"}, None]),
    "native": st.sampled_from([{"format": "tmon.deal", "body": {"a": [1]}}, {}, {1: "x"},
                               [("a", 1)], None]),
})
# A valid event's fields with a few of them (or none) replaced by any of their alternatives.
fields = st.tuples(alternatives, st.sets(st.sampled_from(sorted(VALID)), max_size=3)).map(
    lambda pair: {**VALID, **{name: pair[0][name] for name in pair[1]}})


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(fields)
def test_constructed_is_validation_or_nothing(values: dict[str, Any]) -> None:
    event = constructed(values)
    try:
        validated = ProductSubmitted(**values)
    except ValidationError:
        assert event is None
        return
    if event is not None:
        assert event == validated
        assert event.model_dump() == validated.model_dump()
        assert event.model_fields_set == validated.model_fields_set
        assert event.model_dump_json() == validated.model_dump_json()
        assert event.native is not values["native"]  # a copy, as validation makes


@pytest.mark.parametrize(("portal", "name"), [
    (Portal.TMON, "tmon/deal.json"), (Portal.WEMAKEPRICE, "wemakeprice/set_product.json"),
    (Portal.COUPANG_WINGS, "coupang_wings/seller_product.json"),
])
def test_real_products_are_constructed(portal: Portal, name: str) -> None:
    report = ingest(adapter_for(portal), (FIXTURES / name).read_bytes(), name, ctx())
    event = report.accepted[0].event
    assert event is not None
    again = ProductSubmitted.model_validate(event.model_dump())
    assert again == event and again.model_dump_json() == event.model_dump_json()


ONE_BAD_VALUE: list[tuple[str, Any]] = [
    ("submission_id", 1), ("portal", "tmon"), ("portal", "nope"), ("seller_id", ""),
    ("seller_id", "x" * 1001), ("seller_id", 5), ("portal_product_id", ""),
    ("portal_product_id", "가" * 1001), ("title", ""), ("title", None), ("revision", -1),
    ("revision", "5"), ("revision", True), ("submitted_at", "2026-11-25T09:00:00Z"),
    ("submitted_at", dt.date(2026, 11, 25)), ("declared_category", {"portal_code": "1"}),
    ("attributes", {"material": "면"}), ("attributes", {"manufactured": "2026-13"}),
    ("native", {1: "x"}), ("native", [("a", 1)]), ("native", None), ("images", []),
    *[("images", [{**IMAGE, key: value}]) for key, value in [
        ("uri", ""), ("uri", "x" * 1001), ("uri", None), ("role", "main"), ("role", "other"),
        ("order", -1), ("order", True), ("order", "1"), ("order", 1.0)]],
    ("images", [IMAGE, {**IMAGE, "order": -1}]),
]


@pytest.mark.parametrize(("name", "value"), ONE_BAD_VALUE)
def test_one_value_that_is_not_exactly_its_type_is_left_to_validation(name: str,
                                                                      value: Any) -> None:
    assert constructed({**VALID, name: value}) is None


def test_the_valid_fields_are_constructed() -> None:
    event = constructed(VALID)
    assert event is not None and event == ProductSubmitted(**VALID)
