"""``hanger db seed``: load MDs and sellers from the CSV or Excel files an admin already keeps.

MD file columns: 사번, 이름, 담당품목 (taxonomy ids separated by ';').
Seller file columns: portal, 판매자ID, 담당MD (may be empty), 판매품목 (';'), 등록일자 (YYYY-MM-DD).
``.xlsx`` files: the first sheet, header row first; columns are found by header text. Cells are
read as stored values, never evaluated, and formula cells are refused.
Upserts, so running it again with an edited file updates the rows.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import asyncpg

from hanger.errors import InputError


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(";") if v.strip()]


def _rows(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        header, rows = _xlsx_rows(path)
    else:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            header, rows = list(reader.fieldnames or []), list(reader)
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError("missing_column", f"{path}: missing column(s) {', '.join(missing)}")
    return rows


def _cell_text(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value).strip()


def _xlsx_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(path, read_only=True, data_only=False)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        raise InputError("unreadable_workbook", f"{path}: {exc}") from exc
    try:
        rows = wb.worksheets[0].iter_rows()
        header = [_cell_text(c.value) for c in next(rows, ())]
        out = []
        for number, cells in enumerate(rows, start=2):
            formulas = [c.coordinate for c in cells if getattr(c, "data_type", None) == "f"]
            if formulas:
                raise InputError("formula_not_allowed",
                                 f"{path} row {number}: formula in {', '.join(formulas)}")
            values = [_cell_text(c.value) for c in cells]
            if any(values):
                out.append({h: (values[i] if i < len(values) else "")
                            for i, h in enumerate(header) if h})
        return header, out
    finally:
        wb.close()


async def seed(conn: asyncpg.Connection, mds: Path, sellers: Path | None) -> tuple[int, int]:
    md_rows = _rows(mds, ("사번", "이름", "담당품목"))
    seller_rows = _rows(sellers, ("portal", "판매자ID", "담당MD", "판매품목", "등록일자")) if sellers else []
    async with conn.transaction():
        for r in md_rows:
            await conn.execute(
                """INSERT INTO md (md_id, name, categories) VALUES ($1, $2, $3)
                   ON CONFLICT (md_id) DO UPDATE SET name = $2, categories = $3""",
                r["사번"].strip(), r["이름"].strip(), _split(r["담당품목"]),
            )
        for r in seller_rows:
            registered = dt.date.fromisoformat(r["등록일자"]) if r["등록일자"].strip() else None
            await conn.execute(
                """INSERT INTO seller (portal, seller_id, md_id, product_lines, registered_on)
                   VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (portal, seller_id) DO UPDATE
                   SET md_id = $3, product_lines = $4, registered_on = $5""",
                r["portal"].strip(), r["판매자ID"].strip(), r["담당MD"].strip() or None,
                _split(r["판매품목"]), registered,
            )
    return len(md_rows), len(seller_rows)
