"""Round-trip law, property-tested: whatever the portal sent (including fields and columns we do
not know) comes back unchanged; only owned fields differ."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.common.pipeline import ingest
from adapters.coupang_wings import io as wings_io
from adapters.coupang_wings.template import build_workbook
from adapters.registry import adapter_for
from tests.unit.adapters.adapter_helpers import (
    FIXTURES,
    ctx,
    diff_paths,
    enriched,
    only_owned,
    registered,
    workbook_dump,
)
from tests.unit.adapters.test_golden import OWNED

LEAVES = ["T101", "T102", "T103", "T105", "T201", "T203", "T301", "T401", "T601", "T701"]
FIELDS = ["material", "color", "size", "manufacturer", "country", "care", "manufactured",
          "quality_assurance", "after_service"]
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=30)
json_values = st.recursive(st.none() | st.booleans() | st.integers(-10**12, 10**12) | text,
                           lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(text, inner, max_size=3), max_leaves=8)
unknown = st.dictionaries(text.map(lambda s: "x_" + s), json_values, max_size=4)
extracted = st.dictionaries(st.sampled_from(FIELDS), text.filter(str.strip), max_size=4)

JSON_CASES = [("coupang_wings", "coupang_wings/seller_product.json", "items"),
              ("tmon", "tmon/deal.json", "dealOptions"),
              ("wemakeprice", "wemakeprice/set_product.json", "noticeList")]


def _result_body(fmt: str, result: dict[str, Any]) -> Any:
    if fmt == "coupang_wings.seller_product":
        return result["data"]
    if fmt == "tmon.deal":
        return result.get("deal", result)
    return result["data"]["product"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(JSON_CASES), top=unknown, nested=unknown,
       tid=st.sampled_from(LEAVES), fill=extracted, auto=st.booleans(),
       drop_notices=st.booleans(), title=text.filter(lambda s: s.strip()))
def test_json_round_trip_law(case: tuple[str, str, str], top: dict[str, Any],
                             nested: dict[str, Any], tid: str, fill: dict[str, str],
                             auto: bool, drop_notices: bool, title: str) -> None:
    portal, fixture, list_key = case
    body = json.loads((FIXTURES / fixture).read_text("utf-8"))
    body.update(top)
    if isinstance(body.get(list_key), list) and body[list_key]:
        body[list_key][0].update(nested)
    if drop_notices:
        body.pop({"coupang_wings": "x", "tmon": "productInfos",
                  "wemakeprice": "noticeList"}[portal], None)
    if portal == "tmon":
        body["title"] = title[:60]
    sent = copy.deepcopy(body)
    adapter = adapter_for(portal)
    report = ingest(adapter, json.dumps(body, ensure_ascii=False).encode(), "p.json", ctx("S-1"))
    assert len(report.accepted) == 1, [i.describe() for o in report.outcomes for i in o.issues]
    sub = report.accepted[0].event
    assert sub is not None
    assert sub.native["body"] == sent  # lossless
    for event in (enriched(sub, tid, auto=auto, extracted=fill), registered(sub, tid)):
        result = adapter.from_canonical(event, sub.native)
        fmt = sub.native["format"]
        out = _result_body(fmt, result)
        assert only_owned(diff_paths(sent, out), OWNED[fmt]) == set()
        json.loads(adapter.encode_result(result, sub.native))
    assert sub.native["body"] == sent  # from_canonical never mutates the original


OTHER_COLUMNS = ["검색어", "모델번호", "주문 추가메시지", "구비서류값1", "상태설명", "구비서류값7"]
sheet_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
cell_text = st.one_of(sheet_text, st.sampled_from(["=HYPERLINK(\"http://e.x\",\"a\")", "=cmd|' /C calc'!A0",
                                             "+1+2", "@SUM(A1)", "-", "- 면 100%"]))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(st.dictionaries(st.sampled_from(OTHER_COLUMNS), cell_text, max_size=4),
                       min_size=1, max_size=3),
       tid=st.sampled_from(LEAVES), fill=extracted)
def test_workbook_round_trip_law(values: list[dict[str, str]], tid: str,
                                 fill: dict[str, str]) -> None:
    rows = []
    for i, extra in enumerate(values):
        rows.append({"카테고리": "[69181] 티셔츠", "등록상품명": "티셔츠", "브랜드": "b", "제조사": "m",
                     "판매가격": 10000, "할인율기준가": 10000, "재고수량": 1, "출고리드타임": 1,
                     "대표(옵션)이미지": "https://img.example.com/a.jpg", "상세 설명": "설명",
                     "업체상품코드": f"SKU-{i}", **extra})
    raw = build_workbook(rows)
    report = ingest(adapter_for("coupang_wings"), raw, "u.xlsx", ctx())
    assert len(report.accepted) == 1
    sub = report.accepted[0].event
    assert sub is not None
    result = adapter_for("coupang_wings").from_canonical(enriched(sub, tid, extracted=fill),
                                                         sub.native)
    returned = wings_io.apply_results(raw, [(sub.native, result)])
    before, after = workbook_dump(raw), workbook_dump(returned)
    assert set(after) == set(before) | {"처리결과"}
    for sheet in ("hidden", "env"):
        assert after[sheet] == before[sheet]
    owned_columns = {0, 88, *range(89, 103)}  # 카테고리, 상품고시정보 카테고리, 값1..14
    for r, (old, new) in enumerate(zip(before["기본"]["rows"], after["기본"]["rows"],
                                        strict=False)):
        for c, value in enumerate(old):
            if r >= 4 and c in owned_columns:
                continue
            assert new[c] == value, (r + 1, c + 1)
        assert new[117:119] == (["처리결과", "처리메시지"] if r == 1 else new[117:119])
    assert before["기본"]["merged"] == after["기본"]["merged"]
