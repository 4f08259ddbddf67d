"""Read the standalone Hangul jamo in a text line, which Tesseract's Korean model cannot.

Sellers slip prohibited words past filters by typing one syllable as compatibility jamo (``ㄱㅏ품``,
``ㅈㅓO품급``). Debian's Korean Tesseract model knows only 12 of the 51 compatibility jamo and reads
the rest as Latin or digits (ㅅㅐ → ``AH``, ㄱㅡㅂ → ``O44``), so the text screening gets is not the
text in the image. This module finds those jamo glyphs itself:

1. :func:`segment` — the ink of a cut-out line (:func:`inference.ocr.engine.cut_line`) is split into
   connected components; components stacked over each other are one piece (품 = ㅍ over ㅜ over
   ㅁ), and pieces closer than a syllable's inner gap are joined (이 = ㅇ + ㅣ). A compatibility jamo
   is drawn alone in a full-width cell, so it stays one piece with wide gaps on both sides.
2. :class:`GlyphModel` — a small two-layer network (numpy only, weights in ``models/glyphs.npz``)
   labels each piece as one of the 51 compatibility jamo or ``other`` (syllables, Latin, digits,
   marks, fragments), from a square window around the piece scaled by the line's ink height plus
   a few geometry features (size, position, gaps). It was trained by
   :mod:`inference.ocr.train_glyphs` on lines rendered in fonts the synthetic test tags never use.
3. :func:`readings` — in a line with jamo pieces, the runs of ``other`` pieces are read by Tesseract
   (caller-supplied functions) and the jamo put between them (``ㅈㅓ`` + ``O품급 퀄리티``), or
   Tesseract's symbols of the whole line over the jamo pieces are replaced by the jamo. These
   readings are for screening only: they never feed the label fields.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from hanger.errors import ConfigError

# The 51 compatibility jamo, U+3131..U+3163 (30 consonants incl. doubles and clusters, 21 vowels).
JAMO = "".join(chr(c) for c in range(0x3131, 0x3164))
OTHER = "other"
CLASSES: tuple[str, ...] = (*JAMO, OTHER)
WINDOW = 32  # px side of the square a piece is scaled to
WINDOW_SCALE = 1.25  # window side / line ink height
GEOMETRY = 7  # geometry features after the pixels
INK_THRESHOLD = 128  # cut_line gives dark text on white, contrast stretched
# Lines whose jamo pieces are all shapes that Latin letters, digits and marks also have are not
# rebuilt (a '0', 'l' or '-' is far more often meant than ㅇ, ㅣ or ㅡ; Tesseract reads those).
AMBIGUOUS = frozenset("ㅇㅣㅡ")  # also O/0, l/1/|, -
SURE_JAMO_PROBABILITY = 0.9  # a piece this sure makes its line a jamo line
MIN_JAMO_PROBABILITY = 0.6  # ... in which pieces this likely are read as jamo


@dataclass(frozen=True)
class Piece:
    """One glyph candidate of a line crop, in crop pixels."""

    x0: int
    y0: int
    x1: int  # exclusive
    y1: int  # exclusive

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2


@dataclass(frozen=True)
class Line:
    """A segmented line: its pieces left to right and the ink band they sit in."""

    ink: np.ndarray  # bool, True = ink
    pieces: tuple[Piece, ...]
    top: float
    bottom: float

    @property
    def em(self) -> float:
        return max(4.0, self.bottom - self.top)


def segment(crop: np.ndarray) -> Line:
    """Pieces of a grey line crop (dark text on white), left to right (see the module docstring)."""
    import cv2

    ink = crop < INK_THRESHOLD
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    boxes = [(int(x), int(y), int(x + w), int(y + h)) for x, y, w, h, area in stats[1:count]
             if area >= 4]
    rows = np.nonzero(ink.any(axis=1))[0]
    if not boxes or rows.size == 0:
        return Line(ink, (), 0.0, 0.0)
    ys = np.nonzero(ink)[0]
    top, bottom = (float(v) for v in np.percentile(ys, (1, 99)))
    em = max(4.0, bottom - top)
    boxes = [b for b in boxes if b[3] - b[1] >= 0.06 * em or b[2] - b[0] >= 0.06 * em]  # specks
    boxes.sort()
    # Stacked components (x ranges overlapping) are one piece.
    merged: list[list[int]] = []
    for x0, y0, x1, y1 in boxes:
        if merged:
            last = merged[-1]
            overlap = min(last[2], x1) - max(last[0], x0)
            if overlap > 0.3 * min(x1 - x0, last[2] - last[0]) or x1 <= last[2]:
                last[:] = [min(last[0], x0), min(last[1], y0), max(last[2], x1), max(last[3], y1)]
                continue
        merged.append([x0, y0, x1, y1])
    # Side-by-side parts of one syllable or letter pair (ㅇ + ㅣ, ㄱ + ㄱ of ㄲ) sit closer than glyphs
    # in separate full-width cells.
    joined: list[list[int]] = []
    for box in merged:
        if joined:
            last = joined[-1]
            gap = box[0] - last[2]
            if gap < 0.12 * em and box[2] - last[0] <= 1.05 * em:
                last[:] = [last[0], min(last[1], box[1]), max(last[2], box[2]), max(last[3], box[3])]
                continue
        joined.append(list(box))
    pieces = tuple(Piece(*b) for b in joined)
    return Line(ink, pieces, top, bottom)


def features(line: Line) -> np.ndarray:
    """One row per piece: the window's pixels (ink = 1) then geometry, float32."""
    import cv2

    n = len(line.pieces)
    out = np.zeros((n, WINDOW * WINDOW + GEOMETRY), dtype=np.float32)
    if n == 0:
        return out
    em = line.em
    side = max(4, round(WINDOW_SCALE * em))
    half = side // 2
    pad = side + 2
    ink = np.pad(line.ink.astype(np.float32), pad)
    cy = (line.top + line.bottom) / 2
    for i, p in enumerate(line.pieces):
        x = round(p.cx) + pad - half
        y = round(cy) + pad - half
        window = ink[y:y + side, x:x + side]
        out[i, :WINDOW * WINDOW] = cv2.resize(window, (WINDOW, WINDOW), interpolation=cv2.INTER_AREA).ravel()
        left = p.x0 - line.pieces[i - 1].x1 if i > 0 else 2 * em
        right = line.pieces[i + 1].x0 - p.x1 if i + 1 < n else 2 * em
        out[i, WINDOW * WINDOW:] = (
            p.width / em, (p.y1 - p.y0) / em, ((p.y0 + p.y1) / 2 - cy) / em,
            (p.y0 - line.top) / em, (line.bottom - p.y1) / em,
            min(left / em, 2.0), min(right / em, 2.0),
        )
    return out


