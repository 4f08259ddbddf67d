"""``hanger db seed`` reads the admin's Excel files as well as CSV (no database needed here)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import Workbook

from db.seed import _rows
from hanger.errors import InputError

SELLER_COLUMNS = ("portal", "판매자ID", "담당MD", "판매품목", "등록일자")


def _xlsx(path: Path, rows: list[list[object]]) -> Path:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    wb.save(path)
    return path


def test_xlsx_rows_are_read_by_header_with_dates_as_iso(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "sellers.xlsx", [
        ["등록일자", "portal", "판매자ID", "담당MD", "판매품목", "비고"],
        [dt.datetime(2025, 3, 2), "coupang_wings", "A00012345", "MD-1001", "T100", "memo"],
        [None, None, None, None, None, None],
        ["2024-11-20", "tmon", 778812, None, "T300;T400", None],
    ])
    rows = _rows(path, SELLER_COLUMNS)
    assert rows == [
        {"등록일자": "2025-03-02", "portal": "coupang_wings", "판매자ID": "A00012345", "담당MD": "MD-1001",
         "판매품목": "T100", "비고": "memo"},
        {"등록일자": "2024-11-20", "portal": "tmon", "판매자ID": "778812", "담당MD": "",
         "판매품목": "T300;T400", "비고": ""},
    ]


def test_xlsx_with_a_formula_or_a_missing_column_is_refused(tmp_path: Path) -> None:
    formula = _xlsx(tmp_path / "f.xlsx", [list(SELLER_COLUMNS), ["tmon", "=A1", "", "", ""]])
    with pytest.raises(InputError, match="formula_not_allowed"):
        _rows(formula, SELLER_COLUMNS)
    missing = _xlsx(tmp_path / "m.xlsx", [["portal", "판매자ID"]])
    with pytest.raises(InputError, match="missing_column"):
        _rows(missing, SELLER_COLUMNS)


def test_csv_still_works() -> None:
    repo = Path(__file__).resolve().parents[3]
    rows = _rows(repo / "samples" / "seed" / "mds.csv", ("사번", "이름", "담당품목"))
    assert rows[0]["사번"] == "MD-1001"
