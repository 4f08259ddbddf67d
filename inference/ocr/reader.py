"""Read a care-label photo into structured attributes: :class:`LabelReader`.

``LabelReader.read(image, role=...)`` detects and recognises the text lines
(:mod:`inference.ocr.engine`), joins boxes into visual rows (a ruled table's key and value cells
become one row), finds the 상품정보 keys (소재, 제조연월, 사이즈/치수, 제조국, 세탁방법…) at the start of
rows, normalises what follows them (:mod:`inference.ocr.normalise`), screens every row for prohibited
words and turns the text into keywords. Every value carries the row it came from and a confidence
(OCR confidence × how well the key and the value matched the vocabularies).

Blocking and CPU-bound: call it from a thread pool (``loop.run_in_executor``); one instance serves
all threads (per-thread Tesseract/detector objects live in the engine).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from inference.ocr import normalise, table
from inference.ocr.engine import REREAD_VARIANTS, LineReader, RawLine, Variant
from inference.ocr.fuzzy import field_key_prefix
from inference.ocr.keywords import keywords as extract_keywords
from inference.ocr.screening import ProhibitedHit, Screener, default_words

ROLES = ("main", "detail", "label")
MAX_SIDE = 2000  # px; larger photos are scaled down first
# Reading what follows a size key whose value was not read: how, and how far past the key's box
# (in box heights: a table's value cell starts up to ~7 key heights after a short key like 치수).
PROBE_VARIANTS = (Variant("eng", 64), Variant("kor+eng", 64), Variant("eng", 96))
PROBE_EXTEND = 10.0
MATERIAL_EXTEND = 5.0  # a percentage ('45%') is about two box heights long


@dataclass(frozen=True)
class TextBox:
    text: str
    confidence: float
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in image pixels
    alternatives: tuple[str, ...] = ()  # other readings of the same row (screening looks at all)
    screen_texts: tuple[str, ...] = ()  # readings only screening looks at (jamo-aware re-read)


@dataclass(frozen=True)
class Field:
    value: str  # normalised: '2024-03', 'M(95)', '대한민국', '겉감: 면 80%, 폴리에스터 20%'
    confidence: float
    box: TextBox | None  # the row it was read from (the first one when it spans rows)


@dataclass(frozen=True)
class MaterialPart:
    part: str
    fiber: str
    percent: int


@dataclass(frozen=True)
class LabelReading:
    lines: tuple[TextBox, ...]
    is_label: bool
    material: tuple[MaterialPart, ...]
    material_text: Field | None
    manufactured: Field | None
    size: Field | None
    country: Field | None
    care: Field | None
    prohibited: tuple[ProhibitedHit, ...]
    keywords: tuple[str, ...]
    timed_out: bool
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form (used by ``hanger attributes --json``)."""

        def fld(f: Field | None) -> dict[str, object] | None:
            if f is None:
                return None
            return {"value": f.value, "confidence": round(f.confidence, 3),
                    "box": list(f.box.box) if f.box else None, "source": "ocr"}

        return {
            "is_label": self.is_label,
            "material": [{"part": m.part, "fiber": m.fiber, "percent": m.percent} for m in self.material],
            "material_text": fld(self.material_text),
            "manufactured": fld(self.manufactured),
            "size": fld(self.size),
            "country": fld(self.country),
            "care": fld(self.care),
            "prohibited": [{"word": h.word, "matched_text": h.matched_text,
                            "box": list(h.box) if h.box else None} for h in self.prohibited],
            "keywords": list(self.keywords),
            "lines": [{"text": b.text, "confidence": round(b.confidence, 3), "box": list(b.box)}
                      for b in self.lines],
            "timed_out": self.timed_out,
            "seconds": round(self.seconds, 3),
        }


