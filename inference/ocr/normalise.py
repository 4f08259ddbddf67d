"""Turn a label's value text (as OCR read it) into a normalised value.

Pure functions, also used on the seller's declared values: :func:`year_month` ('24/03' -> '2024-03'),
:func:`size` ('m (95)' -> 'M(95)', '프리' -> 'FREE'), :func:`country` ('Made in Korea' -> '대한민국'),
:func:`material` ('겉감: 면 80%, 폴리 20%' -> [(겉감, 면, 80), (겉감, 폴리에스터, 20)]). Each tolerates
the usual OCR confusions (O/0, l/1, % read as 96 or 9%).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from inference.ocr import fuzzy, vocab

# Letters OCR reads in place of digits, fixed only where a number is expected.
_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "l": "1", "I": "1", "|": "1",
                                   "i": "1", "!": "1", "Z": "2", "z": "2", "S": "5", "s": "5",
                                   "B": "8", "g": "9", "q": "9", "G": "6", "b": "6", "T": "7"})


def fix_digits(text: str) -> str:
    return text.translate(_DIGIT_LOOKALIKES)


# --- 제조연월 ------------------------------------------------------------------------------------

_YM = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d{2}|\d{2})\s*(?:년|[./\-_,]|\s)\s*(?P<m>\d{1,2})(?!\d)\s*(?:월|\.)?"
)
_YM_COMPACT = re.compile(r"(?<!\d)(?P<y>20\d{2})(?P<m>0[1-9]|1[0-2])(?!\d)")


def year_month(text: str) -> str | None:
    """'2024년 03월', '2024.03', '24/03', '2024-3', '202403' -> '2024-03'; None if none is there."""
    cleaned = _fix_number_runs(text)
    for pattern in (_YM, _YM_COMPACT):
        for m in pattern.finditer(cleaned):
            y, mo = m.group("y"), int(m.group("m"))
            year = int(y) if len(y) == 4 else 2000 + int(y)
            if 1 <= mo <= 12 and 1990 <= year <= 2039:
                return f"{year:04d}-{mo:02d}"
    return None


def _fix_number_runs(text: str) -> str:
    """Fix look-alike letters only inside runs that are mostly digits (2O24 -> 2024, not 'Oct')."""
    def repl(m: re.Match[str]) -> str:
        run = m.group(0)
        digits = sum(c.isdigit() for c in run)
        return fix_digits(run) if digits >= max(1, len(run) - 1) else run

    return re.sub(r"[0-9OoDlIi|!ZzSsBgqGbT]{2,}", repl, text)


# --- 사이즈 --------------------------------------------------------------------------------------

_LETTER = "|".join(sorted(vocab.LETTER_SIZES, key=len, reverse=True))
_SIZE_TOKEN = rf"(?:{_LETTER}|\d{{2,3}})"
_SIZE_PATTERNS = (
    re.compile(rf"^(?P<a>{_LETTER})\((?P<n>\d{{2,3}})\)$"),  # M(95)
    re.compile(rf"^(?P<n>\d{{2,3}})\((?P<a>{_LETTER})\)$"),  # 95(M)
    re.compile(rf"^{_SIZE_TOKEN}(?:/{_SIZE_TOKEN})+$"),  # S/M/L, 55/66
    re.compile(rf"^(?:{_LETTER})$"),
    re.compile(r"^\d{2,3}$"),
)


def size(text: str) -> str | None:
    """'M(95)', 'm (95)', 'FREE', 'F', '프리', '55', 'S/M/L' -> normalised; None if not a size."""
    compact = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).upper()
    compact = compact.replace("|", "/").replace("\\", "/").strip(".,;:-_'\"")
    if not compact:
        return None
    if compact in {fuzzy.key(s).upper() for s in vocab.FREE_SPELLINGS} or compact.startswith("FREE"):
        return vocab.FREE_SIZE
    # Numbers inside a size: O->0, l->1 ('1OO' -> '100'); letter sizes keep their letters.
    for _ in range(2):  # twice: '1OO' needs the first fix before the second O has a digit beside it
        compact = re.sub(r"(?<=\d)[OD]|[OD](?=\d)", "0", compact)
        compact = re.sub(r"(?<=\d)[lI]|[lI](?=\d)", "1", compact)
    compact = _letter_from_body_size(compact)
    if len(compact) == 1 and compact in _LETTER_MISREADS:
        compact = _LETTER_MISREADS[compact]
    for pattern in _SIZE_PATTERNS:
        if pattern.match(compact):
            numbers = re.findall(r"\d+", compact.split("(")[0])
            if any(not _plausible_number_size(n) for n in numbers):
                return None  # '12', '20/03' are no sizes
            return compact
    return None


# Korean women's letter sizes and the bust size they stand for: 'M(95)'.
_BODY_TO_LETTER = {"85": "XS", "90": "S", "95": "M", "100": "L", "105": "XL", "110": "XXL"}
# A lone letter size OCR read as something else (no size is a single digit).
_LETTER_MISREADS = {"5": "S", "$": "S", "1": "L", "[": "L", "|": "L", "I": "L", "W": "M"}


def _letter_from_body_size(compact: str) -> str:
    """'5(90)' or '[(100)': the letter before a bust size is garbled; the bust size tells it."""
    m = re.fullmatch(r"(?P<a>[^()]{1,3})\((?P<n>\d{2,3})\)", compact)
    if m and m.group("a") not in vocab.LETTER_SIZES and m.group("n") in _BODY_TO_LETTER:
        return f"{_BODY_TO_LETTER[m.group('n')]}({m.group('n')})"
    return compact


def _plausible_number_size(number: str) -> bool:
    return number in vocab.KR_NUMERIC_SIZES or number in vocab.BODY_SIZES or number in vocab.WAIST_SIZES


def size_in(text: str) -> str | None:
    """The first size found in a longer value ('S / M / L (free)' or 'M(95) 기준')."""
    whole = size(text)
    if whole:
        return whole
    for token in re.split(r"[\s,;]+", text):
        found = size(token)
        if found:
            return found
    return None


# --- 제조국 --------------------------------------------------------------------------------------


def country(text: str) -> tuple[str, float] | None:
    """'대한민국', '한국', 'MADE IN KOREA', 'Made in China' -> ('대한민국' | '중국'…, similarity)."""
    compact = fuzzy.key(text)
    compact = re.sub(r"^(madein|made|제조국|원산지)", "", compact)
    compact = re.sub(r"(산|제)$", "", compact) if len(compact) > 2 else compact
    if not compact:
        return None
    found = fuzzy.best("country", compact, cutoff=70)
    if found:
        return found
    # A longer value ('중국 (OEM)'): try each word.
    for word in re.split(r"[\s,/()]+", text):
        found = fuzzy.best("country", word, cutoff=75) if len(fuzzy.key(word)) > 1 else None
        if found:
            return found
    return None


# --- 소재 ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Composition:
    part: str
    fiber: str
    percent: int
    similarity: float  # how close the fiber word was to the vocabulary (1.0 = exact)
    garbled: bool = False  # the number was read with letters in it ('IS%' for 95%)


# A number then a percent sign (or what OCR makes of one: 96, 9%, %6, o/o).
# Letters in the number: a fiber glued to its number ('RAYON95%') is often read 'RAYONIS%'.
_PCT = re.compile(r"(?<![0-9])(?P<num>[0-9OolI|SZBGgq]{1,3})\s*(?P<pct>%|96|9%|%6|°/o|o/o|/o|퍼센트)")


def material(text: str) -> list[Composition]:
    """Every (part, fiber, percent) in ``text``; a fiber with no part before it is the shell (겉감).

    The words between one percentage and the next name the fiber (last word) and maybe the part.
    A percent sign read as digits is ambiguous ('1006': 100 % or 10 %; '596': 59 % or 5 %); the
    longer number is tried first, a shorter one when only it makes every part add up to 100.
    """
    items = _material(text, (3, 2, 1))
    # Each way of reading the signs as printed ('596': 5 % + '96' rather than 59 % + '6') comes
    # before any number is repaired by the sum rule; then the repaired ones; then bare numbers.
    as_read = [_material(text, heads, repair=False) for heads in ((3, 2, 1), (2, 3, 1), (1, 2, 3))]
    repaired = [items, _material(text, (2, 3, 1))] if items else []
    for other in (*as_read, *repaired, *_bare_number_readings(text)):
        if material_sums_ok(other):
            return other
    return items


# A known fiber followed by a number OCR gave no percent sign ('레이온 54' for 레이온 5%, '코튼 65').
_BARE = re.compile(r"(?P<fiber>[A-Za-z가-힣]+)\s*(?P<num>\d{1,3})"
                   r"(?![0-9%.,/\-]*\d)(?!\s*(?:%|96|9%|%6|o/o|/o))")


def _bare_number_readings(text: str) -> list[list[Composition]]:
    """The text read again with the numbers that follow a known fiber without a percent sign
    taken as percentages: as printed (65 -> 65 %), then with the last digit as the misread sign
    (54 -> 5 %). Only used where the sum rule then holds as read (no number repaired)."""
    bare = [m for m in _BARE.finditer(text) if fuzzy.best("fiber", m.group("fiber"), cutoff=80)]
    if not bare:
        return []
    out = []
    for drop_last in (False, True):
        pieces, start = [], 0
        for m in bare:
            num = m.group("num")
            if drop_last:
                if len(num) < 2 or num[-1] not in "04689":
                    continue
                num = num[:-1]
            pieces.append(f"{text[start:m.start('num')]}{num}%")
            start = m.end("num")
        pieces.append(text[start:])
        out.append(_material("".join(pieces), (3, 2, 1), repair=False))
    return out


def _material(text: str, head_lengths: tuple[int, ...], *, repair: bool = True) -> list[Composition]:
    text = _percent_read_as_digit(unicodedata.normalize("NFKC", text), head_lengths)
    out: list[Composition] = []
    part = vocab.DEFAULT_PART
    totals: dict[str, int] = {}
    prev_end = 0
    for m in _PCT.finditer(text):
        words = [w for w in re.split(r"[^A-Za-z가-힣ㄱ-ㅣ]+", text[prev_end:m.start()]) if w]
        prev_end = m.end()
        if not words:
            continue
        fiber_word = words[-1]
        named_part = None
        for w in words[:-1]:  # words before the fiber may name the part ('겉감: 면 80%')
            found_part = fuzzy.best("part", w, cutoff=70)
            if found_part:
                named_part = found_part[0]
        fiber = fuzzy.best("fiber", fiber_word, cutoff=70)
        if fiber is None:  # the part glued to its fiber ('겉감면', '겉감실크'): OCR lost the space
            glued = _glued_part(fiber_word)
            if glued:
                named_part, fiber = glued
        if fiber is None and len(words) >= 2:  # a fiber of two words ('오리 솜털')
            fiber = fuzzy.best("fiber", "".join(words[-2:]), cutoff=70)
        if fiber is None:
            fiber = fuzzy.one_syllable_fiber(fiber_word)  # 움 for 울, right before a percentage
        if fiber is None:
            found_part = fuzzy.best("part", fiber_word, cutoff=70)
            if found_part:  # '겉감 100%' names no fiber; keep the part for what follows
                part = found_part[0]
            continue
        raw_num = m.group("num")
        if not any(c.isdigit() for c in raw_num) and not re.search(r"[A-Z]$", fiber_word):
            continue  # letters alone count as a number only glued to an upper-case fiber name
        num = fix_digits(raw_num)
        if not num.isdigit() or int(num) == 0:
            continue
        similarity = fiber[1]
        if named_part:
            part = named_part
        elif totals.get(part, 0) >= 100:
            # The part already adds up to 100, so a new part began whose name OCR lost.
            part, similarity = _unnamed_part(fiber[0], words[:-1], set(totals)), similarity * 0.6
        totals[part] = totals.get(part, 0) + int(num)
        out.append(Composition(part, fiber[0], int(num), similarity, garbled=not raw_num.isdigit()))
    return _repair_sums(out) if repair else out


def _glued_part(word: str) -> tuple[str, tuple[str, float]] | None:
    """('겉감', ('면', 1.0)) for '겉감면': a part name, then a fiber, with no space between."""
    for canon, spellings in vocab.PARTS.items():
        for spelling in spellings:
            if len(word) > len(spelling) and word.startswith(spelling) and "가" <= spelling[0] <= "힣":
                rest = word[len(spelling):]
                fiber = fuzzy.best("fiber", rest, cutoff=80) or fuzzy.one_syllable_fiber(rest)
                if fiber:
                    return canon, fiber
    return None


def _percent_read_as_digit(text: str, head_lengths: tuple[int, ...] = (3, 2, 1)) -> str:
    """'80%' read as '800' or '20%' as '2006': a number over 100 with no percent sign after it
    whose tail is what OCR makes of '%' becomes a percentage."""
    def repl(m: re.Match[str]) -> str:
        run = m.group(0)
        if int(run) <= 100:
            return run
        for k in head_lengths:
            head, tail = run[:k], run[k:]
            if tail in ("0", "6", "06", "96") and 1 <= int(head) <= 100:
                return f"{head}%"
        return run

    def repl_signed(m: re.Match[str]) -> str:  # '1000%': the sign read twice, as 0 and as %
        run = m.group(1)
        twice = int(run) > 100 and run[-1] in "06" and 1 <= int(run[:-1]) <= 100
        return f"{run[:-1]}%" if twice else m.group(0)

    text = re.sub(r"(?<![0-9.,:/\-])(\d{3,4})%", repl_signed, text)
    return re.sub(r"(?<![0-9.,:/\-])\d{3,4}(?![0-9%℃°])", repl, text)


_DOWN = ("오리솜털", "오리깃털", "거위솜털", "거위깃털")


def _unnamed_part(fiber: str, words: list[str], used: set[str]) -> str:
    """Best guess for a part whose name was misread: down is filling; else the closest part name
    to whatever was read; else the lining, the usual second part."""
    if fiber in _DOWN:
        return "충전재"
    for w in words:
        found = fuzzy.best("part", w, cutoff=40)
        if found and found[0] not in used:
            return found[0]
    for candidate in ("안감", "배색", "충전재"):
        if candidate not in used:
            return candidate
    return "기타"


def _repair_sums(items: list[Composition]) -> list[Composition]:
    """Percentages of one part must add up to 100; fix one misread number when that makes it so."""
    by_part: dict[str, list[int]] = {}
    for i, c in enumerate(items):
        by_part.setdefault(c.part, []).append(i)
    fixed = list(items)
    for indexes in by_part.values():
        total = sum(items[i].percent for i in indexes)
        if total == 100:
            continue
        garbled = [i for i in indexes if items[i].garbled]
        # One number read with letters in it: the others fix it. Else one confusable digit.
        candidates = garbled if len(garbled) == 1 else [
            i for i in indexes if _is_misread(items[i].percent, 100 - (total - items[i].percent))]
        for i in candidates[:1]:
            c = items[i]
            alternative = 100 - (total - c.percent)
            if 0 < alternative <= 100:
                fixed[i] = Composition(c.part, c.fiber, alternative, c.similarity * 0.8, c.garbled)
    return fixed


def _is_misread(read: int, alternative: int) -> bool:
    """Could OCR have read ``alternative`` as ``read``? (a dropped/extra digit, 8<->6/3/0, 1<->7)."""
    a, b = str(read), str(alternative)
    if len(a) != len(b):
        return a.startswith(b) or a.endswith(b) or b.startswith(a) or b.endswith(a)
    confusable = {frozenset(p) for p in ("86", "83", "80", "17", "10", "56", "58", "30", "90", "69",
                                         "35", "25", "49", "47", "00")}
    diffs = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    return len(diffs) == 1 and frozenset(diffs[0]) in confusable


def _segments(text: str) -> list[str]:
    """``text`` cut after each percentage: '면 80%, 폴리 20%' -> ['면 80%', ', 폴리 20%']."""
    text = _percent_read_as_digit(unicodedata.normalize("NFKC", text))
    out, start = [], 0
    for m in _PCT.finditer(text):
        out.append(text[start:m.end()])
        start = m.end()
    if start < len(text):
        out.append(text[start:])
    return out


def _part_named(segment: str) -> str | None:
    """The garment part a segment names before its fiber word, if any."""
    for w in re.split(r"[^A-Za-z가-힣ㄱ-ㅣ]+", segment):
        found = fuzzy.best("part", w, cutoff=80) if len(w) > 1 else None
        if found:
            return found[0]
    return None


def _segment_known(segment: str) -> bool:
    return _segment_similarity(segment) >= 0.8


def _segment_similarity(segment: str) -> float:
    """How surely the segment names its fiber (0 when it names none)."""
    return max((c.similarity for c in material(segment)), default=0.0)


def merge_readings(readings: list[str]) -> str:
    """One material text from several readings of the same row: the reading explaining most
    percentages with known fibers, with each percentage it could not explain taken from another
    reading that has as many percentages and explains that one ('84701 15%' in one reading,
    'RAYON 15%' in the other). Fibers and numbers still go through the sum rule afterwards."""
    if not readings:
        return ""
    base = max(readings, key=material_score)
    pieces = _segments(base)
    n_pct = len(_PCT.findall(_percent_read_as_digit(unicodedata.normalize("NFKC", base))))
    if n_pct == 0:
        return base
    others = []
    for other in readings:
        if other is base:
            continue
        norm = _percent_read_as_digit(unicodedata.normalize("NFKC", other))
        if len(_PCT.findall(norm)) == n_pct:
            others.append(_segments(other))
    if not others:
        return base
    merged = list(pieces)
    for i in range(n_pct):
        if i < len(merged) and not _segment_known(merged[i]):
            # The other reading that names this fiber most surely ('린 24%' for a garbled one).
            found = [segs[i] for segs in others if i < len(segs)]
            best = max(found, key=_segment_similarity, default="")
            if _segment_similarity(best) > _segment_similarity(merged[i]):
                part = _part_named(merged[i])
                merged[i] = best if part is None or _part_named(best) else f" {part} {best}"
    text = "".join(merged)
    return text if material_score(text) > material_score(base) else base


def material_score(text: str) -> tuple[int, int]:
    """(percentages explained by a known fiber, minus those explained by none): higher is better."""
    return sum(1 for c in material(text) if c.similarity >= 0.8), -unexplained_percentages(text)


def unexplained_percentages(text: str) -> int:
    """How many percentages in ``text`` no composition was read for ('&001100%': the fiber is lost)."""
    return max(0, len(_PCT.findall(unicodedata.normalize("NFKC", text))) - len(material(text)))


def ends_with_bare_fiber(text: str) -> bool:
    """The text names a fiber after its last percentage ('나일론 55%, 스판덱스'): that fiber's
    percentage was not read."""
    fixed = _percent_read_as_digit(unicodedata.normalize("NFKC", text))
    tail = fixed[max((m.end() for m in _PCT.finditer(fixed)), default=0):]
    words = [w for w in re.split(r"[^A-Za-z가-힣]+", tail) if len(w) > 1]
    return bool(words) and fuzzy.best("fiber", words[-1], cutoff=80) is not None


def lone_percentage(text: str) -> bool:
    """Only a percentage ('20%', or '2006' with the sign read as digits): the end of a fiber's
    line wrapped onto a line of its own."""
    fixed = _percent_read_as_digit(unicodedata.normalize("NFKC", text)).strip(" ,/")
    m = _PCT.fullmatch(fixed)
    return m is not None and m.group("num").isdigit() and 0 < int(m.group("num")) <= 100


def material_sums_ok(items: list[Composition]) -> bool:
    totals: dict[str, int] = {}
    for c in items:
        totals[c.part] = totals.get(c.part, 0) + c.percent
    return bool(totals) and all(t == 100 for t in totals.values())


def format_material(items: list[Composition] | list[tuple[str, str, int]]) -> str:
    """'겉감: 면 80%, 폴리에스터 20% / 안감: 폴리에스터 100%'."""
    parts: dict[str, list[str]] = {}
    for item in items:
        part, fiber, pct = (item.part, item.fiber, item.percent) if isinstance(item, Composition) else item
        parts.setdefault(part, []).append(f"{fiber} {pct}%")
    return " / ".join(f"{p}: {', '.join(v)}" for p, v in parts.items())
