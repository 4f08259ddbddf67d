"""Golden files in both directions for every portal fixture, and the round-trip law on them.

Native → canonical: ``golden/<fixture>.canonical.json`` (every outcome: accepted event or issues)
and ``golden/<fixture>.answer.*`` (the portal-native answer to the file).
Canonical → native: ``golden/<fixture>.enriched.json`` (auto-approved, with extracted attributes),
``.needs_md.json`` and ``.registered.json``; for the workbook also the returned workbook.
Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest tests/unit/adapters``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.common.pipeline import IngestReport, ingest
from adapters.coupang_wings import io as wings_io
from adapters.registry import adapter_for
from tests.unit.adapters.adapter_helpers import (
    EXTRACTED,
    FIXTURES,
    ctx,
    diff_paths,
    enriched,
    golden,
    only_owned,
    registered,
    workbook_dump,
)

# fixture → (portal, seller, taxonomy id the classifier "finds" per product id)
CASES: dict[str, tuple[str, str, dict[str, str]]] = {
    "coupang_wings/sellertool_upload.xlsx": ("coupang_wings", "A00012345", {
        "DM-TS-001-WH": "T102", "DM-LP-200-S": "T201", "DM-OP-300": "T301",
        "DM-CV-400": "T103"}),
    "coupang_wings/seller_product.json": ("coupang_wings", "A00012345",
                                          {"DM-SH-501-SB": "T103"}),
    "tmon/deal.json": ("tmon", "P-7731", {"DM-KN-710": "T102"}),
    "tmon/deals_batch.json": ("tmon", "P-7731", {"DM-KN-710": "T101", "DM-SK-720": "T203"}),
    "tmon/deal_cp949.json": ("tmon", "P-7731", {"DM-KN-710": "T102"}),
    "wemakeprice/set_product.json": ("wemakeprice", "W-5521", {"DM-CT-800": "T401"}),
    "wemakeprice/set_product_batch.json": ("wemakeprice", "W-5521", {
        "DM-CT-800": "T402", "DM-DS-810": "T203", "700123456": "T401"}),
}

# Paths of a result that belong to us (everything else must equal what the portal sent).
OWNED = {
    "coupang_wings.seller_product": ("displayCategoryCode", "statusName", "sellerProductId",
                                     "items[].notices"),
    "tmon.deal": ("categoryNo", "productInfos", "status", "salesStatus", "tmonDealNo"),
    "wemakeprice.product": ("basic.dcateCode", "noticeList"),
}


def _report(name: str) -> tuple[IngestReport, str, dict[str, str], bytes]:
    portal, seller, classes = CASES[name]
    raw = (FIXTURES / name).read_bytes()
    return ingest(adapter_for(portal), raw, name, ctx(seller)), portal, classes, raw


def _golden_dir(name: str) -> tuple[Path, str]:
    path = FIXTURES / name
    return path.parent / "golden", path.stem


def _outcomes(report: IngestReport) -> list[dict[str, Any]]:
    return [
        {"ref": o.item.ref, "accepted": o.accepted, "product_id": o.product_id,
         "issues": [i.to_dict() for i in o.issues],
         "event": o.event.model_dump(mode="json") if o.event else None}
        for o in report.outcomes
    ]


@pytest.mark.parametrize("name", sorted(CASES))
def test_native_to_canonical_golden(name: str) -> None:
    report, _, _, _ = _report(name)
    directory, stem = _golden_dir(name)
    golden(directory / f"{stem}.canonical.json",
           {"issues": [i.to_dict() for i in report.issues], "outcomes": _outcomes(report)})
    if report.answer_suffix.endswith(".xlsx"):
        golden(directory / f"{stem}.answer.json", workbook_dump(report.answer))
    else:
        golden(directory / f"{stem}.answer.json", json.loads(report.answer.decode(
            "cp949" if "cp949" in name else "utf-8")))


@pytest.mark.parametrize("name", sorted(CASES))
def test_canonical_to_native_golden(name: str) -> None:
    report, portal, classes, raw = _report(name)
    adapter = adapter_for(portal)
    directory, stem = _golden_dir(name)
    results: dict[str, Any] = {"enriched": {}, "needs_md": {}, "registered": {}}
    pairs = []
    for outcome in report.accepted:
        sub = outcome.event
        assert sub is not None
        tid = classes[sub.portal_product_id]
        done = adapter.from_canonical(enriched(sub, tid, extracted=EXTRACTED), sub.native)
        results["enriched"][sub.portal_product_id] = done
        results["needs_md"][sub.portal_product_id] = adapter.from_canonical(
            enriched(sub, tid, auto=False, confidence=0.61), sub.native)
        results["registered"][sub.portal_product_id] = adapter.from_canonical(
            registered(sub, tid), sub.native)
        pairs.append((sub.native, done))
        _assert_round_trip_law(sub.native, done)
        _assert_round_trip_law(sub.native, results["registered"][sub.portal_product_id])
    for kind, value in results.items():
        golden(directory / f"{stem}.{kind}.json", value)
    if name.endswith(".xlsx"):
        golden(directory / f"{stem}.returned.json",
               workbook_dump(wings_io.apply_results(raw, pairs)))


def _assert_round_trip_law(original: dict[str, Any], result: dict[str, Any]) -> None:
    fmt = original["format"]
    if fmt == "coupang_wings.workbook":
        owned_keys = {"카테고리", "상품고시정보 카테고리", "처리결과", "처리메시지",
                      *(f"상품고시정보값{i}" for i in range(1, 15))}
        assert [r["row"] for r in result["rows"]] == [r["row"] for r in original["rows"]]
        for before, after in zip(original["rows"], result["rows"], strict=True):
            changed = {k for k in before["cells"].keys() | after["cells"].keys()
                       if before["cells"].get(k) != after["cells"].get(k)}
            assert changed <= owned_keys, changed - owned_keys
        assert result["columns"][: len(original["columns"])] == original["columns"]
        return
    body = original["body"]
    if fmt == "coupang_wings.seller_product":
        out = result["data"]
    elif fmt == "tmon.deal":
        out = result.get("deal", result)
    else:
        out = result["data"]["product"]
    assert only_owned(diff_paths(body, out), OWNED[fmt]) == set()
