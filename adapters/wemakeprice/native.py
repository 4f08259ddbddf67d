"""WeMakePrice partner API ("W-API") ``setProduct`` format, in one place so a real spec can
replace it.

No official public spec exists (PORTAL-FORMATS.md §4); field names and limits are copied from
WMP's spec into comments of several integrations (STOA ``pawemp.v2.domain``, kdjsystem DTO):
SECONDARY, hosts and envelope CONFIRMED by three or more codebases. Marks: CONFIRMED / SECONDARY /
INFERRED / DECIDED (we decided as WeMakePrice would).

- Request: ``POST /product/in/setProduct``; ``productNo`` present = update (CONFIRMED). Sections
  ``basic``, ``sale``, ``detail``, ``option``, ``noticeList``, ``etc`` (+ ``branchList``).
- Product id: ``productNo`` for updates, else ``etc.sellerProdCode``; a create without
  ``sellerProdCode`` cannot be answered by id and is rejected (DECIDED).
- The seller is identified by the ``apiKey`` header, not the body (CONFIRMED), so the seller id
  comes from the transport and is stored in the native envelope (DECIDED).
- ``basic.productName`` ≤70 — WMP cuts longer names (SECONDARY), so a longer one is a warning.
- ``basic.dcateCode`` is required by WMP but is the field we own (filled when missing, DECIDED);
  codes are ILLUSTRATIVE (taxonomy.json).
- Notices are numbers, not names (SECONDARY): ``noticeList[{groupNoticeNo, noticeList[{noticeNo,
  description}]}]``. The 의류 numbers were not found: :data:`CLOTHING_GROUP_NOTICE_NO` and
  :data:`CLOTHING_NOTICE_NOS` are ILLUSTRATIVE (DECIDED) — replace them from WMP's notice lookup.
- Answers: ``{resultCode: 200, data: {productNo, returnMsg}}`` on success, ``{resultCode: <4xx>,
  error: "…"}`` on failure (SECONDARY). We add ``errors`` (field issues) next to ``error``, and for
  enriched/registered results a ``product`` (the setProduct body with only ``basic.dcateCode`` and
  the 의류 notice descriptions we fill changed) inside ``data`` (DECIDED).
"""

from __future__ import annotations

from adapters.common.notices import CLOTHING_ITEMS
from adapters.common.validate import Fact, FieldSpec, Kind

FORMAT = "wemakeprice.product"
D = Fact.DECIDED
YN = ("Y", "N")
_DATE = r"\d{4}-\d{2}-\d{2} \d{2}:00"
MAX_PRODUCT_NAME = 70
REJECTED_CODE = 400