class LabelReader:
    """Constructed once per process; :meth:`read` is thread-safe and blocking."""

    def __init__(self, *, timeout_s: float = 5.0, prohibited_words: Iterable[str] | None = None,
                 read_jamo: bool = True) -> None:
        self.timeout_s = timeout_s
        self._engine = LineReader(read_jamo=read_jamo)
        self._screener = Screener(default_words() if prohibited_words is None else prohibited_words)

    def read(self, image: Image.Image, *, role: str = "label") -> LabelReading:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        started = time.monotonic()
        if max(image.size) > MAX_SIDE:  # phone photos: 12 MP is slow and no more legible
            scale = MAX_SIDE / max(image.size)
            image = image.resize((round(image.width * scale), round(image.height * scale)),
                                 Image.Resampling.LANCZOS)
        deadline = started + self.timeout_s
        raw, timed_out = self._engine.read(image, deadline=deadline)
        gray = np.asarray(image.convert("L"))
        grouped = group_table(gray, raw) or _group(raw)
        rows = [box for box, _ in grouped]
        reading = interpret(rows, role=role, screener=self._screener, timed_out=timed_out)
        if reading.is_label or role == "label":
            reading = self._retry_fields(gray, grouped, reading, role, deadline)
        return _with_seconds(reading, time.monotonic() - started)

    def _retry_fields(self, gray: np.ndarray, grouped: list[tuple[TextBox, list[RawLine]]],
                      reading: LabelReading, role: str, deadline: float) -> LabelReading:
        """Rows whose value did not make sense (no size after 사이즈, percentages of one part not
        adding up to 100…) are read again other ways; a new reading is kept only where it makes
        the field valid, so the vocabularies and the sum rule check the OCR."""
        entries = _entries([box for box, _ in grouped])
        targets: dict[str, list[int]] = {}
        if not _field_valid(reading, "material"):
            targets["material"] = [i for i, e in enumerate(entries) if _material_like(e)]
        for name in ("size", "manufactured", "country"):
            if getattr(reading, name) is None:
                rows_for = [i for i, e in enumerate(entries) if e.field == name]
                targets[name] = rows_for + [i + 1 for i in rows_for if i + 1 < len(entries)
                                            and entries[i + 1].field is None]
        targets = {k: v for k, v in targets.items() if v}
        if not targets:
            return reading
        rows = [box for box, _ in grouped]
        for name, indexes in targets.items():
            heard: dict[int, list[str]] = {i: [] for i in indexes}  # material: every re-read so far
            for variant in REREAD_VARIANTS:
                if time.monotonic() > deadline:
                    return dataclasses.replace(reading, timed_out=True)
                trial = list(rows)
                for i in indexes:
                    text = " ".join(self._engine.reread(gray, line.quad, variant) for line in grouped[i][1])
                    earlier: tuple[str, ...] = (rows[i].text, *rows[i].alternatives)
                    if name == "material":
                        # A percentage one re-read explains and another does not: the readings
                        # are merged percentage by percentage, so all of them stay. This re-read
                        # leads (it wins ties, as a plain re-read would); the earlier ones follow.
                        earlier = tuple(a for a in dict.fromkeys((*earlier, *heard[i])) if a != text)
                        heard[i].append(text)
                    trial[i] = dataclasses.replace(rows[i], text=text, confidence=rows[i].confidence * 0.9,
                                                   alternatives=earlier)
                retried = interpret(trial, role=role, screener=self._screener)
                if _field_valid(retried, name):
                    rows = [trial[i] if i in indexes else rows[i] for i in range(len(rows))]
                    break
        final = interpret(rows, role=role, screener=self._screener, timed_out=reading.timed_out)
        if "material" in targets and not _field_valid(final, "material"):
            rows = self._probe_material(gray, grouped, rows, role, deadline)
            final = interpret(rows, role=role, screener=self._screener, timed_out=reading.timed_out)
        if final.size is None and "size" in targets:
            probed = self._probe_size(gray, grouped, rows, deadline)
            if probed is not None:
                final = dataclasses.replace(final, size=probed)
        # Screening keeps the first reading too: a word seen either way counts.
        extra = [h for h in reading.prohibited if h not in final.prohibited]
        return dataclasses.replace(final, prohibited=final.prohibited + tuple(extra))


    def _probe_material(self, gray: np.ndarray, grouped: list[tuple[TextBox, list[RawLine]]],
                        rows: list[TextBox], role: str, deadline: float) -> list[TextBox]:
        """A material row ending in a fiber with no percentage after it ('나일론 55%, 스판덱스'):
        detection dropped the percentage, or Tesseract read its box short. Read what follows the
        row's text — on along its line, then the line under it (a wrapped '45%') — and keep what
        makes the material valid."""
        engine = self._engine
        for i, entry in enumerate(_entries(rows)):
            if not _material_like(entry) or not normalise.ends_with_bare_fiber(_best_material_reading(entry)):
                continue
            last = grouped[i][1][-1]
            n_chars = len(re.sub(r"\s", "", last.text))
            starts = dict.fromkeys((engine.key_end(gray, last.quad, n_chars), 1.0))
            reads = [functools.partial(engine.read_beside, gray, last.quad, start, MATERIAL_EXTEND, variant)
                     for start in starts for variant in PROBE_VARIANTS]
            reads += [functools.partial(engine.read_below, gray, last.quad, variant, whole=whole)
                      for whole in (True, False) for variant in PROBE_VARIANTS]
            for read in reads:
                if time.monotonic() > deadline:
                    return rows
                found = read().strip()
                if not found:
                    continue
                trial = list(rows)
                trial[i] = dataclasses.replace(
                    rows[i], text=f"{rows[i].text} {found}", confidence=rows[i].confidence * 0.8,
                    alternatives=tuple(f"{a} {found}" for a in rows[i].alternatives))
                if _field_valid(interpret(trial, role=role, screener=self._screener), "material"):
                    return trial
        return rows

    def _probe_size(self, gray: np.ndarray, grouped: list[tuple[TextBox, list[RawLine]]],
                    rows: Sequence[TextBox], deadline: float) -> Field | None:
        """The size key was read but no size after it: read what follows the key itself — the
        rest of the key's box and the stretch of the row past it, where a lone ``M`` or ``F``
        that detection missed (or cut too tight to read) sits — and take a size found first there."""
        for i, entry in enumerate(_entries(rows)):
            if entry.field != "size":
                continue
            first = grouped[i][1][0]
            key_text = ""
            for text in (first.text, *first.alternatives):
                found = field_key_prefix(text)
                if found and found[0] == "size":
                    key_text = text[:found[1]]
                    break
            if time.monotonic() > deadline:
                return None
            n_chars = len(re.sub(r"\s", "", key_text))
            starts = [self._engine.key_end(gray, first.quad, n_chars) if n_chars else 1.0]
            guess = _key_width_guess(key_text, first.quad)
            if guess < starts[0] - 0.05:  # Tesseract gave the key's last letter the value's box too
                starts.append(guess)
            for start in starts:
                for variant in PROBE_VARIANTS:
                    if time.monotonic() > deadline:
                        return None
                    text = self._engine.read_beside(gray, first.quad, start, PROBE_EXTEND, variant)
                    size = _leading_size(_VALUE_LEAD.sub("", text).strip())
                    if size:
                        return _field(size, rows[i].confidence * entry.key_score * 0.5, rows[i])
        return None


