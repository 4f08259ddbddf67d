"""Bounded-time fuzzing of every adapter's parser (hypothesis): arbitrary bytes, mutated real
payloads and structurally valid JSON with hostile values never crash an adapter. Each input ends as
accepted events or issues with codes, plus a portal-native answer — the "answered and kept" rule.
The budget is fixed (examples and a deadline per example), so CI time stays bounded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.common.pipeline import IngestReport, ingest
from adapters.registry import adapter_for
from hanger.events import Portal
from tests.unit.adapters.adapter_helpers import FIXTURES, ctx

FUZZ = settings(max_examples=400, deadline=2000, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])

JSON_FIXTURES = {
    Portal.TMON: FIXTURES / "tmon" / "deal.json",
    Portal.WEMAKEPRICE: FIXTURES / "wemakeprice" / "set_product.json",
    Portal.COUPANG_WINGS: FIXTURES / "coupang_wings" / "seller_product.json",
}

hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["=cmd|' /C calc'!A0", "=HYPERLINK(\"http://x\")", "\x00\x1b[31m", "‮rtl",
                     "A" * 5000, "../../etc/passwd", "javascript:alert(1)", "http://127.0.0.1/"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=20,
)


def check_answered(report: IngestReport) -> None:
    assert isinstance(report.answer, bytes) and report.answer  # the portal always gets an answer
    for outcome in report.outcomes:
        assert outcome.event is None or not any(i.is_error for i in outcome.issues)
        for issue in outcome.issues:
            assert issue.code and issue.message
    for issue in report.issues:
        assert issue.code and issue.message


@pytest.mark.parametrize("portal", list(Portal))
@FUZZ
@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes_never_crash(portal: Portal, data: bytes) -> None:
    check_answered(ingest(adapter_for(portal), data, "fuzz", ctx("S-1")))


@pytest.mark.parametrize("portal", list(JSON_FIXTURES))
@FUZZ
@given(data=st.data())
def test_mutated_real_payloads_never_crash(portal: Portal, data: st.DataObject) -> None:
    body: dict[str, Any] = json.loads(JSON_FIXTURES[portal].read_text(encoding="utf-8"))
    for _ in range(data.draw(st.integers(1, 4))):
        path = data.draw(st.sampled_from(sorted(_paths(body))))
        _set(body, path, data.draw(json_values))
    raw = json.dumps(body, ensure_ascii=False).encode(data.draw(st.sampled_from(["utf-8", "utf-16"])))
    check_answered(ingest(adapter_for(portal), raw, "fuzz", ctx("S-1")))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> set[tuple[Any, ...]]:
    out: set[tuple[Any, ...]] = set()
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        out.add((*prefix, key))
        out |= _paths(value, (*prefix, key))
    return out


def _set(node: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
