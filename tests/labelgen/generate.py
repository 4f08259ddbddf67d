"""Synthetic Korean care-label photos with known ground truth, for measuring the OCR reader.

``generate(seed)`` returns a :class:`Sample` (a PIL image and its :class:`Truth`); the same seed gives
the same pixels on a machine with the same fonts (Debian ``fonts-nanum`` / ``fonts-noto-cjk``).
What a tag says is drawn the way Korean sellers' 상품정보 tags say it: keys in several spellings,
material with one to three parts, year-month in five formats, KR and letter sizes, country in Korean
or English, care instructions, and distractor lines (maker, phone number, warranty). The photo is
made phone-like: three layouts (key/value lines, ruled tables with shaded key cells, narrow sewn-in
labels), fabric-like background, rotation, uneven light, blur, sensor noise and JPEG compression.
``plant=True`` adds a line with a prohibited word disguised by spacing, jamo or look-alike tricks.
"""

from __future__ import annotations

import io
import math
import random
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_FILES = (
    ("/usr/share/fonts/truetype/nanum/NanumGothic.ttf", 0),
    ("/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf", 0),
    ("/usr/share/fonts/truetype/nanum/NanumBarunGothic.ttf", 0),
    ("/usr/share/fonts/truetype/nanum/NanumSquareR.ttf", 0),
    ("/usr/share/fonts/truetype/nanum/NanumMyeongjo.ttf", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 1),  # index 1: the KR face
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 1),
)

LAYOUTS = ("lines", "table", "sewn")

# Surface spellings drawn for each canonical fiber (most tags use the canonical name).
FIBER_SPELLINGS = {
    "면": ("면", "면", "면", "코튼", "COTTON"),
    "폴리에스터": ("폴리에스터", "폴리에스터", "폴리에스테르", "폴리", "POLYESTER"),
    "나일론": ("나일론", "나일론", "NYLON"),
    "레이온": ("레이온", "RAYON"),
    "모달": ("모달",),
    "아크릴": ("아크릴", "아크릴", "ACRYLIC"),
    "울": ("울", "울", "모", "WOOL"),
    "캐시미어": ("캐시미어",),
    "린넨": ("린넨", "마"),
    "스판덱스": ("스판덱스", "스판덱스", "스판", "SPANDEX"),
    "폴리우레탄": ("폴리우레탄",),
    "실크": ("실크", "견"),
    "텐셀": ("텐셀", "리오셀"),
    "아세테이트": ("아세테이트",),
    "오리솜털": ("오리솜털",),
    "오리깃털": ("오리깃털",),
}
SHELL_FIBERS = ("면", "폴리에스터", "나일론", "레이온", "모달", "아크릴", "울", "캐시미어", "린넨",
                "실크", "텐셀", "아세테이트")
STRETCH_FIBERS = ("스판덱스", "폴리우레탄")
COUNTRY_SPELLINGS = {
    "대한민국": ("대한민국", "대한민국", "한국", "KOREA", "MADE IN KOREA"),
    "중국": ("중국", "중국", "CHINA", "MADE IN CHINA"),
    "베트남": ("베트남", "베트남", "VIETNAM"),
    "방글라데시": ("방글라데시",),
    "인도네시아": ("인도네시아",),
    "캄보디아": ("캄보디아",),
    "미얀마": ("미얀마",),
    "터키": ("터키",),
    "이탈리아": ("이탈리아", "ITALY"),
    "인도": ("인도",),
}
KEYS = {
    "name": ("제품명", "상품명", "품명"),
    "material": ("소재", "혼용률", "제품소재", "섬유의 조성"),
    "color": ("색상", "컬러"),
    "size": ("사이즈", "치수"),
    "maker": ("제조자", "수입자", "제조자/수입자"),
    "country": ("제조국", "원산지", "제조국"),
    "manufactured": ("제조연월", "제조년월", "제조연월"),
    "care": ("세탁방법", "취급시 주의사항", "세탁방법"),
    "warranty": ("품질보증기준",),
    "as": ("A/S 책임자", "고객센터", "A/S 전화번호"),
}
NAMES = ("여성 니트 가디건", "린넨 셔츠 원피스", "하이웨스트 와이드 슬랙스", "크롭 트위드 자켓",
         "플리츠 롱 스커트", "오버핏 맨투맨", "브이넥 블라우스", "데님 미디 스커트", "경량 패딩 점퍼")
