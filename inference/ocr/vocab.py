"""Closed vocabularies of Korean clothing care labels: fibers, garment parts, countries, sizes.

Each vocabulary maps the surface forms found on real tags (synonyms, English, abbreviations) to
one canonical name. OCR output is corrected against these lists (:mod:`inference.ocr.fuzzy`), so
adding a spelling here is how the reader learns it.
"""

from __future__ import annotations

# Canonical fiber name -> other spellings seen on tags (KS K 0021 names first, then trade names).
FIBERS: dict[str, tuple[str, ...]] = {
    "면": ("면", "코튼", "cotton", "綿"),
    "폴리에스터": ("폴리에스터", "폴리에스테르", "폴리", "poly", "polyester"),
    "나일론": ("나일론", "폴리아미드", "nylon", "polyamide"),
    "레이온": ("레이온", "rayon"),
    "비스코스": ("비스코스", "viscose"),
    "모달": ("모달", "modal"),
    "텐셀": ("텐셀", "리오셀", "tencel", "lyocell"),
    "아크릴": ("아크릴", "acrylic"),
    "울": ("울", "모", "양모", "wool"),
    "캐시미어": ("캐시미어", "캐시미아", "cashmere"),
    "앙고라": ("앙고라", "angora"),
    "알파카": ("알파카", "alpaca"),
    "모헤어": ("모헤어", "mohair"),
    "실크": ("실크", "견", "silk"),
    "린넨": ("린넨", "리넨", "마", "linen"),
    "스판덱스": ("스판덱스", "스판", "spandex", "elastane"),
    "폴리우레탄": ("폴리우레탄", "polyurethane"),
    "아세테이트": ("아세테이트", "acetate"),
    "오리솜털": ("오리솜털", "덕다운"),
    "오리깃털": ("오리깃털",),
    "거위솜털": ("거위솜털", "구스다운"),
    "거위깃털": ("거위깃털",),
}

# Canonical garment part -> spellings. A composition without a part is the shell (겉감).
PARTS: dict[str, tuple[str, ...]] = {
    "겉감": ("겉감", "표면", "본체", "shell", "outer"),
    "안감": ("안감", "lining"),
    "배색": ("배색", "배색감", "contrast"),
    "충전재": ("충전재", "충전물", "filling"),
    "레이스": ("레이스", "lace"),
    "주머니감": ("주머니감", "포켓감", "pocket"),
    "시보리": ("시보리", "립", "rib"),
}
DEFAULT_PART = "겉감"

# Canonical country (Korean name) -> (ISO 3166 alpha-2, spellings).
COUNTRIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "대한민국": ("KR", ("대한민국", "한국", "korea", "republic of korea", "south korea", "kr")),
    "중국": ("CN", ("중국", "china", "prc", "cn")),
    "베트남": ("VN", ("베트남", "vietnam", "viet nam", "vn")),
    "방글라데시": ("BD", ("방글라데시", "bangladesh", "bd")),
    "인도네시아": ("ID", ("인도네시아", "indonesia")),
    "인도": ("IN", ("인도", "india")),
    "캄보디아": ("KH", ("캄보디아", "cambodia")),
    "미얀마": ("MM", ("미얀마", "myanmar")),
    "터키": ("TR", ("터키", "튀르키예", "turkey", "turkiye")),
    "이탈리아": ("IT", ("이탈리아", "italy")),
    "일본": ("JP", ("일본", "japan")),
    "태국": ("TH", ("태국", "thailand")),
    "파키스탄": ("PK", ("파키스탄", "pakistan")),
}

# Letter sizes, Korean women's numeric sizes (44…99) and bust/hip sizes (85…110).
LETTER_SIZES = ("XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL", "2XL", "3XL")
FREE_SIZE = "FREE"
FREE_SPELLINGS = ("FREE", "F", "프리", "프리사이즈", "FREESIZE", "ONESIZE", "ONE SIZE", "OS")
KR_NUMERIC_SIZES = ("44", "55", "66", "77", "88", "99")
BODY_SIZES = ("80", "85", "90", "95", "100", "105", "110")
WAIST_SIZES = tuple(str(n) for n in range(23, 37))

# The keys of the 상품정보제공고시 lines a reader looks for (canonical key -> spellings).
FIELD_KEYS: dict[str, tuple[str, ...]] = {
    "material": ("소재", "혼용률", "혼용율", "제품소재", "섬유의조성", "섬유조성", "원단", "material",
                 "composition"),
    "manufactured": ("제조연월", "제조년월", "제조일", "제조연월일", "제조년월일", "manufactured",
                     "date of manufacture"),
    "size": ("사이즈", "치수", "호칭", "size"),
    "country": ("제조국", "원산지", "제조국명", "country of origin", "made in", "origin"),
    "care": ("세탁방법", "취급시주의사항", "세탁방법및취급시주의사항", "취급주의사항", "세탁", "care"),
    "color": ("색상", "컬러", "color"),
    "maker": ("제조자", "수입자", "제조사", "제조자수입자", "판매원", "manufacturer"),
    "warranty": ("품질보증기준", "품질보증"),
    "as": ("a/s책임자", "as책임자", "a/s", "고객센터", "전화번호"),
    "name": ("제품명", "상품명", "품명", "모델명"),
}


def fiber_surface_forms() -> dict[str, str]:
    """Every spelling (lower case, no spaces) -> canonical fiber."""
    return {_key(s): canon for canon, spellings in FIBERS.items() for s in spellings}


def part_surface_forms() -> dict[str, str]:
    return {_key(s): canon for canon, spellings in PARTS.items() for s in spellings}


def country_surface_forms() -> dict[str, str]:
    return {_key(s): canon for canon, (_, spellings) in COUNTRIES.items() for s in spellings}


def country_code(canonical: str) -> str | None:
    """ISO 3166 alpha-2 code of a canonical country name ('대한민국' -> 'KR')."""
    entry = COUNTRIES.get(canonical)
    return entry[0] if entry else None


def _key(text: str) -> str:
    return "".join(text.lower().split())
