"""The compiled spec check (:mod:`adapters.common.compiled`) is only a shortcut: whenever it says a
payload is clean, the full spec walk must find no issue — on real payloads, on payloads with values
mutated anywhere, and on the rules one by one. And it must say clean on the real fixtures, or the
shortcut would never be taken."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.common.compiled import CompiledSpec
from adapters.common.validate import FieldSpec, Kind, validate
from adapters.coupang_wings import native as coupang
from adapters.tmon import native as tmon
from adapters.wemakeprice import native as wemakeprice
from tests.unit.adapters.adapter_helpers import FIXTURES
from tests.unit.adapters.test_fuzz_parsers import _paths, _set, json_values

SPECS: dict[str, tuple[FieldSpec, ...]] = {
    "tmon/deal.json": tmon.DEAL_SPEC,
    "tmon/deals_batch.json": tmon.DEAL_SPEC,
    "wemakeprice/set_product.json": wemakeprice.PRODUCT_SPEC,
    "wemakeprice/set_product_batch.json": wemakeprice.PRODUCT_SPEC,
    "coupang_wings/seller_product.json": coupang.PRODUCT_SPEC,
}
COMPILED = {id(spec): CompiledSpec(spec) for spec in SPECS.values()}


def _bodies(name: str) -> list[dict[str, Any]]:
    document = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return document if isinstance(document, list) else [document]


@pytest.mark.parametrize("name", sorted(SPECS))
def test_agrees_on_the_fixtures(name: str) -> None:
    spec = SPECS[name]
    for body in _bodies(name):
        assert COMPILED[id(spec)].is_clean(body) == (validate(body, spec) == [])
        assert COMPILED[id(spec)].validate(body) == validate(body, spec)


def test_the_valid_fixtures_take_the_shortcut() -> None:
    assert all(COMPILED[id(SPECS[name])].is_clean(_bodies(name)[0]) for name in SPECS)


mutation_values = st.one_of(
    json_values,
    st.sampled_from(["", None, 0, -1, 10**12, True, 1.5, "x" * 61, "2026-13-01T00:00:00",
                     "2026-01-01T00:00:00\n", "１２３４５", "https://a b", "file:///x/../y", [],
                     {}, ["https://img.example.com/a.jpg"] * 3, "DP01", "Y", "N"]),
)


@pytest.mark.parametrize("name", sorted({n for n in SPECS if "batch" not in n}))
@settings(max_examples=400, deadline=2000, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_clean_means_no_issue_on_mutated_payloads(name: str, data: st.DataObject) -> None:
    spec = SPECS[name]
    body = _bodies(name)[0]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(sorted(_paths(body), key=repr)))
        _set(body, path, copy.deepcopy(data.draw(mutation_values)))  # sampled values are shared
    if COMPILED[id(spec)].is_clean(body):
        assert validate(body, spec) == []


@pytest.mark.parametrize("spec, value", [
    (FieldSpec("a", Kind.STR, True, max_len=3), "abcd"),
    (FieldSpec("a", Kind.STR, True), ""),
    (FieldSpec("a", Kind.STR, min_len=2), "a"),
    (FieldSpec("a", Kind.STR, pattern=r"\d{2}"), "123"),
    (FieldSpec("a", Kind.STR, pattern=r"\d{2}"), "12\n"),
    (FieldSpec("a", Kind.STR, choices=("Y", "N")), "y"),
    (FieldSpec("a", Kind.INT, minimum=1), 0),
    (FieldSpec("a", Kind.INT, maximum=9), 10),
    (FieldSpec("a", Kind.INT), True),
    (FieldSpec("a", Kind.INT), 1.0),
    (FieldSpec("a", Kind.INT), "1"),
    (FieldSpec("a", Kind.NUMBER, maximum=1), 1.5),
    (FieldSpec("a", Kind.BOOL), 1),
    (FieldSpec("a", Kind.LIST, max_len=1), [1, 2]),
    (FieldSpec("a", Kind.OBJECT), []),
    (FieldSpec("a", Kind.IMAGE), "javascript:alert(1)"),
    (FieldSpec("a", Kind.IMAGE), "https://user:pw@host/a.jpg"),
    (FieldSpec("a", Kind.IMAGE, max_len=10), "https://host/abcdef.jpg"),
    (FieldSpec("a", Kind.STR_OR_INT, max_len=2), "abc"),
    (FieldSpec("a", Kind.STR_OR_INT, True), ""),
])
def test_each_rule_is_enforced(spec: FieldSpec, value: Any) -> None:
    compiled = CompiledSpec((spec,))
    assert validate({"a": value}, (spec,)) != []
    assert not compiled.is_clean({"a": value})
    assert compiled.validate({"a": value}) == validate({"a": value}, (spec,))


def test_optional_values_may_be_absent_null_or_empty() -> None:
    specs = (FieldSpec("a", Kind.INT, minimum=1), FieldSpec("b", Kind.OBJECT),
             FieldSpec("b.c", Kind.STR, True), FieldSpec("d[]", Kind.STR, True, max_len=2))
    compiled = CompiledSpec(specs)
    for body in ({}, {"a": None, "b": None, "d": None}, {"a": "", "b": "", "d": ""},
                 {"b": {"c": "x"}, "d": ["ab"]}):
        assert compiled.is_clean(body) and validate(body, specs) == []
    assert not compiled.is_clean({"b": {}}) and validate({"b": {}}, specs) != []
    assert not compiled.is_clean({"d": ["abc"]}) and validate({"d": ["abc"]}, specs) != []


@pytest.mark.parametrize("spec", [
    FieldSpec("a", Kind.STR, pattern=r"\d{2}"), FieldSpec("a", Kind.STR, min_len=2),
    FieldSpec("a", Kind.STR, choices=("Y", "N")), FieldSpec("a", Kind.INT, minimum=1),
    FieldSpec("a", Kind.NUMBER, minimum=1), FieldSpec("a", Kind.BOOL),
    FieldSpec("a", Kind.IMAGE), FieldSpec("a", Kind.STR_OR_INT, choices=(1, "x")),
    FieldSpec("a", Kind.LIST, min_len=1), FieldSpec("a", Kind.OBJECT),
])
def test_an_optional_value_is_tried_before_the_empty_string(spec: FieldSpec) -> None:
    """The union of an optional value tries its own schema first, then "": both orders accept
    the same values, so "" and null stay clean and a wrong value stays refused."""
    compiled = CompiledSpec((spec,))
    for value in ("", None):
        assert compiled.is_clean({"a": value}) and validate({"a": value}, (spec,)) == []
    for value in ("zz", 0, [], {}, "javascript:x", 1.5, True):
        if validate({"a": value}, (spec,)) != []:
            assert not compiled.is_clean({"a": value})
