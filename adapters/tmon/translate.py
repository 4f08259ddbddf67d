"""TMON deal ⇄ canonical, as pure functions (see :mod:`.native` for the format and decisions).

``from_canonical`` returns the deal exactly as sent except ``categoryNo``, the 의류 ``productInfos``
values we fill, and the read-back fields TMON itself adds (``status``, ``salesStatus``,
``tmonDealNo``); a registered product is answered with TMON's create response around that deal.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import ValidationError

from adapters.common.categories import declare, portal_code_for
from adapters.common.issues import Issue, error, has_errors
from adapters.common.notices import (
    CLOTHING,
    CLOTHING_ITEMS,
    clothing_values,
    declared_attributes,
    is_clothing,
    is_clothing_taxonomy,
    norm,
)
from adapters.common.pipeline import Context, Native, content_revision
from adapters.common.results import ReturnInfo, final_taxonomy, return_info
from adapters.common.validate import list_at, validate
from adapters.tmon import native as n
from hanger.events import (
    ImageRef,
    ImageRole,
    Portal,
    ProductSubmitted,
    ResultEvent,
    submission_id_for,
)

PORTAL = Portal.TMON


def deal_id(body: dict[str, Any]) -> str | None:
    value = body.get("vendorDealNo")
    return str(value) if value not in (None, "") else None


def check_deal(body: dict[str, Any]) -> list[Issue]:
    issues = validate(body, n.DEAL_SPEC)
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


def to_canonical(native: Native, ctx: Context) -> ProductSubmitted | list[Issue]:
    body: dict[str, Any] = native["body"]
    issues = check_deal(body)
    if not ctx.seller_id:
        issues.append(error("missing_seller_id", "판매자(파트너) ID가 없습니다: --seller 또는 "
                                                 "Kafka 헤더 seller_id로 지정하세요"))
    if has_errors(issues):
        return issues
    code = body.get("categoryNo")
    declared = declare(PORTAL, str(code) if code is not None else None, None)
    images = [ImageRef(uri=u, role=ImageRole.MAIN, order=i)
              for i, u in enumerate(body["mainImages"])]
    if body.get("homeRecommendedImage") and body["homeRecommendedImage"] not in body["mainImages"]:
        images.append(ImageRef(uri=body["homeRecommendedImage"], role=ImageRole.DETAIL,
                               order=len(images)))
    notice = [(x.get("section", ""), x.get("description"))
              for group in body.get("productInfos") or [] if is_clothing(group.get("productType"))
              for x in group.get("productInfos") or []]
    options: dict[str, list[str]] = {}
    for position, axis in enumerate(body.get("sections") or []):
        options[axis] = [o["sections"][position] for o in body["dealOptions"]
                         if len(o.get("sections") or []) > position]
    product_id = str(body["vendorDealNo"])
    revision = content_revision(body)
    stored = {**native, "seller_id": ctx.seller_id}
    try:
        return ProductSubmitted(
            submission_id=submission_id_for(PORTAL, product_id, revision),
            portal=PORTAL, seller_id=str(ctx.seller_id), portal_product_id=product_id,
            revision=revision, submitted_at=ctx.received_at, title=body["title"],
            declared_category=declared, images=tuple(images),
            attributes=declared_attributes(notice, options), native=stored,
        )
    except ValidationError as exc:
        return [error("invalid_product", f"{'.'.join(map(str, e['loc']))}: {e['msg']}")
                for e in exc.errors()]


def from_canonical(event: ResultEvent, original: Native) -> Native:
    info = return_info(event)
    deal: dict[str, Any] = copy.deepcopy(original["body"])
    if info.taxonomy_id:
        declared = deal.get("categoryNo")
        code = portal_code_for(PORTAL, str(declared) if declared is not None else None,
                               info.taxonomy_id)
        if code and code != str(declared):
            deal["categoryNo"] = int(code)
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