def _key_width_guess(key_text: str, quad: tuple[tuple[float, float], ...]) -> float:
    """Where a key of these characters ends in its box (fraction of the width), from the box
    height: a Hangul syllable is ~0.8 box heights wide, a bracket, mark or space ~0.35."""
    (x0, y0), (x1, y1), _, (x3, y3) = quad[:4]
    width, height = math.hypot(x1 - x0, y1 - y0), math.hypot(x3 - x0, y3 - y0)
    if width <= 0:
        return 1.0
    ems = sum(1.0 if "가" <= c <= "힣" or c.isalnum() else 0.4 for c in key_text)
    return min(1.0, (0.1 * height + 0.8 * height * ems) / width)


def _leading_size(text: str) -> str | None:
    """A size at the start of ``text`` (the whole of it, or its first word). A lone mark is not
    taken for a letter here (``|`` for L, ``5`` for S): beside a key it is as likely a table rule."""
    for candidate in (text, *text.split()[:1]):
        if len(candidate) == 1 and candidate.upper() not in ("S", "M", "L", "F"):
            return None
        found = normalise.size(candidate)
        if found:
            return found
    return None


def _with_seconds(reading: LabelReading, seconds: float) -> LabelReading:
    return dataclasses.replace(reading, seconds=seconds)


def _field_valid(reading: LabelReading, name: str) -> bool:
    if name == "material":
        items = [normalise.Composition(m.part, m.fiber, m.percent, 1.0) for m in reading.material]
        if not items or not normalise.material_sums_ok(items):
            return False
        block = " ".join(_best_material_reading(e) for e in _entries(reading.lines) if _material_like(e))
        return normalise.unexplained_percentages(block) == 0
    return getattr(reading, name) is not None


# --- rows -----------------------------------------------------------------------------------------