class GlyphModel:
    """The piece classifier: ``x -> relu(x W1 + b1) W2 + b2 -> softmax`` over :data:`CLASSES`."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self.mean = weights["mean"].astype(np.float32)
        self.scale = weights["scale"].astype(np.float32)
        self.w1 = weights["w1"].astype(np.float32)
        self.b1 = weights["b1"].astype(np.float32)
        self.w2 = weights["w2"].astype(np.float32)
        self.b2 = weights["b2"].astype(np.float32)
        if self.w2.shape[1] != len(CLASSES):
            raise ValueError(f"glyph model has {self.w2.shape[1]} classes, expected {len(CLASSES)}")

    @classmethod
    def load(cls, path: Path | None = None) -> GlyphModel:
        if path is None:
            with resources.as_file(resources.files("inference.ocr").joinpath("models/glyphs.npz")) as p:
                return cls(dict(np.load(p)))
        return cls(dict(np.load(path)))

    def logits(self, x: np.ndarray) -> np.ndarray:
        # einsum without optimize stays off BLAS: for a dozen pieces a line, OpenBLAS's thread pool
        # costs ~3 ms a call on a busy 2-core machine against ~0.4 ms for the plain loop.
        xn = ((x - self.mean) * self.scale).astype(np.float32)
        hidden = np.maximum(0.0, np.einsum("ij,jk->ik", xn, self.w1, optimize=False) + self.b1)
        out: np.ndarray = np.einsum("ij,jk->ik", hidden, self.w2, optimize=False) + self.b2
        return out

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        z = self.logits(x)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        out: np.ndarray = e / e.sum(axis=1, keepdims=True)
        return out

    def classify(self, line: Line) -> list[tuple[str, float]]:
        """(class, probability) of each piece of ``line``."""
        if not line.pieces:
            return []
        probs = self.probabilities(features(line))
        best = probs.argmax(axis=1)
        return [(CLASSES[k], float(probs[i, k])) for i, k in enumerate(best)]


_shared: GlyphModel | None = None
_shared_lock = threading.Lock()


def shared_model() -> GlyphModel:
    """The committed model, loaded once per process (read-only afterwards, so thread-safe)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            try:
                _shared = GlyphModel.load()
            except FileNotFoundError as exc:
                raise ConfigError("ocr_unavailable", f"jamo glyph model missing: {exc}") from exc
        return _shared


