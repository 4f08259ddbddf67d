"""Shared helpers for the adapter tests: contexts, canonical events built the way the enrich
stage and registrar build them, golden-file comparison, and the round-trip diff."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from adapters.common.pipeline import Context
from hanger.events import (
    AttributeSource,
    Classification,
    ClassScore,
    ExtractedValue,
    ModelInfo,
    ProductEnriched,
    ProductRegistered,
    ProductSubmitted,
    Route,
    RouteKind,
)
from hanger.taxonomy import load_taxonomy

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"
RECEIVED = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def ctx(seller: str | None = "A00012345") -> Context:
    return Context(received_at=RECEIVED, seller_id=seller, source="test")


def enriched(sub: ProductSubmitted, taxonomy_id: str = "T301", *, auto: bool = True,
             confidence: float = 0.995, extracted: dict[str, str] | None = None,
             classified: bool = True) -> ProductEnriched:
    node = load_taxonomy().node(taxonomy_id)
    cls = Classification(
        taxonomy_id=taxonomy_id, label_en=node.en, label_ko=node.ko, confidence=confidence,
        top_k=(ClassScore(taxonomy_id=taxonomy_id, label_en=node.en, label_ko=node.ko,
                          confidence=confidence),),
        model=ModelInfo(name="fashion-cls", version="1.0.0", sha256="0" * 64),
    ) if classified else None
    route = Route(kind=RouteKind.AUTO_APPROVED) if auto else Route(
        kind=RouteKind.NEEDS_MD, md_id="MD0042", reasons=("category_mismatch",))
    return ProductEnriched(
        submission=sub, classification=cls,
        attributes_extracted={k: ExtractedValue(value=v, source=AttributeSource.OCR,
                                                confidence=0.9)
                              for k, v in (extracted or {}).items()},
        route=route, enriched_at=RECEIVED,
    )


def registered(sub: ProductSubmitted, taxonomy_id: str = "T301",
               product_id: int = 900001) -> ProductRegistered:
    return ProductRegistered(submission=sub, product_id=product_id, submission_id=sub.submission_id,
                             portal=sub.portal, portal_product_id=sub.portal_product_id,
                             taxonomy_id=taxonomy_id, decided_by="auto", registered_at=RECEIVED)


EXTRACTED = {"care": "30도 이하 손세탁, 표백제 사용 금지", "country": "대한민국",
             "manufactured": "2026-09"}


def golden(path: Path, actual: Any) -> None:
    """Compare ``actual`` (JSON-able) with the golden file; UPDATE_GOLDEN=1 rewrites it."""
    text = json.dumps(actual, ensure_ascii=False, indent=2, sort_keys=False, default=str) + "\n"
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text), path.name


def workbook_dump(raw: bytes) -> dict[str, Any]:
    """Every sheet's cell values (formulas as text) and merged ranges, for comparing workbooks."""
    wb = load_workbook(io.BytesIO(raw), data_only=False)
    out: dict[str, Any] = {}
    for ws in wb.worksheets:
        rows = [[_plain(c.value) for c in row] for row in ws.iter_rows()]
        out[ws.title] = {"rows": rows, "merged": sorted(str(r) for r in ws.merged_cells.ranges)}
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value


def diff_paths(a: Any, b: Any, path: str = "") -> set[str]:
    """Paths where two JSON values differ (added/removed keys included)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[str] = set()
        for key in a.keys() | b.keys():
            sub = f"{path}.{key}" if path else str(key)
            if key not in a or key not in b:
                out.add(sub)
            else:
                out |= diff_paths(a[key], b[key], sub)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = set()
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out |= diff_paths(x, y, f"{path}[{i}]")
        return out
    return set() if a == b else {path}


def only_owned(changed: set[str], owned_prefixes: tuple[str, ...]) -> set[str]:
    """The changed paths that are NOT owned by us (must be empty for the round-trip law)."""
    import re

    generic = {re.sub(r"\[\d+\]", "[]", p) for p in changed}
    return {p for p in generic if not p.startswith(owned_prefixes)}
