"""Coupang I/O shell: bytes in (Wing workbook or Open API JSON), bytes out (answer workbook or
JSON). All format knowledge is in :mod:`.native`, all decisions in :mod:`.translate`.

Workbook items: rows are checked one by one; a row with errors is its own rejected item (answered
on its row), the good rows of the same product still form the product. ``ProductSubmitted.native``
holds, per product, every cell of its rows (header key → value; dates as ISO text with a ``types``
note), the sheet, row numbers, the header layout and merged ranges. The return trip
(:func:`apply_results`) re-reads the original workbook and writes only owned cells and result
columns, so formatting, other sheets and macros stay as they were.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable
from pathlib import PurePath
from typing import Any

from openpyxl.utils import column_index_from_string, range_boundaries

from adapters.common.issues import Issue, error, has_errors, warning
from adapters.common.jsonadapter import JsonAdapter
from adapters.common.notices import norm
from adapters.common.pipeline import Item, Native, Outcome, Parsed
from adapters.common.results import STATUS_KO
from adapters.common.safety import OLE2_MAGIC, ZIP_MAGIC, ZipLimits, is_formula_like
from adapters.common.workbook import (
    CellValue,
    ResultLayout,
    SheetAnswer,
    Table,
    TableSpec,
    read_tables,
    write_answer,
)
from adapters.coupang_wings import native as n
from adapters.coupang_wings import translate as t
from hanger.events import Portal

TABLE_SPEC = TableSpec(
    known_headers=n.KNOWN_HEADERS,
    required=n.REQUIRED_COLUMNS,
    preferred_sheets=n.PREFERRED_SHEETS,
    skip_sheets=n.SKIP_SHEETS,
    header_row=n.HEADER_ROW,
    data_offset=n.DATA_OFFSET,
)
RESULT_LAYOUT = ResultLayout(n.RESULT_GROUP, n.RESULT_HEADERS, n.RESULT_SHEET,
                             n.RESULT_SHEET_HEADERS)
_CONTAINER_CODES = {"empty_file", "file_too_large", "xls_not_supported", "not_xlsx", "zip_bomb"}


def is_workbook(raw: bytes, source: str) -> bool:
    suffix = PurePath(source).suffix.lower()
    return raw.startswith((ZIP_MAGIC, OLE2_MAGIC)) or suffix in (".xlsx", ".xlsm", ".xls")


class CoupangAdapter(JsonAdapter):
    """Wing workbooks and Open API JSON through one adapter: the bytes say which (translation
    dispatches on the native envelope's ``format``)."""

    limits: ZipLimits | None  # for the workbook container; None = the defaults

    def __init__(self, limits: ZipLimits | None = None) -> None:
        super().__init__(Portal.COUPANG_WINGS, n.API_FORMAT, t.api_product_id, t.to_canonical,
                         t.from_canonical, t.api_accepted, t.api_rejection)
        object.__setattr__(self, "limits", limits)  # frozen like every JsonAdapter

    def parse(self, raw: bytes, source: str) -> Parsed:
        if is_workbook(raw, source):
            return parse_workbook(raw, source, self.limits)
        return super().parse(raw, source)

    def answer_file(self, raw: bytes, parsed: Parsed, outcomes: list[Outcome]) -> tuple[str, bytes]:
        if parsed.container == "workbook":
            return ".result.xlsx", answer_workbook(raw, parsed, outcomes)
        return super().answer_file(raw, parsed, outcomes)


ADAPTER = CoupangAdapter()


# ---------------------------------------------------------------------------------------------
# Workbook in


def parse_workbook(raw: bytes, source: str, limits: ZipLimits | None = None) -> Parsed:
    tables, issues = read_tables(raw, TABLE_SPEC, limits)
    items: list[Item] = []
    for table in tables:
        items.extend(_table_items(table, PurePath(source).name))
    return Parsed(items, issues, "utf-8", batch=True, container="workbook")


def _table_items(table: Table, file_name: str) -> list[Item]:
    columns = [{"key": c.key, "header": c.header, "group": c.group, "letter": c.letter}
               for c in table.columns]
    layout = t.layout_of(columns)
    template = n.template_version({norm(c.header) for c in table.columns if c.header})
    sku_key = layout.key(n.SKU)
    merged_by_row = _merged_first_rows(table)
    envelope = {"format": n.WORKBOOK_FORMAT, "template": template, "file": file_name,
                "sheet": table.sheet, "header_row": table.header_row, "columns": columns}
    items: list[Item] = []
    groups: dict[tuple[str, str], list[tuple[dict[str, Any], list[Issue]]]] = {}
    first_sku_row: dict[str, int] = {}
    keys = [c.key for c in table.columns]
    for number, values in table.rows:
        row_native = _row_native(keys, number, values)
        cells = row_native["cells"]
        issues = t.check_row(layout, cells, number)
        issues += [warning("merged_cells", f"병합된 셀 {ref}: 대표 셀 값을 각 행에 적용했습니다",
                           None, number) for ref in merged_by_row.get(number, [])]
        sku = t.cell_text(cells.get(sku_key)) if sku_key else ""
        if sku:
            if sku in first_sku_row:
                issues.append(error("duplicate_id", f"업체상품코드 {sku}가 {first_sku_row[sku]}행과 "
                                                      "중복됩니다", n.SKU[0], number))
            else:
                first_sku_row[sku] = number
        if has_errors(issues):
            native = {**envelope, "rows": [row_native], "merged": _merged_for(table, [number])}
            items.append(Item(f"{table.sheet}!{number}", native,
                              functools.partial(_raw, native), issues, sku or None))
        else:
            groups.setdefault(t.group_key(layout, cells), []).append((row_native, issues))
    for members in groups.values():
        rows = [m[0] for m in members]
        numbers = [r["row"] for r in rows]
        native = {**envelope, "rows": rows, "merged": _merged_for(table, numbers)}
        items.append(Item(f"{table.sheet}!{_ranges(numbers)}", native,
                          functools.partial(_raw, native), [i for m in members for i in m[1]],
                          t.workbook_product_id(layout, rows)))
    items.sort(key=lambda i: i.native["rows"][0]["row"])
    return items


_PLAIN = frozenset({type(None), str, int, float, bool})  # cell values JSON keeps as they are


def _row_native(keys: list[str], number: int, values: list[CellValue]) -> dict[str, Any]:
    cells: dict[str, Any] = dict(zip(keys, values, strict=False))
    types: dict[str, str] = {}
    for key, value in cells.items():
        if type(value) in _PLAIN:
            continue
        if isinstance(value, dt.datetime | dt.date | dt.time):
            types[key] = type(value).__name__
            cells[key] = value.isoformat()
        elif isinstance(value, dt.timedelta):
            types[key] = "timedelta"
            cells[key] = value.total_seconds()
    row: dict[str, Any] = {"row": number, "cells": cells}
    if types:
        row["types"] = types
    return row


def _merged_first_rows(table: Table) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for ref in table.merged:
        _, min_row, _, _ = range_boundaries(ref)
        out.setdefault(max(min_row or 0, table.first_data_row), []).append(ref)
    return out


def _merged_for(table: Table, numbers: list[int]) -> list[str]:
    wanted = set(numbers)
    out = []
    for ref in table.merged:
        _, min_row, _, max_row = range_boundaries(ref)
        if min_row is not None and max_row is not None and \
                wanted & set(range(min_row, max_row + 1)):
            out.append(ref)
    return out


def _ranges(numbers: list[int]) -> str:
    spans: list[list[int]] = []
    for number in sorted(numbers):
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans)


