"""Train the jamo glyph classifier of :mod:`inference.ocr.glyphs` (numpy only; a few minutes on 2 cores).

    apt-get install fonts-unfonts-core fonts-unfonts-extra fonts-baekmuk   # training fonts only
    python -m inference.ocr.train_glyphs [--lines 20000] [--out inference/ocr/models/glyphs.npz]

Text lines are drawn the way prohibited words are disguised on tags and around them: Hangul words
(KS X 1001 syllables and the label vocabulary), words with syllables typed as compatibility jamo,
some with ㅇ/ㅣ swapped for O/l, lone jamo runs covering all 51, Latin words, numbers, marks. Each
line is rendered in one of the **training fonts** (Un*, Baekmuk — never the Nanum / Noto fonts the
synthetic test tags in ``tests/labelgen`` use, so the evaluation fonts stay unseen), degraded like
a phone photo (scale, stroke, rotation, blur, noise, JPEG), cut out and cleaned by the very
:func:`inference.ocr.engine.cut_line` the reader uses, and segmented by :func:`glyphs.segment`.
A piece is labelled with a jamo when it covers exactly that one rendered jamo; everything else is
``other``. Two fonts are held out for the printed validation figure. The network is 1031 → 256 →
52, ReLU, softmax, Adam; the weights (float16) go to ``models/glyphs.npz``.
"""

from __future__ import annotations

import argparse
import io
import random
import time
import unicodedata
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from inference.ocr import glyphs, vocab
from inference.ocr.engine import TARGET_LINE_HEIGHT, cut_line

FONT_DIR = Path("/usr/share/fonts/truetype")
TRAIN_FONTS = (
    "baekmuk/batang.ttf", "baekmuk/dotum.ttf", "baekmuk/hline.ttf",
    "unfonts-core/UnBatang.ttf", "unfonts-core/UnBatangBold.ttf", "unfonts-core/UnDinaru.ttf",
    "unfonts-core/UnDinaruBold.ttf", "unfonts-core/UnDinaruLight.ttf", "unfonts-core/UnDotum.ttf",
    "unfonts-core/UnDotumBold.ttf", "unfonts-core/UnGraphic.ttf", "unfonts-core/UnGraphicBold.ttf",
    "unfonts-core/UnGungseo.ttf", "unfonts-core/UnPilgi.ttf", "unfonts-extra/UnVada.ttf",
    "unfonts-extra/UnYetgul.ttf", "unfonts-extra/UnTaza.ttf",
)
# Latin, digits and marks are drawn in these half the time (Korean fonts' own Latin varies a lot, and
# a '1' with a flag must not pass for ㅓ).
LATIN_FONTS = ("dejavu/DejaVuSans.ttf", "dejavu/DejaVuSans-Bold.ttf", "dejavu/DejaVuSansCondensed.ttf",
               "dejavu/DejaVuSerif.ttf", "dejavu/DejaVuSerif-Bold.ttf", "dejavu/DejaVuSansMono.ttf")
VALIDATION_FONTS = ("baekmuk/gulim.ttf", "unfonts-extra/UnShinmun.ttf")
# The synthetic test tags are drawn in these; training on them would measure memory, not reading.
FORBIDDEN_FONT_WORDS = ("nanum", "noto")

SYLLABLES = [bytes([a, b]).decode("euc-kr") for a in range(0xB0, 0xC9) for b in range(0xA1, 0xFF)]
_LEADS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_TAILS = "ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"
VOCAB_WORDS = sorted({w for names in vocab.FIBERS.values() for w in names if not w.isascii()}
                     | {w for names in vocab.PARTS.values() for w in names if not w.isascii()}
                     | {"소재", "혼용률", "제조연월", "제조국", "사이즈", "치수", "세탁방법", "색상", "정품",
                        "보장", "퀄리티", "문의", "주세요", "최고급", "아님", "절대", "아닙니다", "품질보증"})
LATIN_WORDS = ("MADE", "IN", "KOREA", "CHINA", "COTTON", "POLY", "FREE", "SIZE", "replica", "fake",
               "OEM", "AS", "Tel", "XL", "M", "S", "L", "wool", "Nylon", "SALE", "NEW", "best")
MARKS = [*":/()[]-.,*|~%#", "□", "○", "△", "※", "·"]


def compat_jamo(syllable: str) -> str:
    """가 -> ㄱㅏ (what people type when they spell a syllable out)."""
    code = ord(syllable) - 0xAC00
    if not 0 <= code < 11172:
        return syllable
    lead, vowel, tail = code // 588, (code % 588) // 28, code % 28
    return _LEADS[lead] + _VOWELS[vowel] + (_TAILS[tail - 1] if tail else "")


