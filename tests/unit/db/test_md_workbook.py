"""The MD's Excel round trip without a broker: export, fill in (badly, too), import."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import load_workbook

from db.approvals import InvalidDecision, QueueItem
from db.md_cli import (
    COLUMNS,
    build_decision,
    decision_kind,
    excel_text,
    parse_attributes,
    read_decisions,
    write_queue_workbook,
)
from db.repository import FALLBACK_MD
from hanger.events import DecisionKind
from hanger.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()
MD = "MD-1002"
COL = {key: i + 1 for i, (key, _) in enumerate(COLUMNS)}
HOSTILE = ["=HYPERLINK(\"http://evil\",\"click\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1"]


def item(n: int, title: str = "여성 플리츠 스커트") -> QueueItem:
    return QueueItem(
        submission_id=f"sub-{n}", request_id=f"req-{n}", md_id=MD, portal="tmon", seller_id="s-1",
        title=title, image_uris=("https://img.example/1.jpg", "file:///x/2.jpg"),
        declared_code="C-1", declared_taxonomy="T201", predicted_taxonomy="T203", confidence=0.61,
        reasons=("low_confidence", "category_mismatch"),
        attributes_extracted={"material": "=cmd|' /C calc'!A0"},
        waiting_since=dt.datetime(2026, 11, 25, tzinfo=dt.UTC),
    )


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    path = tmp_path / "queue.xlsx"
    items = [item(i) for i in range(1, 11)] + [item(11 + i, t) for i, t in enumerate(HOSTILE)]
    write_queue_workbook(items, MD, TAXONOMY, path)
    return path


def test_export_writes_every_hostile_value_as_text(exported: Path) -> None:
    ws = load_workbook(exported)["queue"]
    cells = [c for row in ws.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    titles = [ws.cell(row=r, column=COL["title"]).value for r in range(12, 17)]
    assert titles == ["'" + t for t in HOSTILE]
    assert ws.cell(row=2, column=COL["extracted"]).value.startswith("material==cmd")  # not at the start
    assert ws.cell(row=2, column=COL["images"]).hyperlink.target == "https://img.example/1.jpg"
    assert ws.cell(row=2, column=COL["confidence"]).value == pytest.approx(0.61)
    assert ws.cell(row=2, column=COL["md_id"]).value == MD


def test_export_has_drop_downs_for_decision_and_category(exported: Path) -> None:
    wb = load_workbook(exported)
    validations = {str(dv.sqref).split(":")[0].rstrip("0123456789"): dv for dv in
                   wb["queue"].data_validations.dataValidation}
    decision_col = chr(ord("A") + COL["decision"] - 1)
    category_col = chr(ord("A") + COL["category"] - 1)
    assert validations[decision_col].formula1 == '"approve,override,reject,request_change"'
    assert validations[category_col].formula1.startswith("=categories!$A$2")
    leaves = [r[0].value for r in wb["categories"].iter_rows(min_row=2)]
    assert "T203" in leaves and "T200" not in leaves


def _fill(path: Path, rows: dict[int, dict[str, object]]) -> None:
    wb = load_workbook(path)
    ws = wb["queue"]
    for row, values in rows.items():
        for key, value in values.items():
            ws.cell(row=row, column=COL[key], value=value)
    wb.save(path)


def test_import_publishes_good_rows_and_reports_bad_ones_by_row_number(exported: Path) -> None:
    _fill(exported, {
        2: {"decision": "approve"},
        3: {"decision": "override", "category": "T201", "attributes": "소재=면 100%; size=FREE"},
        4: {"decision": "reject", "reason": "의류가 아닙니다"},
        5: {"decision": "request_change", "reason": "'=looks like a formula but is text"},
        6: {"decision": "override", "category": "T999"},  # unknown category
        7: {"decision": "reject"},  # reject without reason
        8: {"decision": "approve", "md_id": "MD-1001"},  # wrong 사번
        9: {"decision": "=IF(1,\"approve\")"},  # formula
        10: {"decision": "maybe"},
        11: {"reason": "forgot the decision"},
        12: {"decision": "override", "category": "T203", "attributes": "fabric=x"},
        13: {"decision": "approve", "submission_id": "sub-1"},  # second decision for sub-1
        # rows 14.. left empty: not decided yet, not errors
    })
    result = read_decisions(exported, MD, TAXONOMY)
    assert [(n, d.submission_id, d.decision) for n, d in result.decisions] == [
        (2, "sub-1", DecisionKind.APPROVE), (3, "sub-2", DecisionKind.OVERRIDE),
        (4, "sub-3", DecisionKind.REJECT), (5, "sub-4", DecisionKind.REQUEST_CHANGE),
    ]
    override = result.decisions[1][1]
    assert (override.taxonomy_id, override.attributes) == ("T201", {"material": "면 100%", "size": "FREE"})
    assert result.decisions[3][1].reason == "=looks like a formula but is text"
    assert [(e.row, e.code) for e in result.errors] == [
        (6, "unknown_category"), (7, "reject_without_reason"), (8, "wrong_md"),
        (9, "formula_not_allowed"), (10, "unknown_decision"), (11, "missing_decision"),
        (12, "unknown_attribute"), (13, "duplicate_row"),
    ]


def test_import_checks_ownership_when_it_knows_the_owners(exported: Path) -> None:
    _fill(exported, {2: {"decision": "approve"}, 3: {"decision": "approve"}, 4: {"decision": "approve"}})
    owners = {"sub-1": MD, "sub-2": "MD-1001", "sub-4": FALLBACK_MD}
    result = read_decisions(exported, MD, TAXONOMY, owners)
    assert [n for n, _ in result.decisions] == [2]
    assert [(e.row, e.code) for e in result.errors] == [(3, "not_owner"), (4, "unknown_submission")]


def test_the_same_sheet_imported_twice_gives_the_same_decision_ids(exported: Path) -> None:
    _fill(exported, {2: {"decision": "reject", "reason": "x"}})
    first = read_decisions(exported, MD, TAXONOMY).decisions
    second = read_decisions(exported, MD, TAXONOMY).decisions
    assert [d.decision_id for _, d in first] == [d.decision_id for _, d in second]


def test_a_sheet_without_the_decision_columns_is_refused(tmp_path: Path) -> None:
    from openpyxl import Workbook

    path = tmp_path / "other.xlsx"
    wb = Workbook()
    wb.active.append(["a", "b"])
    wb.save(path)
    with pytest.raises(Exception, match="missing_column"):
        read_decisions(path, MD, TAXONOMY)


def test_helpers() -> None:
    assert excel_text("=1+1") == "'=1+1" and excel_text("면 100%") == "면 100%"
    assert excel_text("a\x00b") == "ab"
    assert decision_kind("반려") == DecisionKind.REJECT
    assert decision_kind("request-change") == DecisionKind.REQUEST_CHANGE
    assert parse_attributes(["제조연월=2025-03"]) == {"manufactured": "2025-03"}
    with pytest.raises(InvalidDecision, match="invalid_attribute"):
        parse_attributes(["material"])
    with pytest.raises(InvalidDecision, match="override_without_category"):
        build_decision(md_id=MD, submission_id="s", kind=DecisionKind.OVERRIDE, taxonomy_id=None,
                       attributes={}, reason=None, taxonomy=TAXONOMY)