COLORS = ("블랙", "아이보리", "베이지", "네이비", "그레이", "차콜", "소라", "핑크", "카키")
MAKERS = ("(주)한결어패럴", "㈜소담패션", "모아텍스타일", "(주)행거인터내셔널", "누리섬유(주)")
CARE = ("30℃ 이하 손세탁", "중성세제 사용", "표백제 사용 금지", "드라이클리닝", "세탁기 사용 불가",
        "그늘에 뉘어서 건조", "다림질 시 천을 덮고 140℃ 이하", "비틀어 짜지 마십시오",
        "이염 주의, 단독 세탁", "기계 건조 금지")
WARRANTY = ("관련 법 및 소비자분쟁해결기준에 따름", "구입 후 1년 이내 교환")
SIZES = (("55", "55"), ("66", "66"), ("77", "77"), ("44", "44"), ("FREE", "FREE"), ("F", "FREE"),
         ("프리", "FREE"), ("M(95)", "M(95)"), ("L(100)", "L(100)"), ("S(90)", "S(90)"),
         ("S/M/L", "S/M/L"), ("S", "S"), ("M", "M"), ("L", "L"), ("XL", "XL"), ("90", "90"),
         ("95", "95"), ("100", "100"), ("26", "26"), ("28", "28"))

# Words planted for the screening measurement, with the tricks sellers use to slip them through.
PLANT_WORDS = ("짝퉁", "이미테이션", "레플리카", "정품급", "미러급", "가품", "REPLICA", "FAKE", "병신",
               "개새끼")
PLANT_CONTEXT = ("{w} 아님 정품 보장", "{w} 퀄리티 그대로", "최고급 {w}", "{w} 절대 아닙니다",
                 "문의 주세요 {w}")


@dataclass(frozen=True)
class Truth:
    """What the tag says, normalised the way the reader should report it."""

    material: tuple[tuple[str, str, int], ...]  # (part, fiber, percent), canonical names
    manufactured: str  # YYYY-MM
    size: str
    country: str  # canonical Korean name
    care: str
    layout: str
    planted: tuple[str, ...] = ()  # canonical prohibited words planted (before disguise)
    planted_text: tuple[str, ...] = ()  # how they were written


@dataclass
class Sample:
    seed: int
    image: Image.Image
    truth: Truth
    text_lines: list[str] = field(default_factory=list)

    def jpeg_bytes(self) -> bytes:
        out = io.BytesIO()
        self.image.save(out, "JPEG", quality=95)
        return out.getvalue()


def available_fonts() -> list[tuple[str, int]]:
    return [(p, i) for p, i in FONT_FILES if Path(p).exists()]


def describe(seed: int, *, plant: bool | None = None) -> tuple[Truth, list[str]]:
    """What ``generate(seed)`` would draw (truth and text lines) without drawing it."""
    truth, rows, _ = _plan(random.Random(seed), plant)
    return truth, [f"{k} {v}".strip() for k, v in rows]


def _plan(rng: random.Random, plant: bool | None) -> tuple[Truth, list[tuple[str, str]], tuple[str, int]]:
    if plant is None:
        plant = rng.random() < 0.33
    fonts = available_fonts()
    if not fonts:
        raise RuntimeError("no Korean font: apt-get install fonts-nanum fonts-noto-cjk")
    truth, rows = _content(rng, plant)
    font = rng.choice(fonts)
    truth = Truth(**{**truth.__dict__, "layout": rng.choice(LAYOUTS)})
    return truth, rows, font


