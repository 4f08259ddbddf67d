"""WeMakePrice setProduct ⇄ canonical, as pure functions (format and decisions: :mod:`.native`)."""

from __future__ import annotations

from typing import Any

from adapters.common.canonical import Draft, body_to_canonical
from adapters.common.categories import replacement_code
from adapters.common.compiled import CompiledSpec
from adapters.common.issues import Issue, error, warning
from adapters.common.notices import clothing_values, is_clothing_taxonomy
from adapters.common.pipeline import Context, Native, Translation, copy_native
from adapters.common.results import ReturnInfo, final_taxonomy, return_info
from adapters.common.validate import list_at
from adapters.wemakeprice import native as n
from hanger.events import ImageRole, Portal, ProductSubmitted, ResultEvent

PORTAL = Portal.WEMAKEPRICE
_PRODUCT = CompiledSpec(n.PRODUCT_SPEC)
_NOTICE_NO_BY_NAME = {name: no for no, name in n.CLOTHING_NOTICE_NOS.items()}


def _section(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    return value if isinstance(value, dict) else {}


def product_id(body: dict[str, Any]) -> str | None:
    if body.get("productNo") not in (None, ""):
        return str(body["productNo"])
    code = _section(body, "etc").get("sellerProdCode")
    return str(code) if code else None


def to_canonical(native: Native, ctx: Context) -> Translation:
    return body_to_canonical(PORTAL, native, ctx, check_product, read_product,
                             seller_by_transport="판매자")


def check_product(body: dict[str, Any]) -> list[Issue]:
    issues = _PRODUCT.validate(body)
    if product_id(body) is None:
        issues.append(error("missing_product_id", "신규 등록에는 etc.sellerProdCode가 필요합니다",
                            "etc.sellerProdCode"))
    name = _section(body, "basic").get("productName")
    if isinstance(name, str) and len(name) > n.MAX_PRODUCT_NAME:
        issues.append(warning("too_long", f"상품명이 {n.MAX_PRODUCT_NAME}자를 넘어 위메프에서 잘립니다",
                              "basic.productName"))
    sale, detail, option = (_section(body, s) for s in ("sale", "detail", "option"))
    if sale.get("salePeriod") == "P":
        for key in ("saleStartDate", "saleEndDate"):
            if not sale.get(key):
                issues.append(error("missing_required", f"판매기간(P)에는 sale.{key}가 필요합니다",
                                    f"sale.{key}"))
    if detail.get("descType") == "IMG" and not detail.get("descImgUrlList"):
        issues.append(error("missing_required", "descType IMG에는 descImgUrlList가 필요합니다",
                            "detail.descImgUrlList"))
    if detail.get("descType") == "HTML" and not detail.get("descHtml"):
        issues.append(error("missing_required", "descType HTML에는 descHtml이 필요합니다",
                            "detail.descHtml"))
    if option.get("selectOptionUseYn") == "Y":
        if not option.get("selectOptionTitle1"):
            issues.append(error("missing_required", "선택형 옵션에는 selectOptionTitle1이 필요합니다",
                                "option.selectOptionTitle1"))
        if not list_at(option, "selectOptionValueList"):
            issues.append(error("missing_required", "선택형 옵션에는 selectOptionValueList가 "
                                                    "필요합니다", "option.selectOptionValueList"))
    codes = [v.get("sellerOptionCode") for v in list_at(option, "selectOptionValueList")
             if isinstance(v, dict) and v.get("sellerOptionCode")]
    if len(codes) != len(set(codes)):
        issues.append(error("duplicate_id", "sellerOptionCode가 중복되었습니다",
                            "option.selectOptionValueList"))
    return issues


def read_product(body: dict[str, Any]) -> Draft:
    basic, detail, option = body["basic"], body["detail"], body["option"]
    images: dict[str, ImageRole] = {detail["basicImgUrl"]: ImageRole.MAIN}
    for uri in [*(detail.get("addImgUrlList") or []), detail["listImgUrl"],
                *(detail.get("descImgUrlList") or [])]:
        images.setdefault(uri, ImageRole.DETAIL)
    notice = [(n.CLOTHING_NOTICE_NOS[x["noticeNo"]], x.get("description"))
              for group in body.get("noticeList") or []
              if group.get("groupNoticeNo") == n.CLOTHING_GROUP_NOTICE_NO
              for x in group.get("noticeList") or [] if x.get("noticeNo") in n.CLOTHING_NOTICE_NOS]
    options: dict[str, list[str]] = {}
    if option.get("selectOptionUseYn") == "Y":
        for i in range(1, 6):
            title = option.get(f"selectOptionTitle{i}")
            if title:
                options[title] = [str(v.get(f"optionValue{i}") or "")
                                  for v in option.get("selectOptionValueList") or []]
    return Draft(product_id=str(product_id(body)), title=basic["productName"],
                 category_code=basic.get("dcateCode"), images=images, notice=notice,
                 options=options)


def from_canonical(event: ResultEvent, original: Native) -> Native:
    info = return_info(event)
    product: dict[str, Any] = copy_native(original["body"])
    basic = product.get("basic")
    if isinstance(basic, dict):
        declared = basic.get("dcateCode")
        code = replacement_code(PORTAL, declared, info.taxonomy_id)
        if code:
            basic["dcateCode"] = int(code) if isinstance(declared, int) else code
    _fill_notices(product, info, final_taxonomy(event))
    number = info.product_id if info.product_id is not None else product.get("productNo")
    return {"resultCode": 200,
            "data": {"productNo": number, "returnMsg": info.message, "product": product}}


def _fill_notices(product: dict[str, Any], info: ReturnInfo, taxonomy_id: str | None) -> None:
    groups = product.get("noticeList")
    group = next((g for g in groups or [] if isinstance(g, dict) and
                  g.get("groupNoticeNo") == n.CLOTHING_GROUP_NOTICE_NO), None)
    if group is None:
        if groups or not is_clothing_taxonomy(taxonomy_id):
            return
        group = {"groupNoticeNo": n.CLOTHING_GROUP_NOTICE_NO, "noticeList": []}
        product["noticeList"] = [group]
    entries: list[dict[str, Any]] = group.setdefault("noticeList", [])
    by_no = {e.get("noticeNo"): e for e in entries if isinstance(e, dict)}
    current = {name: by_no[no].get("description") if no in by_no else None
               for no, name in n.CLOTHING_NOTICE_NOS.items()}
    for name, value in clothing_values(current, info.fill).items():
        no = _NOTICE_NO_BY_NAME[name]
        if no in by_no:
            by_no[no]["description"] = value
        else:
            entries.append({"noticeNo": no, "description": value})


def accepted_answer(event: ProductSubmitted, issues: list[Issue]) -> dict[str, Any]:
    notes = "; ".join(i.describe() for i in issues)
    native_no = event.native.get("body", {}).get("productNo")
    return {"resultCode": 200,
            "data": {"productNo": native_no,
                     "returnMsg": f"접수: submission {event.submission_id}"
                     + (f" ({notes})" if notes else "")}}


def rejected_answer(issues: list[Issue]) -> dict[str, Any]:
    errors = [i for i in issues if i.is_error] or issues
    return {"resultCode": n.REJECTED_CODE, "data": None,
            "error": "; ".join(i.describe() for i in errors),
            "errors": [i.to_dict() for i in issues]}