def random_line(rng: random.Random) -> str:
    """One line of mixed text; about a third of the lines carry jamo."""
    tokens: list[str] = []
    for _ in range(rng.randint(2, 7)):
        kind = rng.random()
        if kind < 0.35:
            tokens.append(rng.choice(VOCAB_WORDS) if rng.random() < 0.4
                          else "".join(rng.choices(SYLLABLES, k=rng.randint(1, 5))))
        elif kind < 0.55:
            word = list(rng.choice(VOCAB_WORDS) if rng.random() < 0.3
                        else "".join(rng.choices(SYLLABLES, k=rng.randint(1, 4))))
            for i in rng.sample(range(len(word)), k=min(len(word), rng.choice((1, 1, 2)))):
                word[i] = compat_jamo(word[i])
            text = "".join(word)
            if rng.random() < 0.3:
                text = text.replace("ㅇ", "O").replace("ㅣ", "l")
            tokens.append(text)
        elif kind < 0.65:
            tokens.append("".join(rng.choices(glyphs.JAMO, k=rng.randint(1, 4))))
        elif kind < 0.8:
            latin = rng.choice(LATIN_WORDS)
            tokens.append(latin if rng.random() < 0.7 else latin.upper())
        elif kind < 0.92:
            tokens.append(rng.choice((f"{rng.randint(0, 100)}%", str(rng.randint(0, 9999)),
                                      f"{rng.randint(2019, 2026)}.{rng.randint(1, 12):02d}",
                                      f"02-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}")))
        else:
            tokens.append(rng.choice(MARKS))
    sep = rng.choice((" ", " ", " ", "  "))
    return sep.join(tokens)


Span = tuple[str, float, float]  # character, x0, x1 of its ink


def render(rng: random.Random, font_path: Path, text: str) -> tuple[np.ndarray, list[Span]]:
    """A degraded grey line crop as the reader cuts it, and each visible character's ink span
    (character, x0, x1) in that crop's pixels."""
    size = rng.randint(22, 52)
    font = ImageFont.truetype(str(font_path), size)
    latin = font
    if rng.random() < 0.5:
        latin_size = round(size * rng.uniform(0.8, 1.0))
        latin = ImageFont.truetype(str(FONT_DIR / rng.choice(LATIN_FONTS)), latin_size)
    # Runs of one font: Hangul (and jamo, and marks the Latin font lacks) in the line's font.
    runs: list[tuple[str, ImageFont.FreeTypeFont]] = []
    for ch in text:
        f = latin if ch.isascii() and not ch.isspace() else font
        if runs and runs[-1][1] is f:
            runs[-1] = (runs[-1][0] + ch, f)
        else:
            runs.append((ch, f))
    stroke = 1 if rng.random() < 0.15 else 0
    margin = 2 * size
    width = int(sum(f.getlength(r) for r, f in runs)) + 2 * margin
    height = 3 * size
    paper = rng.randint(215, 255)
    ink = rng.randint(0, 90)
    image = Image.new("L", (width, height), paper)
    if rng.random() < 0.25:  # a shaded cell behind part of the line, like a table's key column
        x = rng.randint(0, width)
        ImageDraw.Draw(image).rectangle((0, 0, x, height), fill=max(0, paper - rng.randint(15, 45)))
    draw = ImageDraw.Draw(image)
    origin_y = size
    spans: list[tuple[str, float, float]] = []
    x_run = float(margin)
    for run, f in runs:
        # Same baseline for both fonts: PIL places text by its top ("la" anchor), so use "ls".
        draw.text((x_run, origin_y + size), run, font=f, fill=ink, stroke_width=stroke, stroke_fill=ink,
                  anchor="ls")
        for i, ch in enumerate(run):
            ink_span = None if ch.isspace() else _ink_span(f, ch, stroke)
            if ink_span is not None:
                at = x_run + f.getlength(run[:i])
                spans.append((ch, at + ink_span[0], at + ink_span[1]))
        x_run += f.getlength(run)
    _, ascent, _, descent = font.getbbox("가Ag", stroke_width=stroke, anchor="ls")
    top, bottom = float(origin_y + size + ascent), float(origin_y + size + descent)
    # A phone photo: rotation residue, lower resolution, blur, sensor noise, JPEG.
    image = image.rotate(rng.uniform(-1.2, 1.2), resample=Image.Resampling.BICUBIC, fillcolor=paper)
    shrink = rng.uniform(0.45, 1.0)
    image = image.resize((max(1, round(width * shrink)), max(1, round(height * shrink))),
                         Image.Resampling.LANCZOS)
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 1.3)))
    noise_rng = np.random.default_rng(rng.randrange(1 << 30))
    noise = noise_rng.normal(0, rng.uniform(2, 9), (image.height, image.width))
    arr = np.asarray(image, dtype=np.float64) + noise
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=rng.randint(35, 85))
    gray = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L"))
    # The detector's box: the text band with a small margin; sometimes a little tight at the ends.
    text_h = (bottom - top) * shrink
    y0 = top * shrink - rng.uniform(0.03, 0.22) * text_h
    y1 = bottom * shrink + rng.uniform(0.03, 0.22) * text_h
    x0 = spans[0][1] * shrink - rng.uniform(-0.05, 0.35) * size * shrink if spans else 0.0
    x1 = spans[-1][2] * shrink + rng.uniform(-0.05, 0.35) * size * shrink if spans else float(gray.shape[1])
    quad = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)
    crop = cut_line(gray, quad)
    if crop is None:
        return np.zeros((0, 0), np.uint8), []
    h = max(int(np.linalg.norm(quad[0] - quad[3])), 1)  # as cut_line measures it
    scale, pad = TARGET_LINE_HEIGHT / h, TARGET_LINE_HEIGHT
    mapped = [(ch, (a * shrink - x0) * scale + pad, (b * shrink - x0) * scale + pad)
              for ch, a, b in spans]
    return crop, mapped


