"""Searchable keywords from the text of detail images: normalised tokens, deduplicated, no stopwords.

Tokens are NFKC, lower case, runs of Hangul or of Latin letters and digits; Korean particles at
the end of a word (을/를/은/는/의/에/에서/으로…) are cut off; numbers alone, single characters and
label boilerplate (이하, 사용, 세탁, 주의…) are dropped. Order is first appearance.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from inference.ocr.vocab import FIELD_KEYS

_TOKEN = re.compile(r"[가-힣]+|[0-9a-z]+")  # Hangul and Latin/digits apart: 나일론90 -> 나일론, 90
# Only particles that rarely end a noun: 이/가/도/로 are left alone (그레이, 요가, 포도, 와이드로브).
_PARTICLES = ("에서", "으로", "에게", "까지", "부터", "처럼", "보다", "을", "를", "은", "는", "의", "에",
              "와", "과")
_STOPWORDS_TEXT = """
이하 이상 사용 금지 주의 세탁 방법 기준 관련 및 또는 등 시 후 전 수 것 그 이 저 더 매우 정말 너무 아주
제품 상품 구매 구입 경우 때 위 아래 안 밖 점 분 개 장 제 해 주세요 합니다 입니다 있습니다 없습니다
됩니다 하세요 마십시오 바랍니다 않습니다 있는 없는 하는 되는 같은
the and or of for with to in on a an is are
"""
# Plus the 상품정보 keys themselves (소재, 제조연월…): on a label they are boilerplate, not keywords.
STOPWORDS = frozenset(_STOPWORDS_TEXT.split()) | frozenset(
    word for spellings in FIELD_KEYS.values() for s in spellings for word in s.lower().split())
_MIN_STEM = 2  # a stem shorter than this keeps its "particle" (그는 stays 그는)


def tokens(text: str) -> list[str]:
    """Normalised tokens of ``text`` (stopwords and numbers removed, particles cut)."""
    out = []
    for raw in _TOKEN.findall(unicodedata.normalize("NFKC", text).lower()):
        token = _strip_particle(raw)
        if len(token) < 2 or token.isdigit() or token in STOPWORDS:
            continue
        out.append(token)
    return out


def _strip_particle(token: str) -> str:
    if not re.fullmatch(r"[가-힣]+", token):
        return token
    for particle in _PARTICLES:
        if token.endswith(particle) and len(token) - len(particle) >= _MIN_STEM:
            return token[: -len(particle)]
    return token


def keywords(lines: Iterable[str], *, limit: int = 200) -> tuple[str, ...]:
    """Deduplicated tokens over ``lines`` in order of first appearance, at most ``limit``."""
    seen: dict[str, None] = {}
    for line in lines:
        for token in tokens(line):
            seen.setdefault(token, None)
            if len(seen) >= limit:
                return tuple(seen)
    return tuple(seen)
