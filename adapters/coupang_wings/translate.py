"""Coupang ⇄ canonical, as pure functions (no I/O): workbook rows and Open API products.

``to_canonical(native, ctx)`` takes a native envelope (see :mod:`.native`) and returns a
``ProductSubmitted`` or the issues that reject it. ``from_canonical(event, original)`` returns the
native answer: for the workbook, the same rows with only owned cells changed (category, 의류 notice
values we fill, the two result columns); for the Open API, Coupang's read-back response with only
``displayCategoryCode``, filled notices, ``statusName`` and ``sellerProductId`` changed.

Row-level checks (:func:`check_row`) and grouping (:func:`group_rows`) live here too, so the file
shell only reads cells and writes bytes.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from adapters.common.canonical import Draft, body_to_canonical, submitted
from adapters.common.categories import replacement_code
from adapters.common.compiled import CompiledSpec
from adapters.common.images import check_image_uri, split_uri_list
from adapters.common.issues import Issue, error, has_errors, warning
from adapters.common.notices import (
    CLOTHING,
    CLOTHING_ITEMS,
    clothing_values,
    is_blank,
    is_clothing,
    is_clothing_taxonomy,
    norm,
)
from adapters.common.pipeline import Context, Native, Translation, copy_native
from adapters.common.results import ReturnInfo, answer_body, final_taxonomy, return_info
from adapters.common.safety import is_formula_like
from adapters.common.validate import list_at, parse_krw
from adapters.coupang_wings import native as n
from hanger.events import ImageRole, Portal, ProductSubmitted, ResultEvent

PORTAL = Portal.COUPANG_WINGS
_API_PRODUCT = CompiledSpec(n.PRODUCT_SPEC)
_CATEGORY_CELL = re.compile(r"^\s*\[\s*(\d+)\s*\]\s*(.*?)\s*$", re.DOTALL)


def to_canonical(native: Native, ctx: Context) -> Translation:
    if native.get("format") == n.WORKBOOK_FORMAT:
        return workbook_to_canonical(native, ctx)
    if native.get("format") == n.API_FORMAT:
        return api_to_canonical(native, ctx)
    return [error("unknown_format", f"not a Coupang native envelope: {native.get('format')!r}")]


def from_canonical(event: ResultEvent, original: Native) -> Native:
    if original.get("format") == n.WORKBOOK_FORMAT:
        return workbook_from_canonical(event, original)
    return api_from_canonical(event, original)


# ---------------------------------------------------------------------------------------------
# Workbook


@dataclass(frozen=True)
class Layout:
    """Where things are in one sheet, by column key (derived from the header row)."""

    keys: dict[str, str]  # normalised header → key of its first column
    option_pairs: tuple[tuple[str, str, bool], ...]  # (type key, value key, is 구매옵션)
    notice_values: tuple[str, ...]  # keys of 상품고시정보값1..14 present
    # aliases → key, filled as asked: every row asks the same few dozen questions
    _found: dict[tuple[str, ...], str | None] = field(default_factory=dict, compare=False,
                                                      repr=False)

    def key(self, aliases: tuple[str, ...]) -> str | None:
        try:
            return self._found[aliases]
        except KeyError:
            found = next((k for a in aliases if (k := self.keys.get(norm(a)))), None)
            self._found[aliases] = found
            return found


def layout_of(columns: list[dict[str, Any]]) -> Layout:
    """The layout of a native's ``columns`` (cached: every product of a sheet shares it)."""
    return _layout(tuple((c["key"], c.get("header"), c.get("group")) for c in columns))


