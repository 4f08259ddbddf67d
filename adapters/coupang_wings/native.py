"""Coupang's own formats, in one place so a real spec or template can replace them.

Facts are marked as in ../shared/PORTAL-FORMATS.md: CONFIRMED (Coupang's docs or ≥2 sources),
SECONDARY (one third-party source), INFERRED (our reading of the sources), DECIDED (no public fact;
we decided as Coupang would, or as this middleware must).

Wing bulk-registration workbook (``sellertool_upload.xlsm``, §1)
    - sheet ``기본`` (example workbook) or ``data`` (per-category download); ``hidden``/``env`` hold
      drop-down lists and are never data. SECONDARY.
    - column names on row 2, data from row 5 (CONFIRMED); merged group titles on row 1 (INFERRED);
      required marks and guidance on rows 3-4 (SECONDARY).
    - columns are found by header text; aliases cover the older layouts (§1.3, SECONDARY) and the
      template version is recorded (INFERRED from which aliases are present).
    - one row per SKU/option (CONFIRMED). Rows with the same 카테고리 + 등록상품명 form one product
      (INFERRED — §6 says no source states it; this is how the Wing upload behaves for the tools
      we read).
    - 카테고리 cell ``[displayCategoryCode] 대>중>소`` (CONFIRMED, two sources).
    - 구매옵션/검색옵션 pairs share the header text ``옵션유형N``/``옵션값N``; the row-1 group tells
      them apart (SECONDARY); without groups the first six pairs are 구매옵션 (V4.6, SECONDARY).
    - prices: whole KRW, 판매가격 ≥ 10 in 10-원 units (SECONDARY). We accept ``39,900`` and
      ``39,900원`` as typed by people (DECIDED).
    - required values (SECONDARY, one validator): 등록상품명, 브랜드, 제조사, 판매가격, 할인율기준가,
      재고수량, 출고리드타임, 대표(옵션)이미지, 상세 설명. 카테고리 is required by Wing but is a field
      we own: an empty one is accepted with a warning and filled on the way back (DECIDED).
    - 상품고시정보 카테고리 + 상품고시정보값1..14 in the category's item order; ``의류`` uses the nine
      names of :data:`adapters.common.notices.CLOTHING_ITEMS` (INFERRED order, §1.6/§5).
    - the product id we key results by: the first row's 업체상품코드 (seller SKU); without one a
      hash of 등록상품명 (DECIDED: the workbook carries no Coupang id before registration).
    - answers: two result columns ``처리결과``/``처리메시지`` appended after the last column (group
      title ``Clothes Hanger``) and a ``처리결과`` sheet listing every issue (DECIDED — Wing itself
      answers uploads on screen).

Open API seller product (§2)
    - request body fields and required marks: :data:`PRODUCT_SPEC` (CONFIRMED unless marked).
    - answers: success ``{"code":"SUCCESS","message":"","data":<sellerProductId>}``; failure
      ``{"code":"ERROR","message":…}`` plus ``details``/``errorItems`` (CONFIRMED, 2026-02 notice).
      Our per-field issues go into ``errorItems`` (their inner shape is DECIDED).
    - enriched/registered results are read-back shaped, ``{"code","message","data":{product}}``
      with ``statusName`` (CONFIRMED values 심사중 … 승인완료) — the product as sent with only
      ``displayCategoryCode``, the notices we fill, ``statusName`` and ``sellerProductId`` changed.
    - ``cdnPath`` images are relative to Coupang's CDN; we prefix :data:`CDN_BASE` (INFERRED).
    - product id: ``sellerProductId`` (updates), else ``items[0].externalVendorSku``, else a hash
      of vendorId + sellerProductName (DECIDED).

Category codes: :data:`CATEGORY_PATHS` are ILLUSTRATIVE women's-clothing codes (DECIDED); replace
them (and ``portal_codes.coupang_wings`` in hanger/taxonomy.json) with the real display-category
list (Wing ``hidden`` sheet, or ``GET …/meta/display-categories``).
"""

from __future__ import annotations

from adapters.common.notices import norm
from adapters.common.validate import Fact, FieldSpec, Kind

# --- Workbook ---------------------------------------------------------------------------------

PREFERRED_SHEETS = ("기본", "data")
SKIP_SHEETS = ("hidden", "env")
HEADER_ROW = 2
DATA_OFFSET = 3  # rows 3-4: 필수/선택 marks and guidance