def jamo_pieces(labels: list[tuple[str, float]]) -> list[bool]:
    """Which pieces count as jamo. A syllable typed as jamo is at least two jamo side by side, so a
    line is a jamo line only when two neighbouring pieces are likely jamo and one of them is sure
    (both sure when both are shapes a Latin letter, digit or mark also has: ㅇ, ㅣ, ㅡ). A lone
    jamo-like piece (a '1' with a flag looks like ㅓ in some fonts) does not count."""
    likely = [label != OTHER and p >= MIN_JAMO_PROBABILITY for label, p in labels]
    sure = [label != OTHER and p >= SURE_JAMO_PROBABILITY for label, p in labels]
    ambiguous = [label in AMBIGUOUS for label, _ in labels]
    for i in range(len(labels) - 1):
        pair = likely[i] and likely[i + 1] and (sure[i] or sure[i + 1])
        if pair and (not (ambiguous[i] and ambiguous[i + 1]) or (sure[i] and sure[i + 1])):
            return likely
    return [False] * len(labels)


Symbol = tuple[str, int, int, bool]  # text, x0, x1 (crop pixels), starts a word


def readings(crop: np.ndarray, read_runs: Sequence[Callable[[np.ndarray], str]],
             read_symbols: Callable[[np.ndarray], list[Symbol]] | None = None,
             model: GlyphModel | None = None) -> tuple[str, ...]:
    """The line with its jamo pieces read by the glyph model and the rest by Tesseract; () when the
    line has no jamo (the usual case). One reading per function of ``read_runs`` (each is given a
    white-padded crop of a run of non-jamo pieces: Tesseract reads runs well that it garbled in the
    whole line), and one from ``read_symbols`` (Tesseract's symbols of the whole line with boxes; the
    symbols over jamo pieces are replaced: short runs, a lone syllable, come back empty alone)."""
    line = segment(crop)
    if not line.pieces:
        return ()
    labels = (model or shared_model()).classify(line)
    is_jamo = jamo_pieces(labels)
    if not any(is_jamo):
        return ()
    symbols = read_symbols(crop) if read_symbols is not None else []
    out = [_from_runs(crop, line, labels, is_jamo, read, symbols) for read in read_runs]
    if read_symbols is not None:
        out.append(_from_symbols(line, labels, is_jamo, symbols))
    return tuple(t for t in dict.fromkeys(out) if t)


def _from_runs(crop: np.ndarray, line: Line, labels: list[tuple[str, float]], is_jamo: list[bool],
               read_run: Callable[[np.ndarray], str], symbols: list[Symbol]) -> str:
    em = line.em
    parts: list[str] = []
    run: list[Piece] = []
    previous: Piece | None = None

    def flush() -> None:
        if run:
            x0 = max(0, run[0].x0 - round(0.08 * em))
            x1 = min(crop.shape[1], run[-1].x1 + round(0.08 * em))
            text = read_run(_padded(crop[:, x0:x1], crop.shape[0] // 2)).strip()
            if not text:  # a lone syllable often comes back empty: take the whole line's symbols there
                text = "".join(t for t, a, b, _ in symbols if x0 <= _centre(a, b, em) <= x1)
            parts.append(text)
            run.clear()

    previous_jamo = False
    for piece, jamo, (label, _) in zip(line.pieces, is_jamo, labels, strict=True):
        # A word gap, except around jamo: each sits alone in a wide cell (and screening ignores spaces).
        if previous is not None and not (jamo or previous_jamo) and piece.x0 - previous.x1 > 0.45 * em:
            flush()
            parts.append(" ")
        previous_jamo = jamo
        if jamo:
            flush()
            parts.append(label)
        else:
            run.append(piece)
        previous = piece
    flush()
    return " ".join("".join(parts).split())


def _from_symbols(line: Line, labels: list[tuple[str, float]], is_jamo: list[bool],
                  symbols: list[Symbol]) -> str:
    margin = 0.15 * line.em
    jamo = [(p, label) for p, ok, (label, _) in zip(line.pieces, is_jamo, labels, strict=True) if ok]
    items: list[tuple[float, str, bool]] = [(p.cx, label, False) for p, label in jamo]
    for text, x0, x1, starts_word in symbols:
        cx = _centre(x0, x1, line.em)
        if not any(p.x0 - margin <= cx <= p.x1 + margin for p, _ in jamo):
            items.append((cx, text, starts_word))
    items.sort(key=lambda it: it[0])
    return "".join((" " if starts and i else "") + text for i, (_, text, starts) in enumerate(items)).strip()


def _centre(x0: int, x1: int, em: float) -> float:
    """A symbol's centre; Tesseract sometimes gives a word's first symbol the whole word's box,
    and a glyph is no wider than 1 em."""
    return (x0 + min(x1, x0 + em)) / 2


def _padded(crop: np.ndarray, pad: int) -> np.ndarray:
    return np.pad(crop, ((0, 0), (pad, pad)), constant_values=255)