@dataclass
class _Row:
    y: float  # centre along the page's "down" direction
    height: float
    items: list[tuple[float, RawLine]] = field(default_factory=list)  # (x along the line, box)

    def textbox(self) -> TextBox:
        items = sorted(self.items, key=lambda it: it[0])
        text = " ".join(line.text for _, line in items)
        confidence = min((line.confidence for _, line in items if line.text), default=0.0)
        boxes = [line.box for _, line in items]
        bounds = (min(b[0] for b in boxes), min(b[1] for b in boxes),
                  max(b[2] for b in boxes), max(b[3] for b in boxes))
        alternatives: tuple[str, ...] = ()
        if any(line.alternatives for _, line in items):
            alternatives = (" ".join(line.alternatives[0] if line.alternatives else line.text
                                     for _, line in items),)
        # Each screening-only reading of a box, with the other boxes of the row as read.
        screen_texts = tuple(
            " ".join(alt if j == i else line.text for j, (_, line) in enumerate(items))
            for i, (_, own) in enumerate(items) for alt in own.screen_texts)
        return TextBox(text=text, confidence=confidence, box=bounds, alternatives=alternatives,
                       screen_texts=screen_texts)


def group_rows(lines: Sequence[RawLine]) -> list[TextBox]:
    """Boxes on one visual row (along the photo's dominant text angle) joined left to right."""
    return [box for box, _ in _group(lines)]


def _group(lines: Sequence[RawLine]) -> list[tuple[TextBox, list[RawLine]]]:
    """Rows with the boxes they were made of (left to right)."""
    return _with_lines(_visual_rows(lines))


def _with_lines(rows: Sequence[_Row]) -> list[tuple[TextBox, list[RawLine]]]:
    return [(r.textbox(), [line for _, line in sorted(r.items, key=lambda it: it[0])]) for r in rows]


def _visual_rows(lines: Sequence[RawLine]) -> list[_Row]:
    if not lines:
        return []
    theta = table.dominant_angle([line.quad for line in lines])
    cos_t, sin_t = math.cos(theta), math.sin(theta)
    placed = []
    for line in lines:
        cx = sum(p[0] for p in line.quad) / 4
        cy = sum(p[1] for p in line.quad) / 4
        height = math.hypot(line.quad[3][0] - line.quad[0][0], line.quad[3][1] - line.quad[0][1])
        placed.append((-sin_t * cx + cos_t * cy, cos_t * cx + sin_t * cy, height, line))
    placed.sort(key=lambda p: p[0])
    rows: list[_Row] = []
    for y, x, height, line in placed:
        if rows and abs(y - rows[-1].y) < 0.5 * max(height, rows[-1].height):
            row = rows[-1]
            n = len(row.items)
            row.y = (row.y * n + y) / (n + 1)
            row.height = max(row.height, height)
            row.items.append((x, line))
        else:
            rows.append(_Row(y=y, height=height, items=[(x, line)]))
    return rows


def group_table(gray: np.ndarray, lines: Sequence[RawLine]) -> list[tuple[TextBox, list[RawLine]]] | None:
    """A ruled table's rows: one per table row, the key cell then the value cell's lines in
    reading order (a wrapped value joined); boxes outside the table grouped as visual rows.
    None when the photo shows no ruled table (:func:`inference.ocr.table.find_grid`)."""
    grid = table.find_grid(gray, [line.quad for line in lines])
    if grid is None:
        return None
    text_height = table.text_height_of([line.quad for line in lines])
    placed = [table.place(grid, line.quad) for line in lines]
    bands = table.cell_order(placed, text_height)
    rows: list[_Row] = []
    for members in bands.values():
        rows.append(_Row(y=sum(placed[i].v for i in members) / len(members), height=text_height,
                         items=[(float(k), lines[i]) for k, i in enumerate(members)]))
    inside = {i for members in bands.values() for i in members}
    # the same frame as the bands (both turned by the text angle)
    rows.extend(_visual_rows([line for i, line in enumerate(lines) if i not in inside]))
    rows.sort(key=lambda r: r.y)
    return _with_lines(rows)


# --- fields ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    field: str | None  # the 상품정보 key this row starts with, if any
    key_score: float
    value: str
    row: TextBox
    other_values: tuple[str, ...] = ()  # the value in the row's other readings

    @property
    def values(self) -> tuple[str, ...]:
        return (self.value, *self.other_values)