CATEGORY = ("카테고리", "노출카테고리")
NAME = ("등록상품명", "상품명")
BRAND = ("브랜드", "브랜드 ID")
MAKER = ("제조사",)
PRICE = ("판매가격",)
LIST_PRICE = ("할인율기준가",)
STOCK = ("재고수량", "판매가능수량")
LEAD_TIME = ("출고리드타임", "기준출고일")
SKU = ("업체상품코드",)
MAIN_IMAGE = ("대표(옵션)이미지", "대표이미지(정사각형)")
OBLONG_IMAGE = ("대표이미지(직사각형)",)
EXTRA_IMAGES = ("추가이미지", "기타이미지")
USED_IMAGE = ("상태이미지",)
DETAIL = ("상세 설명",)
NOTICE_CATEGORY = ("상품고시정보 카테고리",)
YES_NO = ("성인상품(19)", "19세이상", "과세여부", "병행수입여부", "해외구매대행")
NOTICE_VALUES = tuple(f"상품고시정보값{n}" for n in range(1, 15))
OPTION_TYPES = tuple(f"옵션유형{n}" for n in range(1, 21))
OPTION_VALUES = tuple(f"옵션값{n}" for n in range(1, 21))
LEGACY_OPTION_TYPES = tuple(f"속성타입{n}" for n in range(1, 5))
PURCHASE_OPTION_PAIRS = 6  # V4.6 without group titles: the first six pairs are 구매옵션

REQUIRED_COLUMNS: tuple[tuple[str, ...], ...] = (
    CATEGORY, NAME, BRAND, MAKER, PRICE, LIST_PRICE, STOCK, LEAD_TIME, MAIN_IMAGE, DETAIL,
)
REQUIRED_VALUES: tuple[tuple[str, ...], ...] = (
    NAME, BRAND, MAKER, PRICE, LIST_PRICE, STOCK, LEAD_TIME, MAIN_IMAGE, DETAIL,
)
MAX_NAME = 100
MAX_EXTRA_IMAGES = 9

KNOWN_HEADERS = frozenset(
    norm(h) for group in (*REQUIRED_COLUMNS, SKU, OBLONG_IMAGE, EXTRA_IMAGES, NOTICE_CATEGORY,
                          YES_NO, USED_IMAGE)
    for h in group
) | {norm(h) for h in (*NOTICE_VALUES, *OPTION_TYPES, *OPTION_VALUES, "판매시작일", "판매종료일",
                       "상품상태", "검색어", "모델번호", "바코드", "판매대행수수료")}

RESULT_GROUP = "Clothes Hanger"
RESULT_HEADERS = ("처리결과", "처리메시지")
RESULT_SHEET = "처리결과"
RESULT_SHEET_HEADERS = ("시트", "행", "업체상품코드", "등록상품명", "결과", "코드", "심각도",
                        "항목", "메시지")
WORKBOOK_FORMAT = "coupang_wings.workbook"


def template_version(headers: set[str]) -> str:
    """Which Wing layout the header row looks like (§1.3). INFERRED from distinctive columns."""
    if norm("노출카테고리") in headers:
        return "legacy-xlsxwriter"
    if norm("브랜드 ID") in headers:
        return "V4.6-2026"
    if norm("판매대행수수료") in headers and norm("대표(옵션)이미지") in headers:
        return "V4.6"
    if norm("대표이미지(정사각형)") in headers:
        return "legacy-72"
    return "unknown"


# --- Open API seller product ------------------------------------------------------------------

API_FORMAT = "coupang_wings.seller_product"
CDN_BASE = "https://image7.coupangcdn.com/image/"  # INFERRED
STATUS_BY_RESULT = {"classified": "심사중", "needs_md": "심사중", "unclassified": "임시저장",
                    "registered": "승인완료"}  # DECIDED mapping onto Coupang's status names
ERROR_MESSAGE = "입력값에 오류가 있습니다"  # CONFIRMED wording of Coupang's generic 400

IMAGE_TYPES = ("REPRESENTATION", "REP_OBLONG_ORIGIN", "DETAIL", "USED_PRODUCT")
_DATE = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"
C, S, D = Fact.CONFIRMED, Fact.SECONDARY, Fact.DECIDED

