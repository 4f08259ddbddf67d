"""``submitted`` validates the event in one pass with its declared category and attributes as
plain data (:func:`declared_category_values`, :func:`declared_attribute_values`) instead of
building those models first: the event must be the one the models gave — equal, the same nested
models with the same fields set — on arbitrary notices, option axes and category codes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.common.categories import declared_category_values
from adapters.common.notices import CLOTHING_ITEMS, PLACEHOLDER, declared_attribute_values
from hanger.events import DeclaredAttributes, DeclaredCategory, Portal, ProductSubmitted

names = st.one_of(st.sampled_from([name for name, _ in CLOTHING_ITEMS]),
                  st.sampled_from(["제조 연월", "색 상", "기타", "사이즈", ""]), st.text(max_size=8))
values = st.one_of(st.none(), st.text(max_size=12), st.integers(), st.floats(allow_nan=False),
                   st.sampled_from(["2026년 10월", "2026-1", "202613", PLACEHOLDER, " ", "x" * 1200]))
notices = st.lists(st.tuples(names, values), max_size=12)
options = st.dictionaries(st.sampled_from(["색상", "컬러", "사이즈", "size", "소재", " 치수 "]),
                          st.lists(st.text(max_size=6), max_size=4), max_size=3)
codes = st.one_of(st.none(), st.sampled_from(["46010200", "69181", " 69181 ", "", "0"]),
                  st.text(max_size=6))


def _event(category: Any, attributes: Any) -> ProductSubmitted:
    return ProductSubmitted(
        submission_id="s", portal=Portal.TMON, seller_id="S", portal_product_id="P", revision=1,
        submitted_at=dt.datetime(2026, 12, 2, tzinfo=dt.UTC), title="t",
        declared_category=category, images=[{"uri": "https://a/b.jpg", "role": "main", "order": 0}],
        attributes=attributes, native={"body": {}})


@settings(max_examples=600, deadline=None, derandomize=True)
@given(notices, options, st.sampled_from(list(Portal)), codes, st.one_of(st.none(), st.text(max_size=8)))
def test_plain_data_gives_the_same_event(notice: list[tuple[str, Any]],
                                         axes: dict[str, list[str]], portal: Portal,
                                         code: str | None, path: str | None) -> None:
    as_models = _event(DeclaredCategory(**declared_category_values(portal, code, path)),
                       DeclaredAttributes(**declared_attribute_values(notice, axes)))
    as_data = _event(declared_category_values(portal, code, path),
                     declared_attribute_values(notice, axes))
    assert as_data == as_models
    for part in ("declared_category", "attributes"):
        ours, theirs = getattr(as_data, part), getattr(as_models, part)
        assert type(ours) is type(theirs)
        assert ours.model_fields_set == theirs.model_fields_set
    assert isinstance(as_data.attributes, DeclaredAttributes)
    assert isinstance(as_data.declared_category, DeclaredCategory)
    assert as_data.model_dump_json() == as_models.model_dump_json()
