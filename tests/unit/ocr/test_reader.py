"""The reader: interpretation of rows (pure, fast) and one real OCR run on generated tags."""

from __future__ import annotations

import asyncio
import time

import pytest

from inference.ocr import LabelReader, TextBox, compare_declared
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