_VALUE_LEAD = re.compile(r"^[\s:：|\-=.\]）)>】」;]+")


def _split_key(text: str) -> tuple[str | None, float, str]:
    found = field_key_prefix(text)
    if found:
        name, end, score = found
        return name, score, _VALUE_LEAD.sub("", text[end:]).strip()
    return None, 0.0, text


def _entries(rows: Sequence[TextBox]) -> list[_Entry]:
    out = []
    for row in rows:
        name, score, value = _split_key(row.text)
        # A keyless reading that already names a known fiber with its percentage ('모달 10%') is
        # a material line; an English re-read of it ('AS 10%') must not make it the A/S row.
        fiber_line = name is None and _is_fiber_line(row.text)
        others = []
        for alternative in row.alternatives:
            alt_name, alt_score, alt_value = _split_key(alternative)
            if name is None and alt_name is not None and not fiber_line:  # the other reading found the key
                name, score = alt_name, alt_score * 0.9
            others.append(alt_value if alt_name else alternative)
        out.append(_Entry(name, score, value, row, tuple(others)))
    return out


def _is_fiber_line(text: str) -> bool:
    items = normalise.material(text)
    return bool(items) and all(c.similarity >= 0.8 for c in items) \
        and normalise.unexplained_percentages(text) == 0


def _best_material_reading(entry: _Entry) -> str:
    """Of a row's readings, the one that explains most percentages with known fibers, with the
    percentages it leaves unexplained read from the others (:func:`normalise.merge_readings`)."""
    return normalise.merge_readings(list(entry.values))


def _field(value: str, confidence: float, row: TextBox) -> Field:
    return Field(value=value, confidence=round(max(0.0, min(1.0, confidence)), 4), box=row)


def _neighbours(entries: Sequence[_Entry], i: int) -> list[_Entry]:
    """The entry's own value, then keyless rows right after it, then the keyless row just before
    (a table's key cell sits between the wrapped lines of its value)."""
    out = [entries[i]]
    j = i + 1
    while j < len(entries) and entries[j].field is None:
        out.append(entries[j])
        j += 1
    if i > 0 and entries[i - 1].field is None:
        out.append(entries[i - 1])
    return out


def _read_material(entries: Sequence[_Entry]) -> tuple[list[normalise.Composition], TextBox | None, float]:
    """The composition block: consecutive rows that carry the material key, a fiber with a
    percentage, or a lone percentage (a wrapped line). Value-driven, so a garbled key cell does
    not lose the material; the block with the material key wins over one without."""
    blocks: list[list[_Entry]] = []
    current: list[_Entry] = []
    for entry in entries:
        if _material_like(entry) or (current and _wrapped_percentage(entry)):
            current.append(entry)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    scored: list[tuple[bool, bool, int, list[_Entry], list[normalise.Composition]]] = []
    for block in blocks:
        items = normalise.material(" ".join(_best_material_reading(e) for e in block))
        if items:
            keyed = any(e.field == "material" for e in block)
            scored.append((keyed, normalise.material_sums_ok(items), -len(scored), block, items))
    if not scored:
        return [], None, 0.0
    keyed, sums_ok, _, block, items = max(scored, key=lambda s: s[:3])
    # Another block naming other parts, each adding up to 100 (a line between them broke the run).
    for _, other_ok, _, other, other_items in scored:
        if other is not block and other_ok and not {c.part for c in other_items} & {c.part for c in items}:
            items = items + other_items
    anchor = next((e for e in block if e.field == "material"), block[0])
    confidence = min(e.row.confidence for e in block) * min(c.similarity for c in items)
    confidence *= anchor.key_score if keyed else 0.8
    if not sums_ok:
        confidence *= 0.5
    return items, anchor.row, confidence


def _wrapped_percentage(entry: _Entry) -> bool:
    """A keyless row that is only a percentage ('2006' under '… / 폴리우레탄')."""
    return entry.field is None and any(normalise.lone_percentage(v) for v in entry.values)


def _material_like(entry: _Entry) -> bool:
    if entry.field == "material":
        return True
    if entry.field is not None:
        return False
    return any("%" in v or bool(normalise.material(v)) for v in entry.values)


