"""The reader: interpretation of rows (pure, fast) and one real OCR run on generated tags."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from PIL import Image

from inference.ocr import LabelReader, TextBox, compare_declared
from inference.ocr.engine import RawLine, beside_quad
from inference.ocr.reader import interpret
from inference.ocr.screening import Screener, default_words
from tests.labelgen.generate import generate


def _rows(*texts: str) -> list[TextBox]:
    return [TextBox(t, 0.9, (0, i * 40, 400, i * 40 + 30)) for i, t in enumerate(texts)]


def test_interpret_key_value_rows() -> None:
    rows = _rows("제품명: 린넨 셔츠 원피스", "혼용률 : 겉감: 면 80%, 폴리 20%", "안감 - 레이온 100%",
                 "치수 : M(95)", "제조국 : MADE IN VIETNAM", "제조년월 : 24/03",
                 "세탁방법 : 30°C 이하 손세탁,", "표백제 사용 금지", "A/S 책임자 : 02-1234-5678")
    reading = interpret(rows, role="label", screener=Screener(default_words()))
    assert reading.is_label
    assert [(m.part, m.fiber, m.percent) for m in reading.material] == [
        ("겉감", "면", 80), ("겉감", "폴리에스터", 20), ("안감", "레이온", 100)]
    assert reading.material_text
    assert reading.material_text.value == "겉감: 면 80%, 폴리에스터 20% / 안감: 레이온 100%"
    assert reading.size and reading.size.value == "M(95)"
    assert reading.country and reading.country.value == "베트남"
    assert reading.manufactured and reading.manufactured.value == "2024-03"
    assert reading.manufactured.box == rows[5]
    assert reading.care and reading.care.value == "30°C 이하 손세탁, 표백제 사용 금지"
    assert reading.prohibited == ()


def test_interpret_table_row_with_garbled_key() -> None:
    # A shaded key cell OCR could not read: the material is found by its value.
    rows = _rows("aly 겉감 - 나일론 100%", "SUA 오리솜털 90%, 오리깃털", "10%", "지수 66", "제조국 이탈리아")
    reading = interpret(rows, role="label", screener=Screener([]))
    assert [(m.part, m.fiber, m.percent) for m in reading.material] == [
        ("겉감", "나일론", 100), ("충전재", "오리솜털", 90), ("충전재", "오리깃털", 10)]
    assert reading.size and reading.size.value == "66"


def test_size_after_a_garbled_key() -> None:
    rows = _rows("소재 | 면 100%", "저우 | L", "제조연월 | 20/03", "제조국 | 중국")
    reading = interpret(rows, role="label", screener=Screener([]))
    assert reading.size and reading.size.value == "L" and reading.size.confidence < 0.5
    assert reading.manufactured and reading.manufactured.value == "2020-03"


def test_detail_image_gets_keywords_and_screening_but_no_fields() -> None:
    rows = _rows("봄 신상 린넨 원피스", "정품급 퀄리티 보장", "오늘 출발")
    reading = interpret(rows, role="detail", screener=Screener(default_words()))
    assert not reading.is_label
    assert reading.size is None and reading.material == ()
    assert [h.word for h in reading.prohibited] == ["정품급"]
    assert reading.prohibited[0].box == rows[1].box
    assert "원피스" in reading.keywords and "정품급" in reading.keywords


def test_compare_declared_on_a_reading() -> None:
    rows = _rows("소재: 폴리에스터 100%", "사이즈: FREE", "제조국: 중국", "제조연월: 2024.03")
    reading = interpret(rows, role="label", screener=Screener([]))
    found = compare_declared(reading, material="면 100%", size="F", country="한국", manufactured="2024-03")
    assert {(m.field, m.found) for m in found} == {("material", "겉감: 폴리에스터 100%"), ("country", "중국")}


@pytest.fixture(scope="module")
def reader() -> LabelReader:
    return LabelReader(timeout_s=30.0)


# Two generated tags (a ruled table and key/value lines) that the reader gets fully right; a
# regression in the engine, the crop preparation or the parsing shows up here first.
REAL_SEEDS = (0, 4)


def test_real_ocr_on_generated_tags(reader: LabelReader) -> None:
    for seed in REAL_SEEDS:
        sample = generate(seed)
        reading = reader.read(sample.image, role="label")
        truth = sample.truth
        assert reading.is_label and not reading.timed_out
        assert sorted((m.part, m.fiber, m.percent) for m in reading.material) == sorted(truth.material)
        assert reading.manufactured and reading.manufactured.value == truth.manufactured
        assert reading.size and reading.size.value == truth.size
        assert reading.country and reading.country.value == truth.country
        assert 0 < reading.country.confidence <= 1 and reading.country.box is not None


def test_timeout_returns_partial_reading(reader: LabelReader) -> None:
    quick = LabelReader(timeout_s=0.001)
    reading = quick.read(generate(0).image)
    assert reading.timed_out
    assert len(reading.lines) < 5


def test_safe_from_a_thread_pool(reader: LabelReader) -> None:
    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        image = generate(4).image
        started = time.monotonic()
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while time.monotonic() - started < 0.5:
                ticks += 1
                await asyncio.sleep(0.05)

        results = await asyncio.gather(
            loop.run_in_executor(None, reader.read, image), loop.run_in_executor(None, reader.read, image),
            ticker())
        assert ticks >= 5  # the event loop kept running while two threads read
        return [r.size.value if r.size else "" for r in results[:2]]  # type: ignore[union-attr]

    sizes = asyncio.run(main())
    assert sizes[0] == sizes[1] == generate(4).truth.size


class _KeyOnlyEngine:
    """An engine that detects a size key whose lone value it cannot read, except beside the key."""

    def __init__(self, beside: str) -> None:
        self.beside = beside
        self.calls: list[tuple[float, float]] = []

    def read(self, image: object, *, deadline: float | None = None) -> tuple[list[RawLine], bool]:
        rows = [("소재 면 100%", 10), ("치수", 60), ("제조국 중국", 110)]
        return [RawLine(text, 0.9, ((20.0, y), (120.0, y), (120.0, y + 30.0), (20.0, y + 30.0)),
                        (20, y, 120, y + 30)) for text, y in rows], False

    def reread(self, gray: object, quad: object, variant: object) -> str:
        return ""

    def key_end(self, gray: object, quad: object, n_chars: int) -> float:
        return 0.9

    def read_beside(self, gray: object, quad: object, start: float, extend: float, variant: object) -> str:
        self.calls.append((start, extend))
        return self.beside


@pytest.mark.parametrize(("beside", "expected"), [(": L", "L"), ("FREE 기준", "FREE"), ("aaa", None)])
def test_size_value_missed_by_detection_is_read_beside_its_key(beside: str, expected: str | None) -> None:
    quick = LabelReader(timeout_s=10.0)
    engine = _KeyOnlyEngine(beside)
    quick._engine = engine  # type: ignore[assignment]
    reading = quick.read(Image.new("L", (400, 200), 255))
    assert engine.calls and engine.calls[0][0] == 0.9 and engine.calls[0][1] > 5
    if expected is None:
        assert reading.size is None
    else:
        assert reading.size and reading.size.value == expected and reading.size.confidence < 0.5
        assert reading.size.box is not None and reading.size.box.text == "치수"


def test_beside_quad_follows_the_line_and_stops_at_the_edge() -> None:
    quad = np.array([[10, 10], [50, 10], [50, 30], [10, 30]], dtype=np.float32)
    region = beside_quad(quad, 0.5, 10.0, (100, 150))
    assert region is not None
    assert region[0][0] == pytest.approx(30) and region[1][0] == pytest.approx(149)  # 10 heights > edge
    assert region[0][1] == pytest.approx(7) and region[3][1] == pytest.approx(33)  # 15 % taller
    tilted = np.array([[0, 0], [40, 40], [30, 50], [-10, 10]], dtype=np.float32) + 100
    region = beside_quad(tilted, 1.0, 2.0, (1000, 1000))
    assert region is not None
    step = (region[1] + region[2]) / 2 - (tilted[1] + tilted[2]) / 2
    height = float(np.linalg.norm(tilted[3] - tilted[0]))
    assert step[0] == pytest.approx(step[1], abs=1e-3) and step[0] > 0  # along the tilted line
    assert float(np.linalg.norm(step)) == pytest.approx(2 * height, rel=1e-4)


# Tuning tags (70000-70149) whose lone size value detection missed (70094: `L`) or read as
# nothing in a tight box (70064: `F`); both came back without a size before the value was read
# beside its key.
@pytest.mark.parametrize("seed", [70064, 70094])
def test_real_ocr_lone_size_value(reader: LabelReader, seed: int) -> None:
    sample = generate(seed)
    reading = reader.read(sample.image, role="label")
    assert reading.size and reading.size.value == sample.truth.size


def test_a_lone_mark_beside_the_size_key_is_no_size() -> None:
    quick = LabelReader(timeout_s=10.0)
    quick._engine = _KeyOnlyEngine("|")  # type: ignore[assignment]
    assert quick.read(Image.new("L", (400, 200), 255)).size is None


def test_a_percentage_wrapped_onto_its_own_row_ends_the_material() -> None:
    # '20%' read as '2006' on a row of its own, under the fiber it belongs to.
    rows = _rows("소재 : 겉감 실크 80% / 폴리우레탄", "2006", "제조국 : 이탈리아", "제조연월 : 2024-10")
    reading = interpret(rows, role="label", screener=Screener([]))
    assert [(m.part, m.fiber, m.percent) for m in reading.material] == [
        ("겉감", "실크", 80), ("겉감", "폴리우레탄", 20)]
    # a number on its own that no material row precedes stays what it is
    alone = interpret(_rows("2006", "제조국 : 이탈리아"), role="label", screener=Screener([]))
    assert alone.material == ()
