"""Adapter throughput: rows/s of parse+translate per portal against the raw read of the same input
in the same run (openpyxl read-only pass for the Wing workbook, ``json.loads`` for JSON), so the
ratio is machine-independent. ``python -m bench.bench_adapters`` prints the dict ``run()`` returns;
``--stages`` prints what each stage of the JSON path costs per product (:func:`stage_costs`).

A "row" is a workbook data row (one option) for Wing, and one product object for JSON portals.
Times are CPU seconds of this process (every pass is single-threaded) and each pass runs
:data:`ROUNDS` times, the raw pass and ours alternating, the fastest counting: on a shared machine
wall time and slower rounds measure the neighbours, not the code.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from adapters.common.compiled import CompiledSpec
from adapters.common.jsonio import _read_fast, parse_json_strictly
from adapters.common.pipeline import (
    Context,
    content_revision,
    parse_and_translate,
    translate_item,
)
from adapters.common.validate import FieldSpec, validate
from adapters.coupang_wings import native as coupang_native
from adapters.coupang_wings.template import build_workbook
from adapters.registry import adapter_for
from adapters.tmon import native as tmon_native
from adapters.wemakeprice import native as wemakeprice_native
from hanger.events import ProductSubmitted

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
CTX = Context(received_at=dt.datetime(2026, 11, 25, tzinfo=dt.UTC), seller_id="BENCH")
ROUNDS = 3


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
    started = time.process_time()
    result = fn()
    return time.process_time() - started, result


def _best_of(raw_pass: Any, adapter_pass: Any) -> tuple[float, Any, float, Any]:
    """Fastest of :data:`ROUNDS` alternating rounds: (raw s, raw result, ours s, our result)."""
    raw_best = ours_best = float("inf")
    raw_result = ours_result = None
    for _ in range(ROUNDS):
        seconds, raw_result = _timed(raw_pass)
        raw_best = min(raw_best, seconds)
        seconds, ours_result = _timed(adapter_pass)
        ours_best = min(ours_best, seconds)
    return raw_best, raw_result, ours_best, ours_result


def bench_workbook(rows: int = 10_000) -> dict[str, Any]:
    raw = _workbook(rows)
    adapter = adapter_for("coupang_wings")

    def raw_pass() -> int:
        wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=False)
        count = sum(1 for _ in wb["기본"].iter_rows(min_row=5, values_only=True))
        wb.close()
        return count

    def adapter_pass() -> int:
        _, outcomes = parse_and_translate(adapter, raw, "bench.xlsx", CTX)
        assert all(o.accepted for o in outcomes)
        return sum(len(o.item.native["rows"]) for o in outcomes)

    raw_s, counted, adapter_s, translated = _best_of(raw_pass, adapter_pass)
    assert counted == translated == rows
    return _result(rows, raw_s, adapter_s, "openpyxl read-only pass")


JSON_CASES: dict[str, tuple[str, tuple[str, ...]]] = {  # portal → (fixture, path of its id)
    "coupang_wings": ("coupang_wings/seller_product.json", ("sellerProductId",)),
    "tmon": ("tmon/deal.json", ("vendorDealNo",)),
    "wemakeprice": ("wemakeprice/set_product.json", ("etc", "sellerProdCode")),
}
SPECS: dict[str, tuple[FieldSpec, ...]] = {
    "coupang_wings": coupang_native.PRODUCT_SPEC,
    "tmon": tmon_native.DEAL_SPEC,
    "wemakeprice": wemakeprice_native.PRODUCT_SPEC,
}


def _json_batch(fixture: str, id_path: tuple[str, ...], count: int) -> bytes:
    """An array of ``count`` copies of the fixture, each with its own product id."""
    template = json.loads((FIXTURES / fixture).read_text("utf-8"))
    items = []
    for i in range(count):
        item = copy.deepcopy(template)
        target = item
        for key in id_path[:-1]:
            target = target[key]
        target[id_path[-1]] = f"BENCH-{i:06d}"
        items.append(item)
    return json.dumps(items, ensure_ascii=False).encode("utf-8")


def bench_json(portal: str, fixture: str, id_path: tuple[str, ...], count: int) -> dict[str, Any]:
    raw = _json_batch(fixture, id_path, count)
    adapter = adapter_for(portal)

    def adapter_pass() -> int:
        _, outcomes = parse_and_translate(adapter, raw, "bench.json", CTX)
        assert all(o.accepted for o in outcomes), outcomes[0].issues
        return len(outcomes)

    raw_s, _, adapter_s, translated = _best_of(lambda: json.loads(raw), adapter_pass)
    assert translated == count
    return _result(count, raw_s, adapter_s, "json.loads")


def stage_costs(portal: str, count: int = 2_000) -> dict[str, float]:
    """CPU µs per product of the stages of a JSON portal's path, to read a profile against:
    the whole path, the raw decode, our parse, the whole translation of parsed items, the spec
    check (compiled, and the Python walk that reports issues), the revision hash, and validating
    the canonical event from a ready dict."""
    fixture, id_path = JSON_CASES[portal]
    raw = _json_batch(fixture, id_path, count)
    adapter = adapter_for(portal)
    parsed = adapter.parse(raw, "bench.json")
    bodies = [item.native["body"] for item in parsed.items]
    ready = [translate_item(adapter, item, CTX).event for item in parsed.items]
    dumped = [event.model_dump() for event in ready if event is not None]
    compiled = CompiledSpec(SPECS[portal])
    stages: dict[str, Callable[[], object]] = {
        "parse + translate (the benchmark)":
            lambda: parse_and_translate(adapter, raw, "bench.json", CTX),
        "json.loads (the baseline)": lambda: json.loads(raw),
        "parse: decode, duplicate keys, envelopes": lambda: adapter.parse(raw, "bench.json"),
        "  of which orjson read + its duplicate/big-int checks": lambda: _read_fast(raw),
        "  (the strict json path it replaces, for comparison)": lambda: parse_json_strictly(raw),
        "translate: to_canonical of the parsed items": lambda: [
            adapter.to_canonical(item.native, CTX) for item in parsed.items],
        "spec check, compiled (valid products)": lambda: [compiled.is_clean(b) for b in bodies],
        "spec walk in Python (reports issues)": lambda: [validate(b, SPECS[portal]) for b in bodies],
        "content_revision (sorted JSON + SHA-256)": lambda: [content_revision(b) for b in bodies],
        "  (json.dumps, as before orjson)": lambda: [_json_revision(b) for b in bodies],
        "ProductSubmitted.model_validate(ready dict)":
            lambda: [ProductSubmitted.model_validate(d) for d in dumped],
    }
    return {name: round(min(_timed(fn)[0] for _ in range(ROUNDS)) / count * 1e6, 1)
            for name, fn in stages.items()}


def _json_revision(content: Any) -> int:
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) & 0x7FFF_FFFF


def _result(rows: int, raw_s: float, adapter_s: float, baseline: str) -> dict[str, Any]:
    return {"rows": rows, "baseline": baseline,
            "baseline_rows_per_s": round(rows / raw_s), "adapter_rows_per_s": round(rows / adapter_s),
            "adapter_vs_baseline": round(raw_s / adapter_s, 3)}


def run() -> dict[str, Any]:
    return {
        "coupang_wings.workbook": bench_workbook(),
        "coupang_wings.seller_product": bench_json("coupang_wings", *JSON_CASES["coupang_wings"],
                                                   5_000),
        "tmon.deal": bench_json("tmon", *JSON_CASES["tmon"], 5_000),
        "wemakeprice.product": bench_json("wemakeprice", *JSON_CASES["wemakeprice"], 5_000),
    }


if __name__ == "__main__":
    if sys.argv[1:] == ["--stages"]:
        print(json.dumps({portal: stage_costs(portal) for portal in JSON_CASES}, indent=2,
                         ensure_ascii=False))
    else:
        print(json.dumps(run(), indent=2))
