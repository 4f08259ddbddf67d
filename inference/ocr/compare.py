"""Compare the seller's declared attributes with what the care label says (pure functions).

A field is compared only when both sides have a value that normalises; each disagreement is a
:class:`Mismatch` (field, declared as given, found normalised). Rules:

- material: with percentages, the same fibers with percentages within ``MATERIAL_TOLERANCE`` points
  for every part both name (a declaration without parts is the shell, 겉감); without percentages
  ('면', '면/폴리'), every declared fiber must appear on the label.
- size: the two sizes must share a size token ('M' matches 'M(95)' and 'S/M/L'; 'F' = 'FREE').
- country: the same country ('한국' = 'MADE IN KOREA' = '대한민국').
- manufactured: the same year-month ('24/03' = '2024.03').
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inference.ocr import fuzzy, normalise, vocab

if TYPE_CHECKING:
    from inference.ocr.reader import LabelReading

MATERIAL_TOLERANCE = 5  # percentage points a seller's rounding may differ by


@dataclass(frozen=True)
class Mismatch:
    field: str  # material | size | country | manufactured
    declared: str
    found: str


def compare_declared(
    reading: LabelReading, *, material: str | None, size: str | None, country: str | None,
    manufactured: str | None,
) -> tuple[Mismatch, ...]:
    """Mismatches between the declared values (plain strings, manufactured 'YYYY-MM') and ``reading``."""
    return compare_values(
        declared_material=material, declared_size=size, declared_country=country,
        declared_manufactured=manufactured,
        found_material=[(m.part, m.fiber, m.percent) for m in reading.material],
        found_size=reading.size.value if reading.size else None,
        found_country=reading.country.value if reading.country else None,
        found_manufactured=reading.manufactured.value if reading.manufactured else None,
    )


def compare_values(
    *, declared_material: str | None, declared_size: str | None, declared_country: str | None,
    declared_manufactured: str | None, found_material: Sequence[tuple[str, str, int]] | str | None,
    found_size: str | None, found_country: str | None, found_manufactured: str | None,
) -> tuple[Mismatch, ...]:
    """The same on plain values; ``found_material`` as (part, fiber, percent) triples or label text."""
    out: list[Mismatch] = []
    if isinstance(found_material, str):
        found_material = [(c.part, c.fiber, c.percent) for c in normalise.material(found_material)]
    if declared_material and found_material and not material_agrees(declared_material, found_material):
        out.append(Mismatch("material", declared_material, normalise.format_material(list(found_material))))
    if declared_size and found_size:
        d, f = normalise.size_in(declared_size), normalise.size_in(found_size)
        if d and f and not _size_tokens(d) & _size_tokens(f):
            out.append(Mismatch("size", declared_size, f))
    if declared_country and found_country:
        d_c, f_c = normalise.country(declared_country), normalise.country(found_country)
        if d_c and f_c and d_c[0] != f_c[0]:
            out.append(Mismatch("country", declared_country, f_c[0]))
    if declared_manufactured and found_manufactured:
        d_ym, f_ym = normalise.year_month(declared_manufactured), normalise.year_month(found_manufactured)
        if d_ym and f_ym and d_ym != f_ym:
            out.append(Mismatch("manufactured", declared_manufactured, f_ym))
    return tuple(out)


def material_agrees(declared: str, found: Sequence[tuple[str, str, int]]) -> bool:
    parsed = normalise.material(declared)
    if parsed:
        declared_parts: dict[str, dict[str, int]] = {}
        for c in parsed:
            declared_parts.setdefault(c.part, {})[c.fiber] = c.percent
        found_parts: dict[str, dict[str, int]] = {}
        for part, fiber, pct in found:
            found_parts.setdefault(part, {})[fiber] = pct
        shared = set(declared_parts) & set(found_parts)
        if not shared:
            shared = {vocab.DEFAULT_PART} if vocab.DEFAULT_PART in found_parts else set()
            declared_parts = {vocab.DEFAULT_PART: next(iter(declared_parts.values()))}
        for part in shared:
            d, f = declared_parts[part], found_parts[part]
            for fiber in set(d) | set(f):
                if abs(d.get(fiber, 0) - f.get(fiber, 0)) > MATERIAL_TOLERANCE:
                    return False
        return True
    # Fibers without percentages: each declared one must be on the label.
    found_fibers = {fiber for _, fiber, _ in found}
    for word in re.split(r"[\s,/+·&]+|및|와|과", declared):
        match = fuzzy.best("fiber", word, cutoff=80) if word.strip() else None
        if match and match[0] not in found_fibers:
            return False
    return True


def _size_tokens(size: str) -> set[str]:
    return {t for t in re.split(r"[/()\s,]+", size) if t}