PRODUCT_SPEC: tuple[FieldSpec, ...] = (
    FieldSpec("sellerProductName", Kind.STR, True, max_len=100, fact=C),
    FieldSpec("vendorId", Kind.STR, True, max_len=20, fact=C),
    FieldSpec("displayCategoryCode", Kind.INT, False, minimum=1, fact=C,
              note="optional: omitted means auto-matching, and we fill it"),
    FieldSpec("saleStartedAt", Kind.STR, True, pattern=_DATE, fact=C),
    FieldSpec("saleEndedAt", Kind.STR, True, pattern=_DATE, fact=C),
    FieldSpec("displayProductName", Kind.STR, max_len=100, fact=C),
    FieldSpec("brand", Kind.STR, max_len=50, fact=C),
    FieldSpec("deliveryMethod", Kind.STR, choices=(
        "SEQUENCIAL", "VENDOR_DIRECT", "MAKE_ORDER", "INSTRUCTURE", "AGENT_BUY", "COLD_FRESH",
        "MAKE_ORDER_DIRECT"), fact=C),
    FieldSpec("deliveryChargeType", Kind.STR, choices=(
        "FREE", "NOT_FREE", "CHARGE_RECEIVED", "FREE_DELIVERY_OVER_9800", "CONDITIONAL_FREE"),
        fact=S),
    FieldSpec("deliveryCharge", Kind.INT, minimum=0, fact=C),
    FieldSpec("remoteAreaDeliverable", Kind.STR, choices=("Y", "N"), fact=C),
    FieldSpec("unionDeliveryType", Kind.STR, choices=("UNION_DELIVERY", "NOT_UNION_DELIVERY"),
              fact=C),
    FieldSpec("requested", Kind.BOOL, fact=C),
    FieldSpec("items", Kind.LIST, True, min_len=1, max_len=200, fact=C),
    FieldSpec("items[].itemName", Kind.STR, True, max_len=150, fact=C),
    FieldSpec("items[].originalPrice", Kind.INT, True, minimum=0, fact=C),
    FieldSpec("items[].salePrice", Kind.INT, True, minimum=10, fact=C),
    FieldSpec("items[].maximumBuyCount", Kind.INT, True, minimum=0, maximum=99999, fact=C),
    FieldSpec("items[].maximumBuyForPerson", Kind.INT, True, minimum=0, fact=C),
    FieldSpec("items[].maximumBuyForPersonPeriod", Kind.INT, True, minimum=0, fact=C),
    FieldSpec("items[].outboundShippingTimeDay", Kind.INT, True, minimum=0, fact=C),
    FieldSpec("items[].unitCount", Kind.INT, True, minimum=0, fact=C),
    FieldSpec("items[].adultOnly", Kind.STR, True, choices=("ADULT_ONLY", "EVERYONE"), fact=C),
    FieldSpec("items[].taxType", Kind.STR, True, choices=("TAX", "FREE"), fact=C),
    FieldSpec("items[].parallelImported", Kind.STR, True,
              choices=("PARALLEL_IMPORTED", "NOT_PARALLEL_IMPORTED"), fact=C),
    FieldSpec("items[].overseasPurchased", Kind.STR, True,
              choices=("OVERSEAS_PURCHASED", "NOT_OVERSEAS_PURCHASED"), fact=C),
    FieldSpec("items[].pccNeeded", Kind.BOOL, True, fact=C),
    FieldSpec("items[].externalVendorSku", Kind.STR, max_len=60, fact=C),
    FieldSpec("items[].offerCondition", Kind.STR, choices=(
        "NEW", "REFURBISHED", "USED_BEST", "USED_GOOD", "USED_NORMAL"), fact=S),
    FieldSpec("items[].images", Kind.LIST, True, min_len=1, fact=C),
    FieldSpec("items[].images[].imageOrder", Kind.INT, True, minimum=0, fact=C),
    FieldSpec("items[].images[].imageType", Kind.STR, True, choices=IMAGE_TYPES, fact=C),
    FieldSpec("items[].images[].vendorPath", Kind.IMAGE, fact=C),
    FieldSpec("items[].notices", Kind.LIST, fact=D,
              note="required by Coupang; we fill a missing 의류 notice, so not required here"),
    FieldSpec("items[].notices[].noticeCategoryName", Kind.STR, True, fact=C),
    FieldSpec("items[].notices[].noticeCategoryDetailName", Kind.STR, True, fact=C),
    FieldSpec("items[].notices[].content", Kind.STR, fact=D,
              note="required by Coupang; an empty 의류 value is one we fill"),
    FieldSpec("items[].attributes", Kind.LIST, True, min_len=1, fact=C),
    FieldSpec("items[].attributes[].attributeTypeName", Kind.STR, True, fact=C),
    FieldSpec("items[].attributes[].attributeValueName", Kind.STR, True, fact=C),
    FieldSpec("items[].contents", Kind.LIST, True, fact=C),
    FieldSpec("items[].contents[].contentsType", Kind.STR, True, choices=(
        "IMAGE", "IMAGE_NO_SPACE", "TEXT", "IMAGE_TEXT", "TEXT_IMAGE", "IMAGE_IMAGE",
        "TEXT_TEXT", "TITLE", "HTML"), fact=C),
)