def _raw(native: Native) -> bytes:
    return json.dumps(native, ensure_ascii=False).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# Workbook out


def answer_workbook(raw: bytes, parsed: Parsed, outcomes: list[Outcome]) -> bytes:
    """The ingest answer: the original workbook with 처리결과/처리메시지 per row and a result sheet
    (or only a result sheet when the file could not be read as a workbook at all)."""
    answers: dict[str, SheetAnswer] = {}
    summary: list[tuple[CellValue, ...]] = [
        ("", i.row, "", "", STATUS_KO["rejected"], i.code, i.severity.value, i.field, i.message)
        for i in parsed.issues
    ]
    for outcome in outcomes:
        native = outcome.item.native
        answer = answers.setdefault(native["sheet"], SheetAnswer(native["header_row"]))
        layout = t.layout_of(native["columns"])
        letters = {c["key"]: c["letter"] for c in native["columns"]}
        status = "접수" if outcome.accepted else STATUS_KO["rejected"]
        for row in native["rows"]:
            number = row["row"]
            mine = [i for i in outcome.issues if i.row in (number, None)]
            shown = [i for i in mine if i.is_error] if not outcome.accepted else mine
            message = "; ".join(i.describe() for i in shown) or (
                f"submission {outcome.event.submission_id}" if outcome.event else "")
            answer.results[number] = (status, message)
            for key, value in row["cells"].items():
                if is_formula_like(value) and letters.get(key):
                    answer.neutralise.add((number, _col(letters[key])))
            summary.extend(_summary_rows(native["sheet"], number, layout, row["cells"], status,
                                         mine))
    container_bad = any(i.code in _CONTAINER_CODES for i in parsed.issues)
    return write_answer(None if container_bad else raw, answers, RESULT_LAYOUT, summary)