@functools.lru_cache(maxsize=64)
def _layout(spec: tuple[tuple[str, str | None, str | None], ...]) -> Layout:
    columns: list[dict[str, Any]] = [{"key": k, "header": h, "group": g} for k, h, g in spec]
    keys: dict[str, str] = {}
    for column in columns:
        header = column.get("header")
        if header:
            keys.setdefault(norm(header), column["key"])
    types = [c for c in columns if c.get("header") and
             (norm(c["header"]).startswith(norm("옵션유형")) or
              norm(c["header"]).startswith(norm("속성타입")))]
    values = [c for c in columns if c.get("header") and
              (norm(c["header"]).startswith(norm("옵션값")) or
               norm(c["header"]).startswith(norm("속성값")))]
    pairs = []
    for ordinal, (t, v) in enumerate(zip(types, values, strict=False), start=1):
        group = norm(t.get("group") or "")
        purchase = ("구매" in group) if group and ("구매" in group or "검색" in group) \
            else ordinal <= n.PURCHASE_OPTION_PAIRS
        pairs.append((t["key"], v["key"], purchase))
    notices = tuple(keys[norm(h)] for h in n.NOTICE_VALUES if norm(h) in keys)
    return Layout(keys, tuple(pairs), notices)


def parse_category_cell(value: object) -> tuple[str | None, str | None]:
    """``[77390] 완구/취미>스포츠/야외완구>물총`` → ("77390", "완구/취미>…"); (None, text) if not."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    match = _CATEGORY_CELL.match(str(value))
    if not match:
        return None, str(value)
    return match.group(1), match.group(2) or None


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def check_row(layout: Layout, cells: dict[str, Any], row: int) -> list[Issue]:
    """Issues of one workbook row, as Wing would raise them (see native.py for the rules)."""
    issues: list[Issue] = []
    for aliases in n.REQUIRED_VALUES:
        key = layout.key(aliases)
        if key is not None and is_blank(cells.get(key)):
            issues.append(error("missing_required", f"필수 항목이 비어 있습니다: {aliases[0]}",
                                aliases[0], row))
    cat_key = layout.key(n.CATEGORY)
    if cat_key is not None and not is_blank(cells.get(cat_key)):
        code, _ = parse_category_cell(cells[cat_key])
        if code is None:
            issues.append(error("invalid_category_cell",
                                "카테고리는 '[코드] 대>중>소' 형식이어야 합니다", n.CATEGORY[0], row))
    name_key = layout.key(n.NAME)
    if name_key is not None and len(cell_text(cells.get(name_key))) > n.MAX_NAME:
        issues.append(error("too_long", f"등록상품명은 {n.MAX_NAME}자 이하여야 합니다",
                            n.NAME[0], row))
    issues += _check_amounts(layout, cells, row)
    for header in n.YES_NO:
        key = layout.key((header,))
        if key is not None and not is_blank(cells.get(key)) and cell_text(cells[key]) not in ("Y", "N"):
            issues.append(error("invalid_value", f"{header}는 Y 또는 N이어야 합니다", header, row))
    issues += _check_images(layout, cells, row)
    for type_key, value_key, _ in layout.option_pairs:
        if is_blank(cells.get(type_key)) != is_blank(cells.get(value_key)):
            issues.append(error("incomplete_option", "옵션유형과 옵션값은 함께 입력해야 합니다",
                                type_key, row))
    for key, value in cells.items():
        if isinstance(value, str) and is_formula_like(value):  # most cells are empty
            issues.append(warning("formula_neutralised",
                                  "수식으로 실행될 수 있는 값입니다: 실행하지 않고 텍스트로 보존합니다",
                                  key, row))
    return issues


def _check_amounts(layout: Layout, cells: dict[str, Any], row: int) -> list[Issue]:
    issues: list[Issue] = []
    for aliases, minimum, step, maximum in (
        (n.PRICE, 10, 10, 1_000_000_000),
        (n.LIST_PRICE, 0, 1, 1_000_000_000),
        (n.STOCK, 0, 1, 99_999),
        (n.LEAD_TIME, 0, 1, 365),
    ):
        key = layout.key(aliases)
        if key is None or is_blank(cells.get(key)):
            continue
        amount = parse_krw(cells[key])
        if amount is None:
            issues.append(error("invalid_number", f"{aliases[0]}: 숫자가 아닙니다 "
                                                  f"({cell_text(cells[key])[:40]!r})", aliases[0], row))
        elif not minimum <= amount <= maximum or amount % step:
            issues.append(error("out_of_range",
                                f"{aliases[0]}: {amount}은(는) {minimum}~{maximum}"
                                + (f", {step}원 단위" if step > 1 else "") + "여야 합니다",
                                aliases[0], row))
    return issues


def _check_images(layout: Layout, cells: dict[str, Any], row: int) -> list[Issue]:
    issues: list[Issue] = []
    for aliases, many in ((n.MAIN_IMAGE, False), (n.OBLONG_IMAGE, False),
                          (n.EXTRA_IMAGES, True), (n.USED_IMAGE, True)):
        key = layout.key(aliases)
        if key is None or is_blank(cells.get(key)):
            continue
        uris = split_uri_list(cell_text(cells[key])) if many else [cell_text(cells[key])]
        if many and aliases is n.EXTRA_IMAGES and len(uris) > n.MAX_EXTRA_IMAGES:
            issues.append(error("too_many_images", f"추가이미지는 {n.MAX_EXTRA_IMAGES}개까지입니다",
                                aliases[0], row))
        issues += [i for u in uris if (i := check_image_uri(u, aliases[0], row)) is not None]
    return issues


def group_key(layout: Layout, cells: dict[str, Any]) -> tuple[str, str]:
    """Rows of one product: same 카테고리 + 등록상품명 (INFERRED, see native.py)."""
    cat_key, name_key = layout.key(n.CATEGORY), layout.key(n.NAME)
    return (cell_text(cells.get(cat_key)) if cat_key else "",
            cell_text(cells.get(name_key)) if name_key else "")


def workbook_product_id(layout: Layout, rows: list[dict[str, Any]]) -> str:
    sku_key = layout.key(n.SKU)
    sku = cell_text(rows[0]["cells"].get(sku_key)) if sku_key else ""
    if sku:
        return sku
    _, name = group_key(layout, rows[0]["cells"])
    return "name-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]


def workbook_to_canonical(native: Native, ctx: Context) -> ProductSubmitted | list[Issue]:
    layout = layout_of(native["columns"])
    rows: list[dict[str, Any]] = native["rows"]
    first_row = rows[0]["row"]
    issues: list[Issue] = []
    if not ctx.seller_id:
        issues.append(error("missing_seller_id",
                            "판매자 ID가 없습니다 (워크북에는 없으니 --seller로 지정하세요)", None,
                            first_row))
    images = _workbook_images(layout, rows)
    if not images:
        issues.append(error("missing_image", "대표(옵션)이미지가 없습니다", n.MAIN_IMAGE[0],
                            first_row))
    if has_errors(issues):
        return issues
    first = rows[0]["cells"]
    cat_key = layout.key(n.CATEGORY)
    code, path = parse_category_cell(first.get(cat_key) if cat_key else None)
    notice_pairs: list[tuple[str, object]] = []
    notice_key = layout.key(n.NOTICE_CATEGORY)
    if notice_key and is_clothing(first.get(notice_key)):
        notice_pairs = [(name, first.get(key)) for (name, _), key
                        in zip(CLOTHING_ITEMS, layout.notice_values, strict=False)]
    options: dict[str, list[str]] = {}
    for row in rows:
        for type_key, value_key, _ in layout.option_pairs:
            axis = cell_text(row["cells"].get(type_key))
            if axis:
                options.setdefault(axis, []).append(cell_text(row["cells"].get(value_key)))
    name_key = layout.key(n.NAME)
    draft = Draft(product_id=workbook_product_id(layout, rows),
                  title=cell_text(first.get(name_key)) if name_key else "",
                  category_code=code, category_path=path, images=images, notice=notice_pairs,
                  options=options)
    return submitted(PORTAL, draft, ctx, native, [r["cells"] for r in rows], first_row)


def _workbook_images(layout: Layout, rows: list[dict[str, Any]]) -> dict[str, ImageRole]:
    uris: dict[str, ImageRole] = {}
    for row in rows:
        for aliases, role, many in ((n.MAIN_IMAGE, ImageRole.MAIN, False),
                                    (n.OBLONG_IMAGE, ImageRole.MAIN, False),
                                    (n.EXTRA_IMAGES, ImageRole.DETAIL, True),
                                    (n.USED_IMAGE, ImageRole.DETAIL, True)):
            key = layout.key(aliases)
            text = cell_text(row["cells"].get(key)) if key else ""
            for uri in (split_uri_list(text) if many else [text] if text else []):
                uris.setdefault(uri, role)
    return uris


def workbook_from_canonical(event: ResultEvent,
                            original: Native) -> Native:
    info = return_info(event)
    result: Native = copy_native(original)
    layout = layout_of(result["columns"])
    cat_key, notice_key = layout.key(n.CATEGORY), layout.key(n.NOTICE_CATEGORY)
    for row in result["rows"]:
        cells = row["cells"]
        if cat_key and info.taxonomy_id:
            declared_code, _ = parse_category_cell(cells.get(cat_key))
            code = replacement_code(PORTAL, declared_code, info.taxonomy_id)
            if code:
                cells[cat_key] = f"[{code}] {n.CATEGORY_PATHS.get(code, '')}".rstrip()
        if notice_key:
            _fill_workbook_notice(layout, cells, notice_key, info, final_taxonomy(event))
        cells[n.RESULT_HEADERS[0]] = info.status_ko
        cells[n.RESULT_HEADERS[1]] = info.message
    present = {c["key"] for c in result["columns"]}
    for header in n.RESULT_HEADERS:
        if header not in present:
            result["columns"].append({"key": header, "header": header, "group": n.RESULT_GROUP,
                                      "letter": None})
    return result


def _fill_workbook_notice(layout: Layout, cells: dict[str, Any], notice_key: str,
                          info: ReturnInfo, taxonomy_id: str | None) -> None:
    category = cells.get(notice_key)
    adding = is_blank(category) and is_clothing_taxonomy(taxonomy_id)
    if not (adding or is_clothing(category)):
        return
    keys = dict(zip((name for name, _ in CLOTHING_ITEMS), layout.notice_values, strict=False))
    current = {name: cells.get(key) for name, key in keys.items()}
    values = clothing_values(current, info.fill)
    if adding:
        cells[notice_key] = CLOTHING
    for name, value in values.items():
        cells[keys[name]] = value


# ---------------------------------------------------------------------------------------------
# Open API seller product


def api_product_id(body: dict[str, Any]) -> str:
    if body.get("sellerProductId") not in (None, ""):
        return str(body["sellerProductId"])
    items = list_at(body, "items")
    if items and isinstance(items[0], dict) and items[0].get("externalVendorSku"):
        return str(items[0]["externalVendorSku"])
    key = f"{body.get('vendorId')}\x1f{body.get('sellerProductName')}"
    return "name-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def check_api_product(body: dict[str, Any]) -> list[Issue]:
    issues = _API_PRODUCT.validate(body)
    items = list_at(body, "items")
    skus: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            issues.append(error("wrong_type", f"items[{index}] is not an object", f"items[{index}]"))
            continue
        images = [i for i in item.get("images") or [] if isinstance(i, dict)]
        if images and not any(i.get("imageType") == "REPRESENTATION" for i in images):
            issues.append(error("missing_representation_image",
                                "대표이미지(REPRESENTATION)가 없습니다", f"items[{index}].images"))
        for j, image in enumerate(images):
            if not image.get("vendorPath") and not image.get("cdnPath"):
                issues.append(error("missing_required", "vendorPath 또는 cdnPath가 필요합니다",
                                    f"items[{index}].images[{j}]"))
        sku = item.get("externalVendorSku")
        if sku:
            if sku in skus:
                issues.append(error("duplicate_id", f"externalVendorSku {sku} 중복",
                                    f"items[{index}].externalVendorSku"))
            skus.add(sku)
        pairs = [(a.get("attributeTypeName"), a.get("attributeValueName"))
                 for a in item.get("attributes") or [] if isinstance(a, dict)]
        if len(pairs) != len(set(pairs)):
            issues.append(error("duplicate_attribute", "같은 옵션 유형/값이 두 번 있습니다",
                                f"items[{index}].attributes"))
    return issues


def api_to_canonical(native: Native, ctx: Context) -> Translation:
    return body_to_canonical(PORTAL, native, ctx, check_api_product, read_api_product)


def read_api_product(body: dict[str, Any]) -> Draft:
    images: dict[str, ImageRole] = {}
    for item in body["items"]:
        for image in sorted(item["images"], key=lambda i: i["imageOrder"]):
            uri = image.get("vendorPath") or n.CDN_BASE + str(image["cdnPath"]).lstrip("/")
            images.setdefault(uri, ImageRole.MAIN if image["imageType"] in (
                "REPRESENTATION", "REP_OBLONG_ORIGIN") else ImageRole.DETAIL)
    notice_pairs = [(x["noticeCategoryDetailName"], x.get("content"))
                    for x in body["items"][0].get("notices") or []
                    if is_clothing(x.get("noticeCategoryName"))]
    options: dict[str, list[str]] = {}
    for item in body["items"]:
        for attribute in item["attributes"]:
            options.setdefault(attribute["attributeTypeName"], []).append(
                attribute["attributeValueName"])
    return Draft(product_id=api_product_id(body), title=body["sellerProductName"],
                 category_code=body.get("displayCategoryCode"), images=images,
                 notice=notice_pairs, options=options, seller_id=str(body["vendorId"]))


def api_from_canonical(event: ResultEvent, original: Native) -> Native:
    info, body = answer_body(PORTAL, event, original, "displayCategoryCode")
    taxonomy_id = final_taxonomy(event)
    for item in body.get("items", []):
        _fill_api_notices(item, info, taxonomy_id)
    body["statusName"] = n.STATUS_BY_RESULT[info.status]
    if info.product_id is not None:
        body["sellerProductId"] = info.product_id
    return {"code": "SUCCESS", "message": info.message, "data": body}


def _fill_api_notices(item: dict[str, Any], info: ReturnInfo, taxonomy_id: str | None) -> None:
    notices = item.get("notices")
    clothing = [x for x in notices or [] if is_clothing(x.get("noticeCategoryName"))]
    adding = not notices and is_clothing_taxonomy(taxonomy_id)
    if not (clothing or adding):
        return
    current = {x["noticeCategoryDetailName"]: x.get("content") for x in clothing}
    by_norm = {norm(k): k for k in current}
    current = {name: current.get(by_norm.get(norm(name), name)) for name, _ in CLOTHING_ITEMS}
    values = clothing_values(current, info.fill)
    if adding:
        item["notices"] = []
    for name, value in values.items():
        existing = next((x for x in clothing if norm(x["noticeCategoryDetailName"]) == norm(name)),
                        None)
        if existing is not None:
            existing["content"] = value
        else:
            item["notices"].append({"noticeCategoryName": CLOTHING,
                                    "noticeCategoryDetailName": name, "content": value})


def api_rejection(issues: list[Issue]) -> dict[str, Any]:
    errors = [i for i in issues if i.is_error]
    first = errors[0].message if errors else ""
    return {
        "code": "ERROR",
        "message": f"{n.ERROR_MESSAGE}: {first}" if first else n.ERROR_MESSAGE,
        "details": "; ".join(i.describe() for i in issues),
        "errorItems": [i.to_dict() for i in issues],
    }


def api_accepted(event: ProductSubmitted, issues: list[Issue]) -> dict[str, Any]:
    return {
        "code": "SUCCESS",
        "message": f"접수되었습니다 (submission {event.submission_id})",
        "data": None,
        "details": "; ".join(i.describe() for i in issues),
    }