# ILLUSTRATIVE display-category codes → paths, for writing ``[code] path`` cells (DECIDED).
CATEGORY_PATHS: dict[str, str] = {
    "69181": "패션의류잡화>여성패션>여성의류>티셔츠>반팔티셔츠",
    "69182": "패션의류잡화>여성패션>여성의류>티셔츠>긴팔티셔츠",
    "69183": "패션의류잡화>여성패션>여성의류>블라우스/셔츠",
    "69184": "패션의류잡화>여성패션>여성의류>티셔츠>카라티셔츠",
    "69185": "패션의류잡화>여성패션>여성의류>후드티/후드집업",
    "69186": "패션의류잡화>여성패션>여성의류>민소매/나시",
    "69191": "패션의류잡화>여성패션>여성의류>바지",
    "69192": "패션의류잡화>여성패션>여성의류>반바지",
    "69193": "패션의류잡화>여성패션>여성의류>스커트",
    "69195": "패션의류잡화>여성패션>여성의류>원피스",
    "69201": "패션의류잡화>여성패션>여성의류>코트/점퍼/패딩",
    "69203": "패션의류잡화>여성패션>여성의류>재킷/블레이저",
    "69211": "패션의류잡화>여성패션>여성언더웨어>런닝/캐미솔",
    "69212": "패션의류잡화>여성패션>여성언더웨어>바디수트",
    "69221": "패션의류잡화>여성패션>여성신발>운동화/스니커즈",
    "69231": "패션의류잡화>여성패션>여성잡화>모자",
}


def _v46_columns() -> tuple[tuple[str, str], ...]:
    basic = ("카테고리", "등록상품명", "판매시작일", "판매종료일", "상품상태", "상태설명", "브랜드",
             "제조사", "검색어")
    purchase = [h for i in range(1, 7) for h in (f"옵션유형{i}", f"옵션값{i}")]
    search = [h for i in range(1, 21) for h in (f"옵션유형{i}", f"옵션값{i}")]
    item = ["판매가격", "판매대행수수료", "할인율기준가", "재고수량", "출고리드타임", "인당최대구매수량",
            "최대구매수량기간(일)", "성인상품(19)", "과세여부", "병행수입여부", "해외구매대행",
            "업체상품코드", "모델번호", "바코드"]
    item += [h for i in range(1, 7) for h in (f"인증∙신고 등 정보유형{i}", f"인증∙신고 등 정보값{i}")]
    item += ["주문 추가메시지"]
    notice = ["상품고시정보 카테고리", *NOTICE_VALUES]
    images = ["대표(옵션)이미지", "대표이미지(직사각형)", "추가이미지", "상태이미지",
              "중복이미지 확인", "이미지 품질 확인"]
    return (
        *(("상품기본정보", h) for h in basic),
        *(("구매옵션", h) for h in purchase),
        *(("검색옵션", h) for h in search),
        *(("Item 구성 정보", h) for h in item),
        *(("상품고시정보", h) for h in notice),
        *(("이미지", h) for h in images),
        ("상품 상세 설명", "상세 설명"),
        *(("구비서류", f"구비서류값{i}") for i in range(1, 8)),
    )


# The V4.6 ``기본`` sheet, 117 columns A-DM: (row-1 group, row-2 header). Positions and names are
# SECONDARY (§1.2); the 인증∙신고 pairs at BX-CI and the names of DD-DE are INFERRED placeholders.
# Only the template writer and fixtures use positions — the reader finds columns by header text.
COLUMNS_V46: tuple[tuple[str, str], ...] = _v46_columns()