def _summary_rows(sheet: str, number: int, layout: t.Layout, cells: dict[str, Any], status: str,
                  issues: Iterable[Issue]) -> list[tuple[CellValue, ...]]:
    sku, name = _identity(layout, cells)
    rows: list[tuple[CellValue, ...]] = [
        (sheet, number, sku, name, status, i.code, i.severity.value, i.field, i.message)
        for i in issues
    ]
    return rows or [(sheet, number, sku, name, status, "", "", "", "")]


def _identity(layout: t.Layout, cells: dict[str, Any]) -> tuple[str, str]:
    sku_key, name_key = layout.key(n.SKU), layout.key(n.NAME)
    return (t.cell_text(cells.get(sku_key)) if sku_key else "",
            t.cell_text(cells.get(name_key)) if name_key else "")


def apply_results(raw: bytes, results: Iterable[tuple[Native, Native]]) -> bytes:
    """The return trip for workbook products: (original native, ``from_canonical`` result) pairs
    written into the original workbook — owned cells that changed, and the result columns."""
    answers: dict[str, SheetAnswer] = {}
    summary: list[tuple[CellValue, ...]] = []
    for original, result in results:
        answer = answers.setdefault(result["sheet"], SheetAnswer(result["header_row"]))
        layout = t.layout_of(result["columns"])
        letters = {c["key"]: c["letter"] for c in result["columns"] if c.get("letter")}
        owned = [k for k in (layout.key(n.CATEGORY), layout.key(n.NOTICE_CATEGORY),
                             *layout.notice_values) if k]
        before = {r["row"]: r["cells"] for r in original["rows"]}
        for row in result["rows"]:
            number, cells = row["row"], row["cells"]
            for key in owned:
                if cells.get(key) != before.get(number, {}).get(key):
                    answer.cells[(number, _col(letters[key]))] = cells.get(key)
            for key, value in cells.items():
                if is_formula_like(value) and key in letters:
                    answer.neutralise.add((number, _col(letters[key])))
            status, message = cells.get(n.RESULT_HEADERS[0]), cells.get(n.RESULT_HEADERS[1])
            answer.results[number] = (status, message)
            summary.append((result["sheet"], number, *_identity(layout, cells), status, "", "", "",
                            message))
    return write_answer(raw, answers, RESULT_LAYOUT, summary)


def _col(letter: str) -> int:
    return int(column_index_from_string(letter))
