"""TMON 판매자센터 partner ("interwork") API deal format, in one place so a real spec can replace it.

No official public spec exists (PORTAL-FORMATS.md §3). Field names and required marks come from two
independent integrations (MELCHI comments copying TMON's table, STOA's ``Deal`` classes): SECONDARY
but cross-checked. Marks: CONFIRMED / SECONDARY / INFERRED / DECIDED (we decided as TMON would).

- Request: ``POST /deals`` body, one deal per message; a file may hold an array of deals (DECIDED:
  TMON has no file route; arrays are how a legacy backend batches them to us).
- ``vendorDealNo`` is the partner's key, unique per partner (SECONDARY) — our portal product id.
- The partner (seller) is identified by the credentials, not the body (SECONDARY), so the seller id
  comes from the transport (``--seller`` or the Kafka header ``seller_id``) and is stored in the
  native envelope for the return trip (DECIDED).
- ``categoryNo`` is required by TMON but is the field we own: a missing one is accepted with a
  warning and filled on the way back (DECIDED). Codes are ILLUSTRATIVE (taxonomy.json).
- ``productInfos`` = ``[{productType, productInfos:[{section, description}]}]`` (SECONDARY); the 의류
  section names are the legal list (INFERRED, §5). Missing or blank 의류 values are ours to fill.
- ``dealOptions`` 1..200, ``vendorDealOptionNo`` unique, ``title`` or ``sections`` required, one
  section value per deal-level section, ``price`` must equal ``salesPrice`` (SECONDARY).
- Images: ``mainImages`` are main photos, ``homeRecommendedImage`` and the ``<img>`` photos of the
  ``detailContents`` HTML (http(s) only, page order, at most 20; other ``src`` values are passed
  over, not rejected: free HTML is not the image field) are detail images — the care-label OCR
  reads them, since TMON has no label-image field (DECIDED).
- Answers (shapes SECONDARY, STOA/MELCHI): create ``{vendorId, dealNo:{vendorDealNo: tmonDealNo},
  dealOptionNos:{vendorDealOptionNo: tmonDealOptionNo}, tmonDealNo}``; update-style ResultData
  ``{success, skip, value, message}``; errors as an ``error`` string. We add ``errors`` (our
  row/field issues) next to ``error`` (DECIDED). Acceptance is answered with ResultData;
  enriched results as the read-back deal (``status``, ``salesStatus`` READY); registered results as
  the create response plus the read-back ``deal`` (DECIDED).
"""

from __future__ import annotations

from adapters.common.validate import Fact, FieldSpec, Kind

FORMAT = "tmon.deal"
PRODUCT_TYPES = ("DP01", "DP02", "DP03", "DP04", "DP05", "DP06", "DP07")
_DATE = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"
S, D = Fact.SECONDARY, Fact.DECIDED

DEAL_SPEC: tuple[FieldSpec, ...] = (
    FieldSpec("vendorDealNo", Kind.STR, True, max_len=50, min_len=1),
    FieldSpec("vendorPolicyNo", Kind.INT, True, minimum=1),
    FieldSpec("productType", Kind.STR, True, choices=PRODUCT_TYPES),
    FieldSpec("deliveryTemplateNo", Kind.INT, True, minimum=1),
    FieldSpec("dealType", Kind.STR, choices=("D",)),
    FieldSpec("sections", Kind.LIST, max_len=2),
    FieldSpec("sections[]", Kind.STR, True, max_len=10),
    FieldSpec("managedTitle", Kind.STR, True, max_len=60),
    FieldSpec("title", Kind.STR, True, max_len=60),
    FieldSpec("titleDecoration", Kind.STR, max_len=20),
    FieldSpec("salesStartDate", Kind.STR, pattern=_DATE),
    FieldSpec("salesEndDate", Kind.STR, pattern=_DATE),
    FieldSpec("adultOnly", Kind.BOOL),
    FieldSpec("simpleRefundAble", Kind.BOOL),
    FieldSpec("categoryNo", Kind.INT, minimum=1, fact=D, note="owned by us; filled when missing"),
    FieldSpec("subcategoryNos", Kind.LIST, max_len=2),
    FieldSpec("maxPurchaseQty", Kind.INT, minimum=1, maximum=999),
    FieldSpec("purchaseResetPeriod", Kind.INT, minimum=1),
    FieldSpec("mainImages", Kind.LIST, True, min_len=1, max_len=6),
    FieldSpec("mainImages[]", Kind.IMAGE, True),
    FieldSpec("homeRecommendedImage", Kind.IMAGE),
    FieldSpec("detailContents", Kind.STR, True, max_len=500_000),
    FieldSpec("originCountryType", Kind.STR, choices=("O", "D", "E")),
    FieldSpec("productInfos", Kind.LIST, fact=D, note="required by TMON; we fill 의류"),
    FieldSpec("productInfos[].productType", Kind.STR, True),
    FieldSpec("productInfos[].productInfos", Kind.LIST, True),
    FieldSpec("productInfos[].productInfos[].section", Kind.STR, True),
    FieldSpec("productInfos[].productInfos[].description", Kind.STR, fact=D),
    FieldSpec("kcAuthSubmitType", Kind.STR, True, choices=("Y", "N", "X")),
    FieldSpec("keywords", Kind.LIST, max_len=5),
    FieldSpec("search", Kind.BOOL),
    FieldSpec("priceComparison", Kind.BOOL),
    FieldSpec("parallelImport", Kind.BOOL),
    FieldSpec("useCustomsIdNo", Kind.BOOL),
    FieldSpec("dealOptions", Kind.LIST, True, min_len=1, max_len=200),
    FieldSpec("dealOptions[].vendorDealOptionNo", Kind.STR, True, max_len=50),
    FieldSpec("dealOptions[].title", Kind.STR, max_len=100),
    FieldSpec("dealOptions[].sections", Kind.LIST),
    FieldSpec("dealOptions[].sections[]", Kind.STR, True, max_len=100),
    FieldSpec("dealOptions[].price", Kind.INT, minimum=1),
    FieldSpec("dealOptions[].salesPrice", Kind.INT, True, minimum=1),
    FieldSpec("dealOptions[].stock", Kind.INT, True, minimum=0),
    FieldSpec("dealOptions[].display", Kind.BOOL),
)

READ_BACK_SALES_STATUS = "READY"  # PAUSE, READY, ON_SALE, END (SECONDARY); a new deal is READY
