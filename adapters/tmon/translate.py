"""TMON deal ⇄ canonical, as pure functions (see :mod:`.native` for the format and decisions).

``from_canonical`` returns the deal exactly as sent except ``categoryNo``, the 의류 ``productInfos``
values we fill, and the read-back fields TMON itself adds (``status``, ``salesStatus``,
``tmonDealNo``); a registered product is answered with TMON's create response around that deal.
"""

from __future__ import annotations

from typing import Any

from adapters.common.canonical import Draft, body_to_canonical
from adapters.common.compiled import CompiledSpec
from adapters.common.images import html_image_uris
from adapters.common.issues import Issue, error
from adapters.common.notices import (
    CLOTHING,
    CLOTHING_ITEMS,
    clothing_values,
    is_clothing,
    is_clothing_taxonomy,
    norm,
)
from adapters.common.pipeline import Context, Native, Translation
from adapters.common.results import ReturnInfo, answer_body, final_taxonomy
from adapters.common.validate import list_at
from adapters.tmon import native as n
from hanger.events import ImageRole, Portal, ProductSubmitted, ResultEvent

PORTAL = Portal.TMON
_DEAL = CompiledSpec(n.DEAL_SPEC)


def deal_id(body: dict[str, Any]) -> str | None:
    value = body.get("vendorDealNo")
    return str(value) if value not in (None, "") else None


def to_canonical(native: Native, ctx: Context) -> Translation:
    return body_to_canonical(PORTAL, native, ctx, check_deal, read_deal,
                             seller_by_transport="판매자(파트너)")


def check_deal(body: dict[str, Any]) -> list[Issue]:
    issues = _DEAL.validate(body)
    axes = list_at(body, "sections")
    seen: set[str] = set()
    options = list_at(body, "dealOptions")
    for index, option in enumerate(options):
        where = f"dealOptions[{index}]"
        if not isinstance(option, dict):
            issues.append(error("wrong_type", f"{where} is not an object", where))
            continue
        number = option.get("vendorDealOptionNo")
        if isinstance(number, str) and number:
            if number in seen:
                issues.append(error("duplicate_id", f"vendorDealOptionNo {number} 중복",
                                    f"{where}.vendorDealOptionNo"))
            seen.add(number)
        if not option.get("title") and not option.get("sections"):
            issues.append(error("missing_required", "title 또는 sections가 필요합니다", where))
        if axes and isinstance(option.get("sections"), list) and \
                len(option["sections"]) != len(axes):
            issues.append(error("option_sections_mismatch",
                                f"옵션 값 {len(option['sections'])}개, 딜 옵션축 {len(axes)}개",
                                f"{where}.sections"))
        if option.get("price") is not None and option.get("price") != option.get("salesPrice"):
            issues.append(error("price_mismatch", "price는 salesPrice와 같아야 합니다",
                                f"{where}.price"))
    images = list_at(body, "mainImages")
    if len(images) != len({str(i) for i in images}):
        issues.append(error("duplicate_image", "mainImages에 같은 이미지가 있습니다", "mainImages"))
    if body.get("kcAuthSubmitType") == "Y" and not body.get("kcAuths"):
        issues.append(error("missing_required", "kcAuthSubmitType Y에는 kcAuths가 필요합니다",
                            "kcAuths"))
    return issues


def read_deal(body: dict[str, Any]) -> Draft:
    images = dict.fromkeys(body["mainImages"], ImageRole.MAIN)
    if body.get("homeRecommendedImage"):
        images.setdefault(body["homeRecommendedImage"], ImageRole.DETAIL)
    # The deal's detail page is HTML; its photos (size charts, care labels, close-ups) are what
    # the care-label OCR reads for a TMON seller, who has no separate label-image field.
    for uri in html_image_uris(body.get("detailContents") or ""):
        images.setdefault(uri, ImageRole.DETAIL)
    notice = [(x.get("section", ""), x.get("description"))
              for group in body.get("productInfos") or [] if is_clothing(group.get("productType"))
              for x in group.get("productInfos") or []]
    options: dict[str, list[str]] = {}
    for position, axis in enumerate(body.get("sections") or []):
        options[axis] = [o["sections"][position] for o in body["dealOptions"]
                         if len(o.get("sections") or []) > position]
    return Draft(product_id=str(body["vendorDealNo"]), title=body["title"],
                 category_code=body.get("categoryNo"), images=images, notice=notice,
                 options=options)


def from_canonical(event: ResultEvent, original: Native) -> Native:
    info, deal = answer_body(PORTAL, event, original, "categoryNo")
    _fill_product_infos(deal, info, final_taxonomy(event))
    deal["status"] = info.status_ko
    deal["salesStatus"] = n.READ_BACK_SALES_STATUS
    if info.product_id is None:
        return deal
    deal["tmonDealNo"] = info.product_id
    return {
        "vendorId": original.get("seller_id"),
        "dealNo": {str(deal["vendorDealNo"]): info.product_id},
        "dealOptionNos": {str(o.get("vendorDealOptionNo")): None
                          for o in deal.get("dealOptions") or []},
        "tmonDealNo": info.product_id,
        "deal": deal,
    }


def _fill_product_infos(deal: dict[str, Any], info: ReturnInfo, taxonomy_id: str | None) -> None:
    groups = deal.get("productInfos")
    clothing = next((g for g in groups or [] if is_clothing(g.get("productType"))), None)
    if clothing is None:
        if groups or not is_clothing_taxonomy(taxonomy_id):
            return
        clothing = {"productType": CLOTHING, "productInfos": []}
        deal["productInfos"] = [clothing]
    entries: list[dict[str, Any]] = clothing.setdefault("productInfos", [])  # type: ignore[assignment]
    by_name = {norm(str(e.get("section", ""))): e for e in entries}
    current = {name: (by_name[norm(name)].get("description") if norm(name) in by_name else None)
               for name, _ in CLOTHING_ITEMS}
    for name, value in clothing_values(current, info.fill).items():
        if norm(name) in by_name:
            by_name[norm(name)]["description"] = value
        else:
            entries.append({"section": name, "description": value})


def accepted_answer(event: ProductSubmitted, issues: list[Issue]) -> dict[str, Any]:
    notes = "; ".join(i.describe() for i in issues)
    message = f"접수: submission {event.submission_id}" + (f" ({notes})" if notes else "")
    return {
        "deal": {"success": True, "skip": False, "value": event.portal_product_id,
                 "message": message},
        "dealOptions": {"success": True, "skip": False, "value": None, "message": ""},
    }


def rejected_answer(issues: list[Issue]) -> dict[str, Any]:
    errors = [i for i in issues if i.is_error] or issues
    return {"error": "; ".join(i.describe() for i in errors),
            "errors": [i.to_dict() for i in issues]}
