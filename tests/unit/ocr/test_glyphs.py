"""The jamo glyph reader: segmentation, the committed model on an evaluation font it never saw,
the line rebuild and its use by screening only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from inference.ocr import glyphs
from inference.ocr.engine import cut_line
from inference.ocr.reader import TextBox, interpret
from inference.ocr.screening import Screener, default_words
from inference.ocr.train_glyphs import FORBIDDEN_FONT_WORDS, TRAIN_FONTS, VALIDATION_FONTS, compat_jamo

FONT = Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf")  # a test-tag font, not a training one
needs_font = pytest.mark.skipif(not FONT.exists(), reason="fonts-nanum not installed")


def _line_crop(text: str, size: int = 36) -> np.ndarray:
    font = ImageFont.truetype(str(FONT), size)
    width = int(font.getlength(text)) + 2 * size
    image = Image.new("L", (width, 2 * size), 250)
    ImageDraw.Draw(image).text((size, size // 2), text, font=font, fill=20)
    gray = np.asarray(image)
    quad = np.array([[size * 0.7, size * 0.35], [width - size * 0.7, size * 0.35],
                     [width - size * 0.7, size * 1.65], [size * 0.7, size * 1.65]], dtype=np.float32)
    crop = cut_line(gray, quad)
    assert crop is not None
    return crop


@needs_font
def test_segment_keeps_stacked_syllables_whole_and_jamo_apart() -> None:
    # 품 and 급 are components stacked over each other; ㄱ and ㅏ typed apart are two glyphs.
    assert len(glyphs.segment(_line_crop("ㄱㅏ품")).pieces) == 3
    assert len(glyphs.segment(_line_crop("정품급")).pieces) == 3


@needs_font
@pytest.mark.parametrize(("text", "jamo"), [
    ("ㄱㅏ품 퀄리티", "ㄱㅏ"),
    ("정품ㄱㅡㅂ 아님", "ㄱㅡㅂ"),
    ("개ㅅㅐ끼", "ㅅㅐ"),
    ("ㅂㅕㅇ신 절대", "ㅂㅕㅇ"),
])
def test_model_reads_jamo_in_an_unseen_font(text: str, jamo: str) -> None:
    labels = glyphs.shared_model().classify(glyphs.segment(_line_crop(text)))
    read = "".join(label for label, _ in labels if label != glyphs.OTHER)
    assert read == jamo


@needs_font
def test_model_calls_plain_label_text_other() -> None:
    for text in ("소재 겉감: 면 80%, 폴리에스터 20%", "제조연월 2024년 03월", "원산지 MADE IN CHINA",
                 "치수 M(95)", "A/S 책임자 1588-1234"):
        labels = glyphs.shared_model().classify(glyphs.segment(_line_crop(text)))
        assert not any(glyphs.jamo_pieces(labels)), (text, labels)


@needs_font
def test_readings_put_jamo_between_tesseract_runs() -> None:
    runs: list[int] = []

    def read_run(sub: np.ndarray) -> str:
        runs.append(sub.shape[1])
        return "품급"

    assert glyphs.readings(_line_crop("ㅈㅓ품급"), [read_run]) == ("ㅈㅓ품급",)
    assert len(runs) == 1  # only the non-jamo run goes to Tesseract


@needs_font
def test_readings_replace_tesseract_symbols_over_jamo() -> None:
    crop = _line_crop("정ㅍㅜㅁ급")
    pieces = glyphs.segment(crop).pieces
    assert len(pieces) == 5
    first, last = pieces[0], pieces[-1]
    # What Tesseract gives: the word's box on its first symbol, garbage over the jamo.
    symbols = [("정", first.x0, last.x1, True), ("표", pieces[1].x0, pieces[1].x1, False),
               ("ㄱ", pieces[2].x0, pieces[2].x1, False), ("급", last.x0, last.x1, False)]
    assert glyphs.readings(crop, [], lambda _: symbols) == ("정ㅍㅜㅁ급",)


@needs_font
def test_readings_leave_lines_without_jamo_alone() -> None:
    def read(sub: np.ndarray) -> str:
        raise AssertionError("no run should be read")

    assert glyphs.readings(_line_crop("제조국 베트남"), [read]) == ()


def test_which_pieces_make_a_jamo_line() -> None:
    other = glyphs.OTHER
    # A typed-out syllable is two or more jamo side by side; one sure jamo of the pair is enough.
    assert glyphs.jamo_pieces([("ㅉ", 0.7), ("ㅏ", 0.99), ("ㄱ", 0.65), (other, 0.9)]) == [
        True, True, True, False]
    # A lone jamo-like piece is not (a '1' that looks like ㅓ in 1588), however sure.
    assert glyphs.jamo_pieces([(other, 0.9), ("ㅓ", 0.99), (other, 0.9)]) == [False, False, False]
    # Two likely but unsure ones are not.
    assert glyphs.jamo_pieces([("ㅂ", 0.7), ("ㅕ", 0.8)]) == [False, False]
    # ㅇ/ㅣ/ㅡ are also O/0, l/1, '-': a pair of them must both be sure.
    assert glyphs.jamo_pieces([("ㅇ", 0.99), ("ㅣ", 0.7)]) == [False, False]
    assert glyphs.jamo_pieces([("ㅇ", 0.99), ("ㅣ", 0.95), (other, 0.9)]) == [True, True, False]
    assert glyphs.jamo_pieces([("ㅂ", 0.99), ("ㅕ", 0.95), ("ㅇ", 0.9), (other, 0.9)]) == [
        True, True, True, False]


def test_model_file_must_match_the_classes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    dim = glyphs.WINDOW * glyphs.WINDOW + glyphs.GEOMETRY
    weights = {"mean": np.zeros(dim), "scale": np.ones(dim), "w1": rng.normal(size=(dim, 8)),
               "b1": np.zeros(8), "w2": rng.normal(size=(8, 5)), "b2": np.zeros(5)}
    np.savez(tmp_path / "bad.npz", **weights)
    with pytest.raises(ValueError, match="classes"):
        glyphs.GlyphModel.load(tmp_path / "bad.npz")


def test_training_fonts_exclude_the_evaluation_fonts() -> None:
    for name in (*TRAIN_FONTS, *VALIDATION_FONTS):
        assert not any(word in name.lower() for word in FORBIDDEN_FONT_WORDS)


def test_compat_jamo() -> None:
    assert compat_jamo("가") == "ㄱㅏ"
    assert compat_jamo("급") == "ㄱㅡㅂ"
    assert compat_jamo("끼") == "ㄲㅣ"
    assert compat_jamo("A") == "A"


def test_screen_only_reading_catches_but_does_not_feed_fields() -> None:
    rows = [TextBox("소재 면 100%", 0.9, (0, 0, 400, 30)),
            TextBox("AH 퀄리티 그대로", 0.8, (0, 40, 400, 70), screen_texts=("ㄱㅏ품 퀄리티 그대로",)),
            TextBox("치수 M", 0.9, (0, 80, 400, 110), screen_texts=("치수 ㅡ ㅓ",))]
    reading = interpret(rows, role="label", screener=Screener(default_words()))
    assert [h.word for h in reading.prohibited] == ["가품"]
    assert reading.prohibited[0].box == (0, 40, 400, 70)
    assert reading.size and reading.size.value == "M"


@needs_font
@pytest.mark.parametrize("seed", [50133, 50316])  # 정ㅍㅜㅁ급, ㅂㅕㅇ신: Tesseract alone misses both
def test_reader_catches_typed_out_jamo_on_a_generated_tag(seed: int) -> None:
    from inference.ocr import LabelReader
    from tests.labelgen.generate import generate

    sample = generate(seed, plant=True)
    assert any("ㄱ" <= c <= "ㅣ" for c in sample.truth.planted_text[0])
    reading = LabelReader(timeout_s=60).read(sample.image)
    assert sample.truth.planted[0] in {h.word for h in reading.prohibited}
    assert any(b.screen_texts for b in reading.lines)


@needs_font
@pytest.mark.parametrize("seed", [92086, 93127])  # 'F4K3': the Korean model reads '『43', '『413'
def test_reader_reads_latin_capitals_again_with_the_english_model(seed: int) -> None:
    from inference.ocr import LabelReader
    from tests.labelgen.generate import generate

    sample = generate(seed)
    assert sample.truth.planted_text == ("F4K3",)
    reading = LabelReader(timeout_s=60).read(sample.image)
    assert "fake" in {h.word for h in reading.prohibited}
