"""The revision hash feeds every ``submission_id``, so :func:`canonical_json` (orjson where it is
provably the same) must give exactly the bytes of the ``json.dumps`` settings it replaced, on any
JSON value: non-ASCII and astral text, control characters, lone surrogates, every kind of float
(tiny, huge, negative zero, infinities and NaN), integers beyond 64 bits, deep nesting, keys
that sort differently by UTF-16 than by code point — and on the non-JSON types ``default=str``
used to turn into text."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import decimal
import enum
import hashlib
import json
import math
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.common.pipeline import canonical_json, content_revision


def reference(content: Any) -> bytes:
    """What every submission id so far was made from."""
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      default=str).encode("utf-8")


def reference_revision(content: Any) -> int:
    return int(hashlib.sha256(reference(content)).hexdigest()[:8], 16) & 0x7FFF_FFFF


def same_as_reference(content: Any) -> None:
    try:
        expected = reference(content)
    except Exception as exc:  # what json.dumps raised, canonical_json must raise too
        with pytest.raises(type(exc)):
            canonical_json(content)
        return
    assert canonical_json(content) == expected
    assert content_revision(content) == reference_revision(content)


any_text = st.text(st.characters(codec=None, categories=None), max_size=12)  # incl. surrogates
korean = st.text(st.sampled_from("가나다한글옷치마 -·%/\"\\\n\t\x00\x1f\x7f\u2028\U0001F600"), max_size=8)
keys = st.one_of(any_text, korean, st.sampled_from(["a", "B", "é", "\uffff", "\U00010000",
                                                    "\ue000", "", "e-1", "0.0000"]))
numbers = st.one_of(
    st.integers(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(), st.floats(min_value=-1e-3, max_value=1e-3), st.floats(width=32),
    st.sampled_from([0.0, -0.0, 1e-4, 9.999e-5, 1e-5, 1e-7, 1e-9, 1e-10, 5e-324, 1e16, 1e22,
                     math.inf, -math.inf, math.nan, 2**63, 2**64 - 1, 2**64, -(2**63) - 1]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, any_text, korean)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.tuples(inner, inner)
    | st.dictionaries(keys, inner, max_size=5),
    max_leaves=40,
)


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(json_values)
def test_same_bytes_as_json_dumps_on_any_json_value(content: Any) -> None:
    same_as_reference(content)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.lists(st.dictionaries(keys, scalars, max_size=8), max_size=6))
def test_same_bytes_on_workbook_shaped_content(content: list[dict[str, Any]]) -> None:
    same_as_reference(content)


class Colour(enum.StrEnum):
    RED = "red"


class Size(enum.IntEnum):
    S = 1


class Text(str):
    pass


class Number(int):
    pass


class Real(float):
    pass


class Mapping_(dict):  # type: ignore[type-arg]
    pass


class Items(list):  # type: ignore[type-arg]
    pass


@dataclasses.dataclass
class Point:
    x: int


Pair = collections.namedtuple("Pair", "a b")


@pytest.mark.parametrize("value", [
    Colour.RED, Size.S, Text("t"), Number(3), Real(1.5), Mapping_(a=1), Items([1]), Point(1),
    Pair(1, 2), dt.datetime(2026, 11, 25, 9, 30), dt.date(2026, 11, 25), dt.time(9, 30),
    uuid.UUID(int=7), decimal.Decimal("1.10"), b"bytes", {1: "int key"}, {"b": 1, 2: "mixed"},
    "\ud800", {"\udfff": 1}, [float("1e999")], 10**400, object,
])
def test_same_bytes_on_what_json_dumps_sent_to_default_or_refused(value: Any) -> None:
    same_as_reference({"value": value, "other": [1, 2.5, None]})


def test_real_products_take_the_fast_path_and_keep_their_ids() -> None:
    from tests.unit.adapters.adapter_helpers import FIXTURES

    for name in ("tmon/deal.json", "wemakeprice/set_product.json",
                 "coupang_wings/seller_product.json"):
        body = json.loads((FIXTURES / name).read_text("utf-8"))
        assert canonical_json(body) == reference(body)
