"""Spreadsheet safety: formula (CSV/DDE) injection and hostile .xlsx containers.

Formulas are never evaluated: workbooks are read with ``data_only=False`` so a formula cell arrives
as its text (``=HYPERLINK(...)``), which we treat as an ordinary string and flag. On output every
formula-like string in a data row is written as a *text* cell with Excel's quote prefix, so opening
the answer workbook never runs it; the characters themselves are unchanged (round-trip law).

An .xlsx is a zip. Before openpyxl sees it we check the container: an OLE2 file (legacy .xls, or
an encrypted workbook) renamed to .xlsx, something that is not a zip at all, and zip bombs (too many
entries, too large when inflated, or an inflation ratio no real workbook reaches). Python's zipfile
never inflates an entry beyond its declared size, so checking the declared sizes bounds the work.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

from adapters.common.issues import Issue, error

# OWASP "CSV injection": a cell starting with one of these may be run as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_NUMBER = re.compile(r"^[+-]?\d[\d,]*(\.\d+)?$")
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"


def is_formula_like(value: object) -> bool:
    """True for strings a spreadsheet could run (``=``, ``+``, ``-``, ``@`` …), numbers excepted."""
    if not isinstance(value, str) or not value:
        return False
    return value.startswith(_FORMULA_START) and not _NUMBER.match(value)


@dataclass(frozen=True)
class ZipLimits:
    """Limits for one uploaded workbook. A 10,000-row Wing workbook inflates to ~60 MB at a
    ratio below 100; these leave room for that and stop bombs long before memory is at risk."""

    max_file_bytes: int = 64 * 1024 * 1024
    max_entries: int = 2_000
    max_total_uncompressed: int = 512 * 1024 * 1024
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 1024 * 1024  # entries smaller than this are never a bomb


def check_xlsx_container(raw: bytes, limits: ZipLimits | None = None) -> list[Issue]:
    """Errors if ``raw`` is not a safe .xlsx/.xlsm container; an empty list when it is."""
    limits = limits or ZipLimits()
    if not raw:
        return [error("empty_file", "빈 파일입니다 (0 bytes)")]
    if len(raw) > limits.max_file_bytes:
        return [error("file_too_large",
                      f"file is {len(raw)} bytes; the limit is {limits.max_file_bytes}")]
    if raw.startswith(OLE2_MAGIC):
        return [error("xls_not_supported",
                      "legacy .xls (BIFF/OLE2) or password-protected workbook renamed to .xlsx; "
                      "save it as .xlsx/.xlsm without a password")]
    if not raw.startswith(ZIP_MAGIC):
        return [error("not_xlsx", "not an .xlsx/.xlsm workbook (no zip signature)")]
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return [error("not_xlsx", f"damaged workbook container: {exc}")]
    names = {i.filename for i in infos}
    if len(infos) > limits.max_entries:
        return [error("zip_bomb", f"{len(infos)} zip entries (limit {limits.max_entries})")]
    total = sum(i.file_size for i in infos)
    if total > limits.max_total_uncompressed:
        return [error("zip_bomb", f"inflates to {total} bytes "
                                  f"(limit {limits.max_total_uncompressed})")]
    for info in infos:
        if info.file_size < limits.ratio_floor_bytes:
            continue
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_ratio:
            return [error("zip_bomb", f"{info.filename} inflates {ratio:.0f}x "
                                      f"(limit {limits.max_ratio:.0f}x)")]
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        return [error("not_xlsx", "zip file without an Excel workbook part (xl/workbook.xml)")]
    return []


def is_macro_workbook(raw: bytes) -> bool:
    """An .xlsm (Wing's sellertool_upload.xlsm): keep its VBA project when we write it back."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            return "xl/vbaProject.bin" in archive.namelist()
    except zipfile.BadZipFile:
        return False
