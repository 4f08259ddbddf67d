"""Find and read the text lines of a photo: RapidOCR's text detector, Tesseract's Korean recogniser.

Detection is PP-OCRv4's DB model shipped inside the ``rapidocr_onnxruntime`` wheel (no download at
run time). Its own recogniser has no Hangul, so each detected line is cut out along its (rotated)
box, cleaned (grey, table rules removed, scaled to Tesseract's preferred height) and read by
Tesseract (``kor+eng``, Debian's ``tesseract-ocr-kor``) through ``tesserocr`` built against Debian's
libtesseract. Boxes are then grouped into visual rows so that a ruled table's key cell and value
cell become one line (``소재 겉감 면 80%``).

Thread safety: ONNX Runtime sessions may be shared, but the detector object keeps per-call state and
a Tesseract API object must never be used by two threads at once, so each thread gets its own pair
(:class:`threading.local`).
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from hanger.errors import ConfigError

TESS_LANG = "kor+eng"
TARGET_LINE_HEIGHT = 64  # px of a cut-out line given to Tesseract (text ≈ 60 % of it)


@dataclass(frozen=True)
class RawLine:
    """One detected text box and what Tesseract read in it."""

    text: str
    confidence: float  # 0..1
    quad: tuple[tuple[float, float], ...]  # four corners, clockwise from top-left
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (axis-aligned bounds of quad)
    alternatives: tuple[str, ...] = ()  # other readings of the same box (Korean-only model)
    screen_texts: tuple[str, ...] = ()  # readings for screening only (glyph model, English model)


@dataclass(frozen=True)
class Variant:
    """Another way to read a box: a Tesseract language and a line height."""

    lang: str
    height: int


# Tried in this order on rows whose value does not parse: English alone reads 'RAYON100%' that the
# mixed model garbles; Korean alone reads Hangul the mixed model turns into Latin; other scales
# change which strokes merge.
REREAD_VARIANTS = (Variant("eng", TARGET_LINE_HEIGHT), Variant("kor", TARGET_LINE_HEIGHT),
                   Variant(TESS_LANG, 48), Variant(TESS_LANG, 88))


class _ThreadState(threading.local):
    detector: Any = None
    apis: dict[str, Any] | None = None


# Latin words a Korean care label really uses; other Latin in a line that also has Hangul is usually
# the English model's guess at Hangul (퀄리티 -> 'Bele]'), so such lines are read again Korean-only.
_KNOWN_LATIN_TEXT = """
made in korea china vietnam viet nam bangladesh indonesia india cambodia myanmar turkey italy japan
cotton poly polyester nylon rayon viscose modal tencel lyocell acrylic wool cashmere angora alpaca
mohair silk linen spandex elastane polyurethane acetate free size one xs xxs xl xxl xxxl as oem
"""
KNOWN_LATIN = frozenset(_KNOWN_LATIN_TEXT.split())
_LATIN_TOKEN = re.compile(r"[A-Za-z]{2,}")
_MIXED_TOKEN = re.compile(r"\b(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z\d]{2,}\b")
LOW_CONFIDENCE = 0.5  # below this, a line is read again with the Korean-only model
_HANGUL = re.compile(r"[가-힣]")
# CJK brackets and angle marks: what the Korean model reads for F, K and the like; never on a label.
_LATIN_AS_HANGUL_MARKS = re.compile(r"[『』「」<>]")


class LineReader:
    """Detect and recognise text lines; one instance per process, safe to call from many threads."""

    def __init__(self, *, tessdata: str | None = None, read_jamo: bool = True) -> None:
        self._tessdata = tessdata
        self.read_jamo = read_jamo  # a second, screening-only reading of lines with lone jamo
        self._local = _ThreadState()
        self._model_path = _det_model_path()

    # --- per-thread resources ---------------------------------------------------------------------

    def _detector(self) -> Any:
        if self._local.detector is None:
            from rapidocr_onnxruntime.ch_ppocr_det import TextDetector

            self._local.detector = TextDetector({
                "model_path": str(self._model_path), "use_cuda": False, "use_dml": False,
                "intra_op_num_threads": 1, "inter_op_num_threads": 1,
                "limit_side_len": 960, "limit_type": "max", "mean": [0.5, 0.5, 0.5],
                "std": [0.5, 0.5, 0.5], "thresh": 0.3, "box_thresh": 0.5, "max_candidates": 1000,
                "unclip_ratio": 1.6, "use_dilation": True, "score_mode": "fast",
            })
        return self._local.detector

    def _api(self, lang: str = TESS_LANG) -> Any:
        """This thread's Tesseract for ``lang`` (created on first use, kept for the thread's life)."""
        if self._local.apis is None:
            self._local.apis = {}
        api = self._local.apis.get(lang)
        if api is None:
            import tesserocr

            kwargs: dict[str, Any] = {"lang": lang, "psm": tesserocr.PSM.SINGLE_LINE}
            if self._tessdata:
                kwargs["path"] = self._tessdata
            try:
                api = tesserocr.PyTessBaseAPI(**kwargs)
            except RuntimeError as exc:  # traineddata missing
                raise ConfigError("ocr_unavailable", f"Tesseract {lang}: {exc}") from exc
            api.SetVariable("preserve_interword_spaces", "1")
            self._local.apis[lang] = api
        return api

    # --- work ------------------------------------------------------------------------------------

    def detect(self, image: Image.Image) -> list[np.ndarray]:
        """Text boxes (4×2 float arrays), in reading order."""
        rgb = np.asarray(image.convert("RGB"))[:, :, ::-1]  # the detector wants BGR like cv2
        boxes, _ = self._detector()(np.ascontiguousarray(rgb))
        if boxes is None or len(boxes) == 0:
            return []
        return [np.asarray(b, dtype=np.float32) for b in boxes]

    def recognise(self, gray: np.ndarray, quad: np.ndarray) -> tuple[str, float, tuple[str, ...]]:
        """(best reading, confidence 0..1, other readings) of the line under ``quad``."""
        crop = cut_line(gray, quad)
        if crop is None:
            return "", 0.0, ()
        return self._recognise_crop(crop)

    def jamo_readings(self, crop: np.ndarray) -> tuple[str, ...]:
        """The line read again with its standalone jamo recognised by the glyph model
        (:mod:`inference.ocr.glyphs`), the rest by Tesseract (mixed and Korean-only, runs and whole
        line); () when the line has no jamo, which costs no Tesseract call."""
        from inference.ocr import glyphs

        return glyphs.readings(
            crop,
            (lambda sub: _run(self._api(), Image.fromarray(sub))[0],
             lambda sub: _run(self._api("kor"), Image.fromarray(sub))[0]),
            lambda sub: _symbols(self._api(), Image.fromarray(sub)),
        )

    def latin_readings(self, crop: np.ndarray, text: str) -> tuple[str, ...]:
        """The line read again by the English model alone when the mixed reading has the marks the
        Korean model makes of Latin capitals it does not know ('F4K3' -> '『43', 'F*A*K*E' ->
        '『*4*'); () otherwise, which costs no Tesseract call. For screening only: the rest of
        such a line is Hangul the English model cannot read."""
        if not _LATIN_AS_HANGUL_MARKS.search(text):
            return ()
        latin = _run(self._api("eng"), Image.fromarray(crop))[0]
        return (latin,) if latin and latin != text else ()

    def _recognise_crop(self, crop: np.ndarray) -> tuple[str, float, tuple[str, ...]]:
        picture = Image.fromarray(crop)
        text, conf = _run(self._api(), picture)
        if not _suspicious(text) and conf >= LOW_CONFIDENCE:
            return text, conf, ()
        kor_text, kor_conf = _run(self._api("kor"), picture)
        if not kor_text or kor_text == text:
            return text, conf, ()
        if (_unknown_latin(kor_text), -kor_conf) < (_unknown_latin(text), -conf):
            return kor_text, kor_conf, (text,)
        return text, conf, (kor_text,)

    def reread(self, gray: np.ndarray, quad: tuple[tuple[float, float], ...], variant: Variant) -> str:
        """Read one box again another way (used when a field's value did not make sense)."""
        crop = cut_line(gray, np.asarray(quad, dtype=np.float32), height=variant.height)
        if crop is None:
            return ""
        return _run(self._api(variant.lang), Image.fromarray(crop))[0]

    def key_end(self, gray: np.ndarray, quad: tuple[tuple[float, float], ...], n_chars: int) -> float:
        """Where the first ``n_chars`` characters (spaces not counted) of the box end, as a
        fraction of its width, from Tesseract's symbol boxes; 1.0 when fewer were read."""
        crop = cut_line(gray, np.asarray(quad, dtype=np.float32))
        if crop is None or n_chars <= 0:
            return 1.0 if n_chars > 0 else 0.0
        symbols = [s for s in _symbols(self._api(), Image.fromarray(crop)) if s[0].strip()]
        if len(symbols) < n_chars:
            return 1.0
        pad = TARGET_LINE_HEIGHT
        width = crop.shape[1] - 2 * pad
        return float(min(1.0, max(0.0, (symbols[n_chars - 1][2] - pad) / max(1, width))))

    def read_beside(self, gray: np.ndarray, quad: tuple[tuple[float, float], ...], start: float,
                    extend: float, variant: Variant) -> str:
        """Read what follows a key: the box from ``start`` (a fraction of its width) on, carried on
        ``extend`` box heights further along the line, a little taller than the box. A one- or
        two-glyph value (``M``, ``F``) is often left out of detection or read as nothing inside
        its own tight box; with its neighbourhood and margins it reads."""
        region = beside_quad(np.asarray(quad, dtype=np.float32), start, extend, gray.shape)
        if region is None:
            return ""
        crop = first_word(gray, region, height=variant.height)
        if crop is None:
            return ""
        return _run(self._api(variant.lang), Image.fromarray(crop))[0]

    def read_below(self, gray: np.ndarray, quad: tuple[tuple[float, float], ...], variant: Variant,
                   *, whole: bool) -> str:
        """Read the line right under a box, as wide as the box: where a wrapped value's second
        line sits when detection missed it (a short, centred '45%'). ``whole``: the whole stretch;
        else its first run of glyphs only, alone on white."""
        region = below_quad(np.asarray(quad, dtype=np.float32), gray.shape)
        if region is None:
            return ""
        crop = (cut_line if whole else first_word)(gray, region, height=variant.height)
        if crop is None:
            return ""
        return _run(self._api(variant.lang), Image.fromarray(crop))[0]

    def read(self, image: Image.Image, *, deadline: float | None = None) -> tuple[list[RawLine], bool]:
        """All lines of ``image``; stops early (second value True) once ``deadline`` passes."""
        quads = self.detect(image)
        gray = np.asarray(image.convert("L"))
        out: list[RawLine] = []
        for quad in quads:
            if deadline is not None and time.monotonic() > deadline:
                return out, True
            crop = cut_line(gray, quad)
            if crop is None:
                continue
            text, conf, alternatives = self._recognise_crop(crop)
            screen = self.jamo_readings(crop) if self.read_jamo else ()
            screen += self.latin_readings(crop, text)
            if not text and not screen:
                continue
            xs, ys = quad[:, 0], quad[:, 1]
            out.append(RawLine(
                text=text, confidence=conf,
                quad=tuple((float(x), float(y)) for x, y in quad),
                box=(int(xs.min()), int(ys.min()), math.ceil(xs.max()), math.ceil(ys.max())),
                alternatives=alternatives,
                screen_texts=tuple(t for t in screen if t != text),
            ))
        return out, False


def _run(api: Any, picture: Image.Image) -> tuple[str, float]:
    api.SetImage(picture)
    text = " ".join(api.GetUTF8Text().split())
    return text, max(0, api.MeanTextConf()) / 100.0


def _symbols(api: Any, picture: Image.Image) -> list[tuple[str, int, int, bool]]:
    """Tesseract's symbols of ``picture`` with their x range and whether each starts a word."""
    import tesserocr

    api.SetImage(picture)
    api.Recognize()
    out: list[tuple[str, int, int, bool]] = []
    iterator = api.GetIterator()
    level = tesserocr.RIL.SYMBOL
    for item in tesserocr.iterate_level(iterator, level):
        text = item.GetUTF8Text(level)
        box = item.BoundingBox(level)
        if text and box:
            out.append((text, box[0], box[2], item.IsAtBeginningOf(tesserocr.RIL.WORD)))
    return out


def _unknown_latin(text: str) -> int:
    """Latin words that are no label word, and letter-digit mixes that are no size ('211A')."""
    words = sum(1 for t in _LATIN_TOKEN.findall(text) if t.lower() not in KNOWN_LATIN)
    mixed = sum(1 for t in _MIXED_TOKEN.findall(text) if t.upper() not in ("2XL", "3XL", "4XL"))
    return words + mixed


def _suspicious(text: str) -> bool:
    """Hangul next to unknown Latin words or bracket-like marks (what the English model makes of
    Hangul it does not know), or a line with no Hangul but Latin that is no label word."""
    if _unknown_latin(text):
        return True
    return bool(_HANGUL.search(text)) and bool(re.search(r"[}{\]\[|]", text))


def _det_model_path() -> Path:
    try:
        import rapidocr_onnxruntime
    except ImportError as exc:
        raise ConfigError("ocr_unavailable", "rapidocr_onnxruntime is not installed") from exc
    path = Path(rapidocr_onnxruntime.__file__).parent / "models" / "ch_PP-OCRv4_det_infer.onnx"
    if not path.is_file():
        raise ConfigError("ocr_unavailable", f"text detection model missing: {path}")
    return path


def beside_quad(quad: np.ndarray, start: float, extend: float,
                shape: tuple[int, ...]) -> np.ndarray | None:
    """The part of ``quad`` from ``start`` (fraction of its width) to ``extend`` box heights past
    its right end (stopping at the image edge), 15 % taller on each side."""
    tl, tr, br, bl = (quad[i].astype(np.float64) for i in range(4))
    length = float(np.linalg.norm(tr - tl))
    height = float(np.linalg.norm(bl - tl))
    if length < 1 or height < 1:
        return None
    u = (tr - tl) / length
    v = (bl - tl) / height
    ext = extend * height
    for p in (tr, br):  # stop at the image edge
        for axis, limit in ((0, shape[1] - 1), (1, shape[0] - 1)):
            d, c = float(u[axis]), float(p[axis])
            if d > 1e-6:
                ext = min(ext, (limit - c) / d)
            elif d < -1e-6:
                ext = min(ext, -c / d)
    ext = max(0.0, ext)
    grow = 0.15 * height * v
    new_tl = tl + (tr - tl) * start - grow
    new_bl = bl + (br - bl) * start + grow
    new_tr = tr + u * ext - grow
    new_br = br + u * ext + grow
    if float(np.linalg.norm(new_tr - new_tl)) < 4:
        return None
    return np.array([new_tl, new_tr, new_br, new_bl], dtype=np.float32)


def below_quad(quad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """The band under ``quad``: as wide as it, from its bottom edge 1.3 box heights down (the next
    line of text at usual line spacing), None when that leaves the image."""
    tl, tr, br, bl = (quad[i].astype(np.float64) for i in range(4))
    height = float(np.linalg.norm(bl - tl))
    if height < 1 or float(np.linalg.norm(tr - tl)) < 4:
        return None
    down = (bl - tl) / height * 1.3 * height
    band = np.array([bl, br, br + down, bl + down])
    if band[:, 1].max() > shape[0] - 1 or band[:, 0].min() < 0 or band[:, 0].max() > shape[1] - 1:
        return None
    return band.astype(np.float32)


def _straighten(gray: np.ndarray, quad: np.ndarray) -> np.ndarray | None:
    """The grey pixels under ``quad``, warped to an upright rectangle (None when it is tiny)."""
    import cv2

    w = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))
    h = int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))
    if w < 4 or h < 4:
        return None
    target = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    return cv2.warpPerspective(gray, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE,
                               flags=cv2.INTER_CUBIC)


