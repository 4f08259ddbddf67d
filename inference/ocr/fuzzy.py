"""Correct OCR output against the closed vocabularies (:mod:`inference.ocr.vocab`).

Matching works on a *key*: lower case, no spaces or punctuation. Korean is compared jamo by jamo,
so one misread stroke (를/률, 폴/풀) costs one small edit instead of a whole syllable.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from inference.ocr import vocab

_NOT_WORD = re.compile(r"[^0-9a-z가-힣ㄱ-ㆎ]+")


def key(text: str) -> str:
    """Lower case, NFKC, without spaces and punctuation."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).lower())


def jamo(text: str) -> str:
    """Hangul syllables split into their conjoining jamo (NFD), everything else unchanged."""
    return unicodedata.normalize("NFD", text)


@lru_cache(maxsize=8)
def _choices(kind: str) -> dict[str, str]:
    """jamo(key(spelling)) -> canonical, for one vocabulary."""
    if kind == "fiber":
        forms = vocab.fiber_surface_forms()
    elif kind == "part":
        forms = vocab.part_surface_forms()
    elif kind == "country":
        forms = vocab.country_surface_forms()
    elif kind == "field":
        forms = {key(s): field for field, spellings in vocab.FIELD_KEYS.items() for s in spellings}
    else:
        raise ValueError(kind)
    return {jamo(key(s)): canon for s, canon in forms.items()}


def best(kind: str, text: str, *, cutoff: float = 75.0) -> tuple[str, float] | None:
    """The canonical entry of vocabulary ``kind`` closest to ``text`` and a 0..1 similarity."""
    k = jamo(key(text))
    if not k:
        return None
    choices = _choices(kind)
    if k in choices:
        return choices[k], 1.0
    if len(k) <= 2:  # one-syllable or two-letter words: exact only (too many near neighbours)
        return None
    found = process.extractOne(k, list(choices), scorer=fuzz.ratio, score_cutoff=cutoff)
    if found is None:
        return None
    return choices[found[0]], found[1] / 100.0


def field_key_prefix(text: str) -> tuple[str, int, float] | None:
    """If ``text`` starts with a 상품정보 key (소재, 제조연월…), which field, how many characters of
    ``text`` the key takes, and how sure (1.0 = exact). Tolerates one misread letter in keys of three
    or more letters, one misread jamo in two-letter keys, and spaces inside the key (``제조 연월``)."""
    stripped = text.lstrip(" [(<【「*-·•")
    lead = len(text) - len(stripped)
    candidates: list[tuple[float, int, str]] = []
    for spelling_key_jamo, field in _choices("field").items():
        spelling = unicodedata.normalize("NFC", spelling_key_jamo)
        n = len(spelling)
        # Walk the text taking n key characters (skipping spaces/punctuation inside the key).
        taken: list[str] = []
        consumed = 0
        for ch in stripped:
            if len(taken) == n:
                break
            consumed += 1
            if key(ch):
                taken.append(key(ch))
        if len(taken) < n:
            continue
        got = "".join(taken)
        if got == spelling:
            candidates.append((1.0, lead + consumed, field))
        elif n >= 3:
            score = fuzz.ratio(jamo(got), spelling_key_jamo) / 100.0
            if score >= 0.8:
                candidates.append((score, lead + consumed, field))
        elif n == 2 and Levenshtein.distance(jamo(got), spelling_key_jamo) <= 1:
            candidates.append((0.8, lead + consumed, field))  # 지수 for 치수, 수재 for 소재
    if not candidates:
        return None
    # Prefer the surest, then the longest key (제조연월일 over 제조연월).
    score, end, field = max(candidates, key=lambda c: (c[0], c[1]))
    rest = text[end:]
    # A key must be followed by a separator or a space, not run into a longer word.
    if rest and not re.match(r"\s|[:：|\]\)>】」\-=.]", rest) and score < 1.0:
        return None
    return field, end, score


def one_syllable_fiber(word: str) -> tuple[str, float] | None:
    """A one-syllable fiber (면, 울, 마, 견, 모) one jamo away from ``word``, or else the one fiber
    whose name starts with ``word``, if exactly one does. Only safe where a fiber is expected (the
    word right before a percentage)."""
    if len(word) != 1 or not "가" <= word <= "힣":
        return None
    target = jamo(word)
    found = {canon for spelling, canon in _choices("fiber").items()
             if len(unicodedata.normalize("NFC", spelling)) == 1
             and Levenshtein.distance(spelling, target) <= 1}
    if not found:  # the first syllable of a longer name, the rest lost (린 for 린넨)
        found = {canon for spelling, canon in _choices("fiber").items()
                 if unicodedata.normalize("NFC", spelling).startswith(word)}
    return (found.pop(), 0.7) if len(found) == 1 else None