def _first_value(entries: Sequence[_Entry], name: str, parse: _Parser) -> Field | None:
    for i, entry in enumerate(entries):
        if entry.field != name:
            continue
        for n in _neighbours(entries, i):
            for k, text in enumerate(n.values):
                parsed = parse(text)
                if parsed is not None:
                    value, similarity = parsed
                    penalty = (1.0 if n is entry else 0.8) * (1.0 if k == 0 else 0.9)
                    return _field(value, n.row.confidence * entry.key_score * similarity * penalty, n.row)
    return None


class _Parser:
    """A value parser giving (normalised value, similarity) or None (a callable with a name)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, text: str) -> tuple[str, float] | None:
        if not text.strip():
            return None
        if self.name == "manufactured":
            ym = normalise.year_month(text)
            return (ym, 1.0) if ym else None
        if self.name == "size":
            sz = normalise.size_in(text)
            return (sz, 1.0) if sz else None
        if self.name == "country":
            return normalise.country(text)
        raise ValueError(self.name)


def _care(entries: Sequence[_Entry]) -> Field | None:
    for i, entry in enumerate(entries):
        if entry.field != "care":
            continue
        parts = [entry.value] if entry.value else []
        j = i + 1
        while j < len(entries) and entries[j].field in (None, "care") and not normalise.material(
                entries[j].value):
            parts.append(entries[j].value)
            j += 1
        text = " ".join(p for p in parts if p).strip()
        if text:
            return _field(text, entry.row.confidence * entry.key_score, entry.row)
    return None


def _fallbacks(entries: Sequence[_Entry], current: dict[str, Field | None]) -> dict[str, Field | None]:
    """Values without (readable) keys: 'MADE IN CHINA' on a sewn-in label, a lone '2024년 03월',
    a size after a garbled key."""
    out = dict(current)
    for entry in entries:
        text = entry.row.text
        if out.get("size") is None and entry.field is None:
            # A size after a key OCR garbled ('저우 | L', '주 XL'): a short head, then only a size.
            parts = re.split(r"\s*[:|]\s*|\s+", text.strip(), maxsplit=1)
            if len(parts) == 2 and 1 <= len(parts[0]) <= 4 and not normalise.material(text):
                size = normalise.size(parts[1])
                if size:
                    out["size"] = _field(size, entry.row.confidence * 0.5, entry.row)
        if out.get("country") is None and re.search(r"made\s*in", text, re.IGNORECASE):
            found = normalise.country(re.split(r"(?i)made\s*in", text, maxsplit=1)[1])
            if found:
                out["country"] = _field(found[0], entry.row.confidence * found[1] * 0.8, entry.row)
        if out.get("manufactured") is None and re.search(r"(19|20)\d{2}\s*년\s*\d{1,2}\s*월", text):
            ym = normalise.year_month(text)
            if ym:
                out["manufactured"] = _field(ym, entry.row.confidence * 0.6, entry.row)
    return out


def interpret(
    rows: Sequence[TextBox], *, role: str, screener: Screener, timed_out: bool = False,
) -> LabelReading:
    """Everything :class:`LabelReading` holds, from rows already read (pure; unit-testable)."""
    entries = _entries(rows)
    items, material_row, material_conf = _read_material(entries)
    fields: dict[str, Field | None] = {
        name: _first_value(entries, name, _Parser(name)) for name in ("manufactured", "size", "country")
    }
    fields = _fallbacks(entries, fields)
    keys_found = {e.field for e in entries if e.field}
    label_keys = keys_found & {"material", "manufactured", "size", "country", "care", "maker", "warranty"}
    is_label = len(label_keys) >= 2 or (bool(items) and normalise.material_sums_ok(items))
    keep_fields = role == "label" or is_label
    material_text = (_field(normalise.format_material(items), material_conf, material_row)
                     if items and material_row else None)
    hits = screener.screen_readings((r.text, (*r.alternatives, *r.screen_texts), r.box) for r in rows)
    return LabelReading(
        lines=tuple(rows),
        is_label=is_label,
        material=tuple(MaterialPart(c.part, c.fiber, c.percent) for c in items) if keep_fields else (),
        material_text=material_text if keep_fields else None,
        manufactured=fields["manufactured"] if keep_fields else None,
        size=fields["size"] if keep_fields else None,
        country=fields["country"] if keep_fields else None,
        care=_care(entries) if keep_fields else None,
        prohibited=tuple(hits),
        keywords=extract_keywords(r.text for r in rows),
        timed_out=timed_out,
    )