def first_word(gray: np.ndarray, quad: np.ndarray, *, height: int = TARGET_LINE_HEIGHT) -> np.ndarray | None:
    """The first run of glyphs under ``quad`` (straightened, binarised, table rules and specks
    left out), alone on white: the stretch after a key holds the value and then only paper,
    whose texture a contrast stretch would turn into noise Tesseract reads as letters."""
    import cv2

    crop = _straighten(gray, quad)
    if crop is None:
        return None
    h, w = crop.shape
    scale = height / h
    crop = cv2.resize(crop, (max(1, round(w * scale)), height), interpolation=cv2.INTER_CUBIC)
    blurred = cv2.GaussianBlur(crop, (5, 5), 0)
    # Ink is clearly darker than the paper around it (a local threshold: shade and uneven light).
    local = cv2.blur(blurred.astype(np.float32), (height * 2 + 1, height * 2 + 1))
    contrast = max(12.0, float(np.percentile(blurred, 90) - np.percentile(blurred, 5)) * 0.35)
    ink = ((local - blurred) > contrast).astype(np.uint8) * 255
    hh, ww = ink.shape
    horizontal = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT,
                                                                                 (max(8, int(hh * 2)), 1)))
    vertical = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT,
                                                                               (1, int(hh * 0.8))))
    ink[cv2.dilate(cv2.bitwise_or(horizontal, vertical), np.ones((3, 3), np.uint8)) > 0] = 0
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    glyphs = sorted((int(x), int(x + cw)) for x, y, cw, ch, area in stats[1:count]
                    if ch >= 0.3 * height and area >= 0.02 * height * height and cw < 3 * height)
    if not glyphs:
        return None
    x0, x1 = glyphs[0]
    for a, b in glyphs[1:]:
        if a - x1 > 0.8 * height:
            break
        x1 = max(x1, b)
    margin = int(0.3 * height)
    word = 255 - ink[:, max(0, x0 - margin):min(ww, x1 + margin)]
    return cv2.copyMakeBorder(word, height, height, height, height, cv2.BORDER_CONSTANT, value=255)


