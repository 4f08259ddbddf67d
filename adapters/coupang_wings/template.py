"""Writes Wing-style bulk-registration workbooks (V4.6 ``기본`` layout, :data:`native.COLUMNS_V46`):
group titles on row 1 (merged), names on row 2, 필수/선택 marks on row 3, guidance on row 4, data
from row 5, plus ``hidden``/``env`` sheets like Coupang's file. Used for fixtures, tests and the
benchmark, and handy for sellers who need a blank template. Not a copy of Coupang's file.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from adapters.common.notices import norm
from adapters.coupang_wings import native as n

_REQUIRED = {norm(a[0]) for a in n.REQUIRED_COLUMNS}


def column_keys(columns: tuple[tuple[str, str], ...] = n.COLUMNS_V46) -> list[str]:
    """The keys the reader gives these columns (``구매옵션/옵션유형1`` for repeated headers)."""
    counts: dict[str, int] = {}
    for _, header in columns:
        counts[header] = counts.get(header, 0) + 1
    return [f"{g}/{h}" if counts[h] > 1 else h for g, h in columns]


def build_workbook(
    rows: Iterable[Mapping[str, Any]],
    *,
    sheet: str = "기본",
    columns: tuple[tuple[str, str], ...] = n.COLUMNS_V46,
    write_only: bool = False,
) -> bytes:
    """A workbook whose data rows hold ``rows`` (column key → value, see :func:`column_keys`)."""
    keys = column_keys(columns)
    workbook = Workbook(write_only=write_only)
    if write_only:
        ws = workbook.create_sheet(sheet)
    else:
        ws = workbook.active
        assert ws is not None
        ws.title = sheet
    group_row: list[Any] = []
    previous = None
    for group, _ in columns:
        group_row.append(group if group != previous else None)
        previous = group
    ws.append(group_row)
    ws.append([h for _, h in columns])
    ws.append(["필수" if norm(h) in _REQUIRED else "선택" for _, h in columns])
    ws.append([_guidance(h) for _, h in columns])
    for row in rows:
        ws.append([row.get(k) for k in keys])
    if not write_only:
        start = 1
        for index in range(1, len(columns) + 1):
            last = index == len(columns) or columns[index][0] != columns[index - 1][0]
            if last:
                if index > start:
                    ws.merge_cells(f"{get_column_letter(start)}1:{get_column_letter(index)}1")
                start = index + 1
    hidden = workbook.create_sheet("hidden")
    hidden.append(["카테고리 목록"])
    for code, path in n.CATEGORY_PATHS.items():
        hidden.append([f"[{code}] {path}"])
    env = workbook.create_sheet("env")
    env.append(["version", "V4.6"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _guidance(header: str) -> str | None:
    return {
        "카테고리": "[코드] 대>중>소 형식으로 입력",
        "판매가격": "10원 단위, 숫자만",
        "추가이미지": "URL을 쉼표(,)로 구분, 최대 9개",
        "상품고시정보 카테고리": "예: 의류, 기타 재화",
    }.get(header)
