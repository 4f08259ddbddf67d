"""The clothing product-information notice (상품정보제공고시 의류) and declared attributes.

Coupang's nine 의류 item names (CONFIRMED, CPDOC sample) are the common legal list; TMON uses the
same Korean names in ``productInfos`` (INFERRED); WeMakePrice numbers them (its own table in its
``native.py``). Names are compared without spaces so ``제조자(수입자)`` and ``제조자 (수입자)`` match.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping

CLOTHING = "의류"
PLACEHOLDER = "상세페이지 참조"  # what sellers and portals write when a value is in the detail page

# (notice item name as Coupang spells it, DeclaredAttributes field), in the legal order.
CLOTHING_ITEMS: tuple[tuple[str, str], ...] = (
    ("제품 소재", "material"),
    ("색상", "color"),
    ("치수", "size"),
    ("제조자(수입자)", "manufacturer"),
    ("제조국", "country"),
    ("세탁방법 및 취급시 주의사항", "care"),
    ("제조연월", "manufactured"),
    ("품질보증기준", "quality_assurance"),
    ("A/S 책임자와 전화번호", "after_service"),
)
ATTRIBUTE_FIELDS = tuple(f for _, f in CLOTHING_ITEMS)

_COLOR_AXES = {"색상", "컬러", "color", "colour", "색깔"}
_SIZE_AXES = {"사이즈", "치수", "size", "크기"}
_PLACEHOLDERS = {"상세페이지참조", "상세설명참조", "상세정보별도표기", "상세페이지참고", "상세정보참조"}


@functools.lru_cache(maxsize=4096)
def norm(text: str) -> str:
    """Compare-form of a Korean label: NFC, no whitespace, middle dots unified, lower case."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("·", "∙").replace("•", "∙").replace("ㆍ", "∙")
    return re.sub(r"\s+", "", text).lower()


_FIELD_BY_NAME = {norm(name): f for name, f in CLOTHING_ITEMS}


def field_for(item_name: str) -> str | None:
    return _FIELD_BY_NAME.get(norm(item_name))


def is_clothing(notice_category: object) -> bool:
    return isinstance(notice_category, str) and norm(notice_category) == norm(CLOTHING)


def is_placeholder(value: str) -> bool:
    return norm(value) in _PLACEHOLDERS


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


_YM = re.compile(r"^\s*(\d{4})\s*(?:[-./년]\s*)?(\d{1,2})\s*(?:월)?\.?\s*$")


def normalise_year_month(text: str) -> str | None:
    """2025-03, 2025.3, 2025년 3월, 202503 → "2025-03"; None when it is not a year-month."""
    match = _YM.match(text)
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not 1900 <= year <= 2100 or not 1 <= month <= 12:
        return None
    return f"{year:04d}-{month:02d}"


def declared_attribute_values(
    notice: Iterable[tuple[str, object]],
    options: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, str | None]:
    """Attributes from clothing-notice (item name, value) pairs; colour/size fall back to the
    values of option axes named 색상/사이즈 when the notice does not state them. The fields of a
    :class:`DeclaredAttributes` as data, validated inside the event's own pass."""
    values: dict[str, str | None] = {}
    for name, raw in notice:
        field = field_for(name)
        if field is None or raw is None:
            continue
        text = str(raw).strip()
        if text and not is_placeholder(text):
            values.setdefault(field, text[:1000])
    for axis, option_values in (options or {}).items():
        target = ("color" if norm(axis) in _COLOR_AXES else
                  "size" if norm(axis) in _SIZE_AXES else None)
        if target and target not in values:
            unique = list(dict.fromkeys(v.strip() for v in option_values if v and v.strip()))
            if unique:
                values[target] = ", ".join(unique)[:1000]
    manufactured_raw = values.pop("manufactured", None)
    manufactured = normalise_year_month(manufactured_raw) if manufactured_raw else None
    values["manufactured"] = manufactured
    values["manufactured_raw"] = manufactured_raw if manufactured is None else None
    return values


_CLOTHING_TOP_LEVELS = ("T100", "T200", "T300", "T400", "T500")


def is_clothing_taxonomy(taxonomy_id: str | None) -> bool:
    """Whether products of this taxonomy id take the 의류 notice (shoes and hats do not)."""
    from hanger.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    if not taxonomy_id or taxonomy_id not in taxonomy.nodes:
        return False
    return taxonomy.top_level(taxonomy_id) in _CLOTHING_TOP_LEVELS


def clothing_values(current: Mapping[str, object], fill: Mapping[str, str]) -> dict[str, str]:
    """Values to write into a 의류 notice: for each item *name* whose current value is blank, the
    extracted value, else the placeholder (portals require all nine items to be filled); an item
    the seller left as "상세페이지 참조" gets the extracted value when there is one (the value read
    from the care-label photo of that very detail page), else stays as the seller wrote it."""
    out: dict[str, str] = {}
    for name, field in CLOTHING_ITEMS:
        value = current.get(name)
        if is_blank(value):
            out[name] = fill.get(field, PLACEHOLDER)
        elif isinstance(value, str) and is_placeholder(value) and fill.get(field):
            out[name] = fill[field]
    return out