def generate(seed: int, *, plant: bool | None = None) -> Sample:
    """One tag photo. ``plant``: None = plant a prohibited word in ~1 of 3 tags (seeded)."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    truth, rows, (font_path, font_index) = _plan(rng, plant)
    layout = truth.layout
    size_px = rng.randint(26, 38)
    font = ImageFont.truetype(font_path, size_px, index=font_index)
    if layout == "table":
        tag = _render_table(rows, font, rng)
    elif layout == "sewn":
        tag = _render_sewn(rows, font, rng)
    else:
        tag = _render_lines(rows, font, rng)
    image = _photograph(tag, rng, nrng)
    lines = [f"{k} {v}".strip() for k, v in rows]
    return Sample(seed=seed, image=image, truth=truth, text_lines=lines)


# --- content --------------------------------------------------------------------------------------


def _percents(rng: random.Random, n: int) -> list[int]:
    if n == 1:
        return [100]
    while True:
        step = rng.choice((5, 5, 5, 1))
        cuts = sorted(rng.sample(range(step, 100, step), n - 1))
        values = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
        if all(v >= 2 for v in values):
            return sorted(values, reverse=True)


def _composition(rng: random.Random, part: str) -> list[tuple[str, str, int]]:
    if part == "충전재":
        down = rng.choice((("오리솜털", "오리깃털"),))
        pct = rng.choice((80, 90, 70))
        return [(part, down[0], pct), (part, down[1], 100 - pct)]
    n = rng.choices((1, 2, 3), weights=(4, 5, 2))[0]
    fibers = rng.sample(SHELL_FIBERS, n)
    if n >= 2 and rng.random() < 0.4:
        fibers[-1] = rng.choice(STRETCH_FIBERS)
    return [(part, f, p) for f, p in zip(fibers, _percents(rng, n), strict=True)]


def _material_text(rng: random.Random, comp: list[tuple[str, str, int]], show_part: bool) -> str:
    sep = rng.choice((", ", " ", ", ", " / "))
    pct_sep = rng.choice((" ", "", " "))
    body = sep.join(f"{rng.choice(FIBER_SPELLINGS[f])}{pct_sep}{p}%" for _, f, p in comp)
    if not show_part:
        return body
    return f"{comp[0][0]}{rng.choice((': ', ' : ', ' - ', ' '))}{body}"


def _year_month(rng: random.Random) -> tuple[str, str]:
    year, month = rng.randint(2019, 2026), rng.randint(1, 12)
    style = rng.randrange(6)
    text = (
        f"{year}년 {month:02d}월",
        f"{year}.{month:02d}",
        f"{year % 100:02d}/{month:02d}",
        f"{year}-{month:02d}",
        f"{year}년 {month}월",
        f"{year}. {month:02d}.",
    )[style]
    return text, f"{year}-{month:02d}"


def _disguise(rng: random.Random, word: str) -> str:
    """Spacing, jamo decomposition or look-alike characters."""
    trick = rng.randrange(4)
    if trick == 0:
        return word
    if trick == 1:
        return rng.choice((" ", " ", ".", "*")).join(word)
    if word.isascii():
        table = {"A": "4", "E": "3", "I": "1", "L": "1", "O": "0", "S": "5"}
        chars = [table.get(c, c) if rng.random() < 0.6 else c for c in word]
        if chars == list(word):
            chars = [table.get(c, c) for c in word]
        return "".join(chars)
    # Decompose one syllable into compatibility jamo (ㅉㅏㄱ퉁); trick 3 also swaps ㅇ/ㅣ for 0/l.
    idx = rng.randrange(len(word))
    jamo = _compat_jamo(word[idx])
    if trick == 3:
        jamo = jamo.replace("ㅇ", "O").replace("ㅣ", "l")
    return word[:idx] + jamo + word[idx + 1:]


def _compat_jamo(syllable: str) -> str:
    decomposed = unicodedata.normalize("NFD", syllable)
    out = []
    for ch in decomposed:  # conjoining jamo -> compatibility jamo, which is what people type.
        out.append(_CONJOINING_TO_COMPAT.get(ch, ch))
    return "".join(out)


_LEADS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_TAILS = "ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"
_CONJOINING_TO_COMPAT = {
    **{chr(0x1100 + i): c for i, c in enumerate(_LEADS)},
    **{chr(0x1161 + i): c for i, c in enumerate(_VOWELS)},
    **{chr(0x11A8 + i): c for i, c in enumerate(_TAILS)},
}


def _content(rng: random.Random, plant: bool) -> tuple[Truth, list[tuple[str, str]]]:
    n_parts = rng.choices((1, 2, 3), weights=(6, 3, 1))[0]
    parts = ["겉감", *rng.sample(("안감", "배색", "충전재"), n_parts - 1)]
    comps = [_composition(rng, p) for p in parts]
    show_part = n_parts > 1 or rng.random() < 0.5
    material_rows = [_material_text(rng, c, show_part) for c in comps]
    ym_text, ym = _year_month(rng)
    size_text, size = rng.choice(SIZES)
    country = rng.choice(list(COUNTRY_SPELLINGS))
    country_text = rng.choice(COUNTRY_SPELLINGS[country])
    care = ", ".join(rng.sample(CARE, rng.randint(1, 3)))
    key = {k: rng.choice(v) for k, v in KEYS.items()}
    rows: list[tuple[str, str]] = [(key["name"], rng.choice(NAMES))]
    if rng.random() < 0.5 or len(material_rows) > 1:
        rows.append((key["material"], material_rows[0]))
        rows.extend(("", more) for more in material_rows[1:])
    else:
        rows.append((key["material"], " / ".join(material_rows)))
    optional = [
        (key["color"], rng.choice(COLORS)),
        (key["size"], size_text),
        (key["maker"], rng.choice(MAKERS)),
        (key["country"], country_text),
        (key["manufactured"], ym_text),
        (key["care"], care),
        (key["warranty"], rng.choice(WARRANTY)),
        (key["as"], rng.choice(("1588-", "02-", "070-"))
         + f"{rng.randint(100, 9999)}-{rng.randint(1000, 9999)}"),
    ]
    rng.shuffle(optional)
    rows.extend(optional)
    planted: tuple[str, ...] = ()
    planted_text: tuple[str, ...] = ()
    if plant:
        word = rng.choice(PLANT_WORDS)
        shown = _disguise(rng, word)
        rows.insert(rng.randint(1, len(rows)), ("", rng.choice(PLANT_CONTEXT).format(w=shown)))
        planted, planted_text = (word,), (shown,)
    truth = Truth(
        material=tuple(m for c in comps for m in c), manufactured=ym, size=size, country=country,
        care=care, layout="", planted=planted, planted_text=planted_text,
    )
    return truth, rows


# --- rendering ------------------------------------------------------------------------------------

Ink = tuple[int, int, int]


def _paper(rng: random.Random) -> Ink:
    return rng.choice(((255, 255, 255), (250, 248, 240), (244, 240, 228), (236, 236, 236)))


def _ink(rng: random.Random) -> Ink:
    return rng.choice(((20, 20, 20), (40, 40, 48), (60, 50, 45), (25, 30, 70)))


def _text_width(font: ImageFont.FreeTypeFont, text: str) -> int:
    return int(font.getlength(text))


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    words, lines, cur = text.split(" "), [], ""
    for w in words:
        trial = f"{cur} {w}".strip()
        if cur and _text_width(font, trial) > width:
            lines.append(cur)
            cur = w
        else:
            cur = trial
    return [*lines, cur] if cur else lines


def _render_lines(
    rows: list[tuple[str, str]], font: ImageFont.FreeTypeFont, rng: random.Random,
) -> Image.Image:
    size = font.size
    sep = rng.choice((": ", " : ", " | ", "  "))
    bracket = rng.random() < 0.25
    lines = []
    for key, value in rows:
        k = (f"[{key}]" if bracket else key) if key else ""
        lines.append(f"{k}{sep if key else ''}{value}" if key else value)
    wrap_at = int(size * rng.uniform(20, 26))
    wrapped = [w for line in lines for w in _wrap(line, font, wrap_at)]
    lh = int(size * rng.uniform(1.45, 1.8))
    width = max(_text_width(font, w) for w in wrapped) + 2 * size
    height = lh * len(wrapped) + 2 * size
    tag = Image.new("RGB", (width, height), _paper(rng))
    draw = ImageDraw.Draw(tag)
    ink = _ink(rng)
    for i, w in enumerate(wrapped):
        draw.text((size, size + i * lh), w, font=font, fill=ink)
    return tag


def _render_table(
    rows: list[tuple[str, str]], font: ImageFont.FreeTypeFont, rng: random.Random,
) -> Image.Image:
    size = font.size
    pad = int(size * rng.uniform(0.35, 0.6))
    key_w = max(_text_width(font, k) for k, _ in rows if k) + 2 * pad
    val_w = int(size * rng.uniform(15, 19))
    cells: list[tuple[str, list[str]]] = []
    for key, value in rows:
        cells.append((key, _wrap(value, font, val_w - 2 * pad)))
    lh = int(size * 1.35)
    height = sum(len(v) * lh + 2 * pad for _, v in cells) + 2 * size
    width = key_w + val_w + 2 * size
    tag = Image.new("RGB", (width, height), _paper(rng))
    draw = ImageDraw.Draw(tag)
    ink = _ink(rng)
    shade = rng.choice(((225, 225, 225), (210, 210, 210), (232, 228, 215), (215, 222, 232)))
    line_w = rng.choice((1, 2, 2, 3))
    x0, y = size, size
    for key, vals in cells:
        h = len(vals) * lh + 2 * pad
        draw.rectangle((x0, y, x0 + key_w, y + h), fill=shade)
        draw.rectangle((x0, y, x0 + key_w + val_w, y + h), outline=ink, width=line_w)
        draw.line((x0 + key_w, y, x0 + key_w, y + h), fill=ink, width=line_w)
        if key:
            draw.text((x0 + pad, y + pad + (h - 2 * pad - lh) // 2), key, font=font, fill=ink)
        for i, v in enumerate(vals):
            draw.text((x0 + key_w + pad, y + pad + i * lh), v, font=font, fill=ink)
        y += h
    return tag


def _render_sewn(
    rows: list[tuple[str, str]], font: ImageFont.FreeTypeFont, rng: random.Random,
) -> Image.Image:
    """A narrow sewn-in label: centred lines, a stitched border and washing-symbol-like marks."""
    size = font.size
    lines = []
    for key, value in rows:
        lines.extend(_wrap(f"{key} : {value}" if key else value, font, int(size * 15)))
    lh = int(size * 1.5)
    width = max(_text_width(font, w) for w in lines) + 3 * size
    height = lh * len(lines) + 5 * size
    tag = Image.new("RGB", (width, height), _paper(rng))
    draw = ImageDraw.Draw(tag)
    ink = _ink(rng)
    for i in range(0, width, 14):  # stitching along the top and bottom
        draw.line((i, 6, i + 7, 6), fill=(150, 150, 150), width=2)
        draw.line((i, height - 7, i + 7, height - 7), fill=(150, 150, 150), width=2)
    for i, w in enumerate(lines):
        draw.text(((width - _text_width(font, w)) // 2, int(1.5 * size) + i * lh), w, font=font, fill=ink)
    y = height - int(2.6 * size)
    for j in range(5):  # care symbols: a tub, a triangle, a square, an iron, a circle
        cx = width // 2 + (j - 2) * int(size * 1.8)
        box = (cx - size // 2, y, cx + size // 2, y + size)
        shape = draw.ellipse if j % 2 else draw.rectangle
        shape(box, outline=ink, width=2)
    return tag


def _fabric(rng: random.Random, nrng: np.random.Generator, w: int, h: int) -> Image.Image:
    base = np.array(rng.choice(((90, 60, 50), (40, 50, 80), (150, 140, 120), (200, 190, 180),
                                (60, 90, 60), (30, 30, 30), (170, 110, 130))), dtype=np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    period = rng.uniform(3.0, 7.0)
    angle = rng.uniform(0, math.pi)
    weave = np.sin((xx * math.cos(angle) + yy * math.sin(angle)) * 2 * math.pi / period)
    weave2 = np.sin((-xx * math.sin(angle) + yy * math.cos(angle)) * 2 * math.pi / (period * 1.1))
    folds = np.sin(xx / rng.uniform(60, 160) + yy / rng.uniform(90, 200) + rng.uniform(0, 6))
    tex = 22 * weave * weave2 + 18 * folds + nrng.normal(0, 12, (h, w))
    img = np.clip(base[None, None, :] + tex[..., None], 0, 255).astype(np.uint8)
    return Image.fromarray(img).filter(ImageFilter.GaussianBlur(0.6))


def _photograph(tag: Image.Image, rng: random.Random, nrng: np.random.Generator) -> Image.Image:
    angle = rng.uniform(-12, 12)
    mask = Image.new("L", tag.size, 255)
    tag_r = tag.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    mask_r = mask.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    margin_x = int(tag_r.width * rng.uniform(0.06, 0.2))
    margin_y = int(tag_r.height * rng.uniform(0.06, 0.2))
    canvas_w, canvas_h = tag_r.width + 2 * margin_x, tag_r.height + 2 * margin_y
    photo = _fabric(rng, nrng, canvas_w, canvas_h)
    offset = (margin_x + rng.randint(-margin_x // 2, margin_x // 2),
              margin_y + rng.randint(-margin_y // 2, margin_y // 2))
    photo.paste(tag_r, offset, mask_r)
    # Uneven light: a linear gradient across the photo.
    arr = np.asarray(photo).astype(np.float32)
    g0, g1 = rng.uniform(0.7, 1.0), rng.uniform(0.85, 1.05)
    grad = np.linspace(g0, g1, canvas_w, dtype=np.float32)[None, :, None]
    arr = arr * grad + nrng.normal(0, rng.uniform(2, 9), arr.shape)
    photo = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    photo = photo.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))
    long_side = rng.randint(1000, 1400)
    scale = long_side / max(photo.size)
    if scale < 1:
        photo = photo.resize((round(photo.width * scale), round(photo.height * scale)),
                             Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=rng.randint(35, 80))
    buf.seek(0)
    return Image.open(buf).convert("RGB")