_SPANS: dict[tuple[str, int, str, int], tuple[int, int] | None] = {}


def _ink_span(font: ImageFont.FreeTypeFont, ch: str, stroke: int) -> tuple[int, int] | None:
    """Ink columns of ``ch`` drawn at x = 0 (getbbox gives the advance box for some fonts)."""
    key = (str(font.path), int(font.size), ch, stroke)
    if key not in _SPANS:
        size = int(font.size)
        image = Image.new("L", (4 * size, 3 * size), 0)
        ImageDraw.Draw(image).text((size, size // 2), ch, font=font, fill=255, stroke_width=stroke,
                                   stroke_fill=255)
        cols = np.nonzero(np.asarray(image).max(axis=0) > 96)[0]
        _SPANS[key] = (int(cols[0]) - size, int(cols[-1]) + 1 - size) if cols.size else None
    return _SPANS[key]


def label_pieces(line: glyphs.Line, spans: list[tuple[str, float, float]]) -> list[int]:
    """Class index of each piece: a jamo when the piece is exactly one rendered jamo, else other."""
    other = len(glyphs.CLASSES) - 1
    labels = []
    for p in line.pieces:
        hits = []
        for ch, a, b in spans:
            overlap = min(p.x1, b) - max(p.x0, a)
            if overlap > 0.3 * max(1.0, min(p.width, b - a)):
                hits.append((ch, a, b))
        if len(hits) == 1 and hits[0][0] in glyphs.JAMO:
            ch, a, b = hits[0]
            if p.width >= 0.6 * (b - a) and p.x0 >= a - 0.25 * (b - a) and p.x1 <= b + 0.25 * (b - a):
                labels.append(glyphs.JAMO.index(ch))
                continue
        labels.append(other)
    return labels


def build(fonts: tuple[str, ...], n_lines: int, seed: int, workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of the pieces of ``n_lines`` rendered lines (in chunks over ``workers``)."""
    chunk = 500
    jobs = [(fonts, min(chunk, n_lines - start), seed * 100_003 + start)
            for start in range(0, n_lines, chunk)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(_build_chunk, *zip(*jobs, strict=True)))
    return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])


def _build_chunk(fonts: tuple[str, ...], n_lines: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = random.Random(seed)  # noqa: S311 - reproducible data, not security
    xs, ys = [], []
    paths = [FONT_DIR / f for f in fonts]
    for path in paths:
        if any(word in str(path).lower() for word in FORBIDDEN_FONT_WORDS):
            raise SystemExit(f"{path}: the evaluation tags use this font family; train on others")
    paths = [p for p in paths if p.exists()]
    if not paths:
        raise SystemExit("no training font: apt-get install fonts-unfonts-core fonts-unfonts-extra"
                         " fonts-baekmuk")
    for _ in range(n_lines):
        path = rng.choice(paths)
        text = random_line(rng)
        if path.name == "UnTaza.ttf":  # no □○△ in this face
            text = "".join(c for c in text if c not in "□○△※")
        crop, spans = render(rng, path, unicodedata.normalize("NFC", text))
        if crop.size == 0 or not spans:
            continue
        line = glyphs.segment(crop)
        if not line.pieces:
            continue
        xs.append(glyphs.features(line))
        ys.append(np.array(label_pieces(line, spans), dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def train(x: np.ndarray, y: np.ndarray, *, hidden: int, epochs: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_classes = len(glyphs.CLASSES)
    mean = x.mean(axis=0)
    scale = 1.0 / (x.std(axis=0) + 0.05)
    xn = ((x - mean) * scale).astype(np.float32)
    counts = np.bincount(y, minlength=n_classes).astype(np.float32)
    class_weight = (counts.max() / np.maximum(counts, 1)) ** 0.5
    class_weight = (class_weight / class_weight[y].mean()).astype(np.float32)
    params = {
        "w1": (rng.standard_normal((x.shape[1], hidden)) * np.sqrt(2 / x.shape[1])).astype(np.float32),
        "b1": np.zeros(hidden, np.float32),
        "w2": (rng.standard_normal((hidden, n_classes)) * np.sqrt(1 / hidden)).astype(np.float32),
        "b2": np.zeros(n_classes, np.float32),
    }
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(v) for k, v in params.items()}
    step, batch, weight_decay = 0, 256, 1e-4
    for epoch in range(epochs):
        lr = 2e-3 * 0.5 * (1 + np.cos(np.pi * epoch / epochs))
        order = rng.permutation(len(y))
        total = 0.0
        for start in range(0, len(y), batch):
            idx = order[start:start + batch]
            xb, yb = xn[idx], y[idx]
            if rng.random() < 0.5:  # input dropout on pixels: robustness to strokes lost or merged
                xb = xb * (rng.random(xb.shape) > 0.1)
            h_pre = xb @ params["w1"] + params["b1"]
            h = np.maximum(0, h_pre)
            z = h @ params["w2"] + params["b2"]
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            wb = class_weight[yb]
            total += float(-(wb * np.log(p[np.arange(len(yb)), yb] + 1e-9)).sum())
            g = p
            g[np.arange(len(yb)), yb] -= 1
            g *= (wb / len(yb))[:, None]
            grads = {"w2": h.T @ g, "b2": g.sum(axis=0)}
            gh = (g @ params["w2"].T) * (h_pre > 0)
            grads["w1"] = xb.T @ gh
            grads["b1"] = gh.sum(axis=0)
            step += 1
            for k in params:
                grad = grads[k] + (weight_decay * params[k] if k.startswith("w") else 0)
                m[k] = 0.9 * m[k] + 0.1 * grad
                v[k] = 0.999 * v[k] + 0.001 * grad * grad
                mh = m[k] / (1 - 0.9 ** step)
                vh = v[k] / (1 - 0.999 ** step)
                params[k] -= (lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
        print(f"epoch {epoch + 1}/{epochs}  loss {total / len(y):.4f}", flush=True)
    return {"mean": mean.astype(np.float32), "scale": scale.astype(np.float32), **params}


def report(model: glyphs.GlyphModel, x: np.ndarray, y: np.ndarray, name: str) -> None:
    probs = model.probabilities(x)
    pred = probs.argmax(axis=1)
    conf = probs.max(axis=1)
    other = len(glyphs.CLASSES) - 1
    is_jamo = y != other
    called = (pred != other) & (conf >= glyphs.MIN_JAMO_PROBABILITY)
    print(f"{name}: {len(y)} pieces, {int(is_jamo.sum())} jamo; accuracy {np.mean(pred == y):.2%};"
          f" jamo read right (confident) {np.mean(called[is_jamo] & (pred[is_jamo] == y[is_jamo])):.2%};"
          f" other called jamo {np.mean(called[~is_jamo]):.3%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.ocr.train_glyphs")
    parser.add_argument("--lines", type=int, default=20000)  # the committed model: 20000, 14 epochs
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=14)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2, help="processes drawing the training lines")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "models" / "glyphs.npz")
    args = parser.parse_args(argv)
    started = time.monotonic()
    x, y = build(TRAIN_FONTS, args.lines, args.seed, args.workers)
    xv, yv = build(VALIDATION_FONTS, max(500, args.lines // 10), args.seed + 1, args.workers)
    print(f"data: {len(y)} train pieces ({int((y != len(glyphs.CLASSES) - 1).sum())} jamo), {len(yv)}"
          f" validation, {time.monotonic() - started:.0f} s", flush=True)
    weights = train(x, y, hidden=args.hidden, epochs=args.epochs, seed=args.seed)
    model = glyphs.GlyphModel(weights)
    report(model, x, y, "train fonts")
    report(model, xv, yv, "held-out fonts")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    half = {k: v.astype(np.float16) for k, v in weights.items()}
    np.savez_compressed(args.out, **half)  # type: ignore[arg-type]
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB) in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
