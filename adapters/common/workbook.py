"""Header-addressed tables in .xlsx/.xlsm workbooks: read fast, answer without losing anything.

Reading (openpyxl read-only, ``data_only=False`` so formulas arrive as text and are never run):
every visible sheet whose first rows contain a header row with the known column names is a data
sheet; columns are found by header text (normalised: spaces, middle dots), never by position. The
row above the header holds group titles (merged cells, forward-filled), so two columns with the
same header (Wing's 구매옵션 and 검색옵션 ``옵션유형1``) get distinct keys. Data rows start a fixed
offset below the header (Wing: rows 3-4 are required marks and guidance).

Merged ranges in data rows are read from the sheet XML (read-only mode does not expose them): each
covered cell takes the anchor's value (what the seller sees) and the range is reported, so the
return trip can write only to anchors.

Writing (:func:`write_answer`): the original bytes are loaded in full, owned cells and result
columns are set, formula-like data cells are turned into quoted text, a result sheet is added, and
everything else — other sheets, column order, header rows, unknown columns, macros — is kept.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, MergedCell
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.worksheet.worksheet import Worksheet

from adapters.common.issues import Issue, error, warning
from adapters.common.notices import norm
from adapters.common.safety import (
    ZipLimits,
    check_xlsx_container,
    is_formula_like,
    is_macro_workbook,
)

CellValue = str | int | float | bool | dt.datetime | dt.date | dt.time | dt.timedelta | None


@dataclass(frozen=True)
class Column:
    index: int  # 1-based
    letter: str
    header: str | None  # as written in the header row
    group: str | None  # the (merged) group title above it
    key: str  # unique within the sheet: header, "group/header", or "#LETTER"


@dataclass
class Table:
    sheet: str
    header_row: int
    first_data_row: int
    columns: list[Column]
    rows: list[tuple[int, list[CellValue]]]  # (row number, one value per column)
    merged: list[str] = field(default_factory=list)  # ranges touching data rows, "A5:A7"

    def find(self, *names: str) -> Column | None:
        """First column whose header is one of ``names`` (aliases across template versions)."""
        wanted = [norm(n) for n in names]
        for name in wanted:
            for column in self.columns:
                if column.header is not None and norm(column.header) == name:
                    return column
        return None

    def find_all(self, name: str) -> list[Column]:
        wanted = norm(name)
        return [c for c in self.columns if c.header is not None and norm(c.header) == wanted]


@dataclass(frozen=True)
class TableSpec:
    known_headers: frozenset[str]  # normalised names that identify a header row
    required: tuple[tuple[str, ...], ...]  # per required column: its aliases, first = name used
    preferred_sheets: tuple[str, ...] = ()
    skip_sheets: tuple[str, ...] = ()
    header_row: int = 2
    data_offset: int = 3  # first data row = header row + this
    scan_rows: int = 10
    min_header_hits: int = 3


def read_tables(
    raw: bytes, spec: TableSpec, limits: ZipLimits | None = None
) -> tuple[list[Table], list[Issue]]:
    """All data sheets of the workbook, or file-level errors (no table is returned then)."""
    problems = check_xlsx_container(raw, limits)
    if problems:
        return [], problems
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about data validation extensions
            workbook = load_workbook(io.BytesIO(raw), read_only=True, data_only=False,
                                     keep_links=False)
    except Exception as exc:
        return [], [error("not_xlsx", f"workbook cannot be opened: {type(exc).__name__}: {exc}")]
    try:
        return _read_all(workbook, spec)
    finally:
        workbook.close()


def _read_all(workbook: Any, spec: TableSpec) -> tuple[list[Table], list[Issue]]:
    names = [ws.title for ws in workbook.worksheets]
    order = [n for n in spec.preferred_sheets if n in names] + [
        n for n in names if n not in spec.preferred_sheets and n not in spec.skip_sheets
    ]
    tables: list[Table] = []
    issues: list[Issue] = []
    best_partial: tuple[int, str, int, list[str]] | None = None  # hits, sheet, row, missing
    any_content = False
    for name in order:
        ws = workbook[name]
        if getattr(ws, "sheet_state", "visible") != "visible":
            continue
        head = [list(r) for r in ws.iter_rows(min_row=1, max_row=spec.scan_rows,
                                              values_only=True)]
        any_content = any_content or any(v not in (None, "") for r in head for v in r)
        header_row, hits = _find_header_row(head, spec)
        if header_row is None:
            continue
        header_cells = head[header_row - 1]
        present = {norm(str(v)) for v in header_cells if v is not None}
        missing = [aliases[0] for aliases in spec.required
                   if not any(norm(a) in present for a in aliases)]
        if missing:
            if best_partial is None or hits > best_partial[0]:
                best_partial = (hits, name, header_row, missing)
            continue
        sheet_issues: list[Issue] = []
        if header_row != spec.header_row:
            sheet_issues.append(warning(
                "header_row_moved",
                f"{name}: 헤더가 {spec.header_row}행이 아니라 {header_row}행에 있습니다", None,
                header_row))
        table = _read_table(workbook, ws, name, head, header_row, spec)
        issues.extend(sheet_issues)
        tables.append(table)
    if tables:
        return tables, issues
    if best_partial is not None:
        _, sheet, row, missing = best_partial
        return [], [error("missing_required_column", f"{sheet}: 필수 열이 없습니다: {m}", m, row)
                    for m in missing]
    if not any_content:
        return [], [error("empty_file", "워크북에 내용이 없습니다")]
    return [], [error("missing_header_row",
                      f"헤더 행을 찾을 수 없습니다 (1-{spec.scan_rows}행에 "
                      f"'{spec.required[0][0]}' 등 열 이름이 있어야 합니다)")]


def _find_header_row(head: list[list[Any]], spec: TableSpec) -> tuple[int | None, int]:
    best, best_hits = None, 0
    for number, values in enumerate(head, start=1):
        hits = sum(1 for v in values if isinstance(v, str) and norm(v) in spec.known_headers)
        if hits > best_hits:
            best, best_hits = number, hits
    return (best, best_hits) if best_hits >= spec.min_header_hits else (None, best_hits)


def _read_table(workbook: Any, ws: Any, name: str, head: list[list[Any]], header_row: int,
                spec: TableSpec) -> Table:
    first_data_row = header_row + spec.data_offset
    rows: list[tuple[int, list[CellValue]]] = []
    width = len(head[header_row - 1])
    for number, values in enumerate(ws.iter_rows(min_row=first_data_row, values_only=True),
                                    start=first_data_row):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        rows.append((number, list(values)))
        width = max(width, len(values))
    for _, values in rows:
        values.extend([None] * (width - len(values)))
    columns = _columns(head, header_row, width)
    merged = _merged_ranges(workbook, ws)
    table = Table(name, header_row, first_data_row, columns, rows)
    _fill_merged(table, merged)
    return table


def _columns(head: list[list[Any]], header_row: int, width: int) -> list[Column]:
    headers = list(head[header_row - 1]) + [None] * width
    groups_row = list(head[header_row - 2]) + [None] * width if header_row >= 2 else [None] * width
    columns: list[Column] = []
    group: str | None = None
    used: set[str] = set()
    counts: dict[str, int] = {}
    for i in range(width):
        header = headers[i]
        text = str(header).strip() if header is not None and str(header).strip() else None
        if groups_row[i] is not None and str(groups_row[i]).strip():
            group = str(groups_row[i]).strip()
        if text is not None:
            counts[text] = counts.get(text, 0) + 1
        columns.append(Column(i + 1, get_column_letter(i + 1), text, group, ""))
    for i, column in enumerate(columns):
        if column.header is None:
            key = f"#{column.letter}"
        elif counts[column.header] == 1:
            key = column.header
        else:
            key = f"{column.group}/{column.header}" if column.group else column.header
            if key in used:
                key = f"{column.header}#{column.letter}"
        used.add(key)
        columns[i] = Column(column.index, column.letter, column.header, column.group, key)
    return columns


_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*?\bref="([A-Z]+[0-9]+:[A-Z]+[0-9]+)"')


def _merged_ranges(workbook: Any, ws: Any) -> list[str]:
    # read-only worksheets do not parse <mergeCells>; read them from the part directly (the
    # element follows sheetData, so a regex over the bytes is both simple and fast).
    path = getattr(ws, "_worksheet_path", None)
    archive = getattr(workbook, "_archive", None)
    if path is None or not isinstance(archive, zipfile.ZipFile):
        return []
    try:
        data = archive.read(path)
    except KeyError:
        return []
    return [m.decode("ascii") for m in _MERGE.findall(data)]


def _fill_merged(table: Table, ranges: list[str]) -> None:
    by_row = {number: values for number, values in table.rows}
    for ref in ranges:
        min_col, min_row, max_col, max_row = range_boundaries(ref)
        if max_row is None or min_row is None or min_col is None or max_col is None:
            continue
        if max_row < table.first_data_row:
            continue
        table.merged.append(ref)
        anchor_row = by_row.get(min_row)
        anchor = anchor_row[min_col - 1] if anchor_row and min_col - 1 < len(anchor_row) else None
        for r in range(max(min_row, table.first_data_row), max_row + 1):
            values = by_row.get(r)
            if values is None:
                continue
            for c in range(min_col, min(max_col, len(values)) + 1):
                if (r, c) != (min_row, min_col):
                    values[c - 1] = anchor


# ---------------------------------------------------------------------------------------------
# Writing the answer


@dataclass
class SheetAnswer:
    """What to change in one data sheet of the original workbook."""

    header_row: int
    cells: dict[tuple[int, int], CellValue] = field(default_factory=dict)  # (row, col) → value
    results: dict[int, tuple[CellValue, ...]] = field(default_factory=dict)  # row → result cells
    neutralise: set[tuple[int, int]] = field(default_factory=set)  # formula-like cells


@dataclass(frozen=True)
class ResultLayout:
    group_title: str  # written above the first result column
    headers: tuple[str, ...]  # result columns appended after the last column (reused if present)
    sheet_name: str  # the added result sheet (replaced if present: it is ours)
    sheet_headers: tuple[str, ...]


def write_answer(
    raw: bytes | None,
    answers: dict[str, SheetAnswer],
    layout: ResultLayout,
    result_rows: Iterable[tuple[CellValue, ...]],
) -> bytes:
    """The original workbook with owned cells, result columns and a result sheet; a new workbook
    holding only the result sheet when there is no usable original (``raw`` None)."""
    if raw is None:
        workbook = Workbook()
        workbook.active.title = layout.sheet_name  # type: ignore[union-attr]
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = load_workbook(io.BytesIO(raw), keep_vba=is_macro_workbook(raw),
                                     data_only=False, keep_links=True)
    for sheet, answer in answers.items():
        _apply(workbook[sheet], answer, layout)
    if layout.sheet_name in workbook.sheetnames and raw is not None:
        del workbook[layout.sheet_name]
    summary = (workbook[layout.sheet_name] if layout.sheet_name in workbook.sheetnames
               else workbook.create_sheet(layout.sheet_name))
    summary.append(list(layout.sheet_headers))
    for number, values in enumerate(result_rows, start=2):
        values = tuple(map(_writable, values))
        summary.append(list(values))
        for column, value in enumerate(values, start=1):
            if isinstance(value, str) and is_formula_like(value):
                _as_text(summary.cell(row=number, column=column), value)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _apply(ws: Worksheet, answer: SheetAnswer, layout: ResultLayout) -> None:
    for (r, c) in answer.neutralise:
        cell = ws.cell(row=r, column=c)
        if isinstance(cell, MergedCell) or cell.value is None:
            continue
        value = cell.value
        text = value if isinstance(value, str) else str(getattr(value, "text", value))
        _as_text(cell, text)
    for (r, c), value in answer.cells.items():
        value = _writable(value)
        cell = ws.cell(row=r, column=c)
        if isinstance(cell, MergedCell):
            continue  # covered by a merge: the anchor holds the value
        if isinstance(value, str) and is_formula_like(value):
            _as_text(cell, value)
        else:
            cell.value = value
    if not answer.results:
        return
    first = _result_columns(ws, answer.header_row, layout)
    for r, values in answer.results.items():
        for offset, value in enumerate(map(_writable, values)):
            cell = ws.cell(row=r, column=first + offset)
            if isinstance(cell, MergedCell):
                continue
            if isinstance(value, str) and is_formula_like(value):
                _as_text(cell, value)
            else:
                cell.value = value


def _result_columns(ws: Worksheet, header_row: int, layout: ResultLayout) -> int:
    """Column of the first result header: reused when the workbook was answered before."""
    wanted = norm(layout.headers[0])
    last = 0
    for cell in ws[header_row]:
        if cell.value is not None:
            last = max(last, cell.column)
            if isinstance(cell.value, str) and norm(cell.value) == wanted:
                return int(cell.column)
    first = max(last, ws.max_column if ws.max_row >= header_row else 0) + 1
    if header_row >= 2:
        ws.cell(row=header_row - 1, column=first).value = layout.group_title
    for offset, header in enumerate(layout.headers):
        ws.cell(row=header_row, column=first + offset).value = header
    return first


def _writable(value: CellValue) -> CellValue:
    """Our own values (extracted text, messages) without characters a worksheet cannot hold."""
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def _as_text(cell: Any, text: str) -> None:
    """Store ``text`` as a string cell with Excel's quote prefix: shown as typed, never run."""
    cell.value = None
    cell._value = text  # bypass openpyxl's "starts with = means formula" inference
    cell.data_type = "s"
    cell.quotePrefix = True