PRODUCT_SPEC: tuple[FieldSpec, ...] = (
    FieldSpec("productNo", Kind.INT, minimum=1),
    FieldSpec("basic", Kind.OBJECT, True),
    FieldSpec("basic.productName", Kind.STR, True),
    FieldSpec("basic.productType", Kind.STR, True, choices=tuple("NURBOETM")),
    FieldSpec("basic.dcateCode", Kind.STR_OR_INT, fact=D, note="owned by us; filled when missing"),
    FieldSpec("basic.shipPolicyNo", Kind.INT, minimum=1),
    FieldSpec("basic.adultLimitYn", Kind.STR, choices=YN),
    FieldSpec("basic.displayYn", Kind.STR, True, choices=("Y", "D", "N")),
    FieldSpec("basic.shipInfo", Kind.OBJECT),
    FieldSpec("basic.shipInfo.releaseZipCode", Kind.STR, True, pattern=r"\d{5}"),
    FieldSpec("basic.shipInfo.returnZipCode", Kind.STR, True, pattern=r"\d{5}"),
    FieldSpec("basic.shipInfo.releaseDay", Kind.INT, True, minimum=1, maximum=15),
    FieldSpec("basic.shipInfo.holidayExceptYn", Kind.STR, True, choices=("Y", "A", "N")),
    FieldSpec("sale", Kind.OBJECT, True),
    FieldSpec("sale.salePeriod", Kind.STR, True, choices=("P", "A")),
    FieldSpec("sale.saleStartDate", Kind.STR, pattern=_DATE),
    FieldSpec("sale.saleEndDate", Kind.STR, pattern=_DATE),
    FieldSpec("sale.originPrice", Kind.INT, minimum=0, maximum=999_999_999),
    FieldSpec("sale.salePrice", Kind.INT, True, minimum=0, maximum=999_999_999),
    FieldSpec("sale.stockCount", Kind.INT, minimum=0, maximum=99_999),
    FieldSpec("sale.taxYn", Kind.STR, True, choices=YN),
    FieldSpec("sale.purchaseMinCount", Kind.INT, minimum=1, maximum=999),
    FieldSpec("sale.purchaseLimitYn", Kind.STR, True, choices=YN),
    FieldSpec("sale.purchaseLimitDuration", Kind.STR, choices=("O", "P")),
    FieldSpec("sale.purchaseLimitDay", Kind.INT, minimum=1, maximum=90),
    FieldSpec("sale.purchaseLimitCount", Kind.INT, minimum=0, maximum=9999),
    FieldSpec("sale.referencePriceType", Kind.STR, True, choices=("ONL", "WMP", "BIZ")),
    FieldSpec("detail", Kind.OBJECT, True),
    FieldSpec("detail.basicImgUrl", Kind.IMAGE, True, max_len=200),
    FieldSpec("detail.addImgUrlList", Kind.LIST, max_len=2),
    FieldSpec("detail.addImgUrlList[]", Kind.IMAGE, True, max_len=200),
    FieldSpec("detail.listImgUrl", Kind.IMAGE, True, max_len=200),
    FieldSpec("detail.descType", Kind.STR, True, choices=("IMG", "HTML")),
    FieldSpec("detail.descImgUrlList", Kind.LIST, max_len=50),
    FieldSpec("detail.descImgUrlList[]", Kind.IMAGE, True),
    FieldSpec("detail.descHtml", Kind.STR),
    FieldSpec("option", Kind.OBJECT, True),
    FieldSpec("option.selectOptionUseYn", Kind.STR, True, choices=YN),
    FieldSpec("option.selectOptionDepth", Kind.INT, minimum=1, maximum=2),
    *(FieldSpec(f"option.selectOptionTitle{i}", Kind.STR, max_len=10) for i in range(1, 6)),
    FieldSpec("option.selectOptionValueList", Kind.LIST, max_len=200),
    FieldSpec("option.selectOptionValueList[].optionValue1", Kind.STR, True, max_len=70),
    FieldSpec("option.selectOptionValueList[].saleStatus", Kind.STR, True, choices=("A", "S")),
    FieldSpec("option.selectOptionValueList[].stockCount", Kind.INT, True, minimum=0,
              maximum=99_999),
    FieldSpec("option.selectOptionValueList[].displayYn", Kind.STR, True, choices=YN),
    FieldSpec("option.selectOptionValueList[].sellerOptionCode", Kind.STR, max_len=50),
    FieldSpec("option.textOptionUseYn", Kind.STR, True, choices=YN),
    FieldSpec("noticeList", Kind.LIST, max_len=10, fact=D, note="required by WMP; we fill 의류"),
    FieldSpec("noticeList[].groupNoticeNo", Kind.INT, True),
    FieldSpec("noticeList[].noticeList", Kind.LIST, True),
    FieldSpec("noticeList[].noticeList[].noticeNo", Kind.INT, True),
    FieldSpec("noticeList[].noticeList[].description", Kind.STR, fact=D),
    FieldSpec("etc", Kind.OBJECT, True),
    FieldSpec("etc.parallelImportYn", Kind.STR, True, choices=YN),
    FieldSpec("etc.sellerProdCode", Kind.STR, max_len=50),
    FieldSpec("branchList", Kind.LIST, max_len=200),
)

# ILLUSTRATIVE (DECIDED): the 의류 notice group and its item numbers, in the legal order.
CLOTHING_GROUP_NOTICE_NO = 5
CLOTHING_NOTICE_NOS: dict[int, str] = {
    501 + i: name for i, (name, _) in enumerate(CLOTHING_ITEMS)
}
