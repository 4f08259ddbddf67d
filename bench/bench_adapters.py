"""Adapter throughput: rows/s of parse+translate per portal against the raw read of the same input
in the same run (openpyxl read-only pass for the Wing workbook, ``json.loads`` for JSON), so the
ratio is machine-independent. ``python -m bench.bench_adapters`` prints the dict ``run()`` returns.

A "row" is a workbook data row (one option) for Wing, and one product object for JSON portals.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import time
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from adapters.common.pipeline import Context, translate_item
from adapters.coupang_wings.template import build_workbook
from adapters.registry import adapter_for

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
CTX = Context(received_at=dt.datetime(2026, 11, 25, tzinfo=dt.UTC), seller_id="BENCH")


def _workbook(rows: int) -> bytes:
    img = "https://img.example-seller.co.kr/a.jpg"
    return build_workbook(
        ({"카테고리": "[69181] 패션의류잡화>여성패션>여성의류>티셔츠>반팔티셔츠",
          "등록상품명": f"상품 {i // 4}", "브랜드": "b", "제조사": "m", "판매가격": 19900,
          "할인율기준가": 25000, "재고수량": 10, "출고리드타임": 2, "대표(옵션)이미지": img,
          "추가이미지": f"{img},{img}?2", "상세 설명": img, "업체상품코드": f"SKU-{i:06d}",
          "구매옵션/옵션유형1": "사이즈", "구매옵션/옵션값1": "SMLX"[i % 4],
          "상품고시정보 카테고리": "의류", "상품고시정보값1": "면 100%", "상품고시정보값7": "2026-09"}
         for i in range(rows)), write_only=True)


def _timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def bench_workbook(rows: int = 10_000) -> dict[str, Any]:
    raw = _workbook(rows)
    adapter = adapter_for("coupang_wings")

    def raw_pass() -> int:
        wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=False)
        count = sum(1 for _ in wb["기본"].iter_rows(min_row=5, values_only=True))
        wb.close()
        return count

    def adapter_pass() -> int:
        parsed = adapter.parse(raw, "bench.xlsx")
        outcomes = [translate_item(adapter, item, CTX) for item in parsed.items]
        assert all(o.accepted for o in outcomes)
        return sum(len(o.item.native["rows"]) for o in outcomes)

    raw_s, counted = _timed(raw_pass)
    adapter_s, translated = _timed(adapter_pass)
    assert counted == translated == rows
    return _result(rows, raw_s, adapter_s, "openpyxl read-only pass")


def bench_json(portal: str, fixture: str, id_path: tuple[str, ...], count: int) -> dict[str, Any]:
    template = json.loads((FIXTURES / fixture).read_text("utf-8"))
    items = []
    for i in range(count):
        item = copy.deepcopy(template)
        target = item
        for key in id_path[:-1]:
            target = target[key]
        target[id_path[-1]] = f"BENCH-{i:06d}"
        items.append(item)
    raw = json.dumps(items, ensure_ascii=False).encode("utf-8")
    adapter = adapter_for(portal)

    def adapter_pass() -> int:
        parsed = adapter.parse(raw, "bench.json")
        outcomes = [translate_item(adapter, item, CTX) for item in parsed.items]
        assert all(o.accepted for o in outcomes), outcomes[0].issues
        return len(outcomes)

    raw_s, _ = _timed(lambda: json.loads(raw))
    adapter_s, translated = _timed(adapter_pass)
    assert translated == count
    return _result(count, raw_s, adapter_s, "json.loads")


def _result(rows: int, raw_s: float, adapter_s: float, baseline: str) -> dict[str, Any]:
    return {"rows": rows, "baseline": baseline,
            "baseline_rows_per_s": round(rows / raw_s), "adapter_rows_per_s": round(rows / adapter_s),
            "adapter_vs_baseline": round(raw_s / adapter_s, 3)}


def run() -> dict[str, Any]:
    return {
        "coupang_wings.workbook": bench_workbook(),
        "coupang_wings.seller_product": bench_json(
            "coupang_wings", "coupang_wings/seller_product.json", ("sellerProductId",), 5_000),
        "tmon.deal": bench_json("tmon", "tmon/deal.json", ("vendorDealNo",), 5_000),
        "wemakeprice.product": bench_json(
            "wemakeprice", "wemakeprice/set_product.json", ("etc", "sellerProdCode"), 5_000),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