def cut_line(gray: np.ndarray, quad: np.ndarray, *, height: int = TARGET_LINE_HEIGHT) -> np.ndarray | None:
    """The line under ``quad``, straightened, grey, table rules removed, scaled for Tesseract."""
    import cv2

    crop = _straighten(gray, quad)
    if crop is None:
        return None
    h, w = crop.shape
    if h > 1.5 * w:  # vertical text: turn it
        crop = np.rot90(crop)
        h, w = w, h
    scale = height / h
    crop = cv2.resize(crop, (max(1, round(w * scale)), height),
                      interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
    crop = _binarise(crop)
    pad = height  # generous white margins: Tesseract drops short crops without them
    return cv2.copyMakeBorder(crop, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)


def _binarise(crop: np.ndarray) -> np.ndarray:
    """Dark text on white, contrast stretched; the long straight rules of ruled tables painted out."""
    import cv2

    _, binary = cv2.threshold(cv2.GaussianBlur(crop, (3, 3), 0), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if np.mean(binary) < 127:  # light text on a dark ground
        binary = 255 - binary
        crop = 255 - crop
    ink = 255 - binary
    h, w = ink.shape
    horizontal = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT,
                                                                                 (max(8, int(w * 0.8)), 1)))
    vertical = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT,
                                                                               (1, int(h * 0.9))))
    rules = cv2.dilate(cv2.bitwise_or(horizontal, vertical), np.ones((3, 3), np.uint8))
    lo, hi = np.percentile(crop, (2, 98))
    scaled = (crop.astype(np.float32) - lo) * 255.0 / max(1.0, float(hi - lo))
    stretched: np.ndarray = np.clip(scaled, 0, 255).astype(np.uint8)
    stretched[rules > 0] = 255
    return stretched
