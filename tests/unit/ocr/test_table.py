"""Ruled tables read cell by cell (inference.ocr.table, reader.group_table) and the material
readings merged percentage by percentage (normalise.merge_readings). Pure and fast: the tables
are drawn here, the text boxes given."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from inference.ocr import TextBox, normalise, table
from inference.ocr.engine import RawLine
from inference.ocr.reader import group_table, interpret
from inference.ocr.screening import Screener, default_words

H = 24  # text height in the drawn tables
TABLE_ROWS = ["소재 겉감 면 80% 폴리에스터 20%", "치수 M", "제조국 베트남"]  # what the drawn table says


def _line(text: str, x0: float, y0: float, x1: float, y1: float) -> RawLine:
    quad = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    return RawLine(text, 0.9, quad, (int(x0), int(y0), int(x1), int(y1)))


def _table_photo(rules: bool = True) -> tuple[np.ndarray, list[RawLine]]:
    """A two-column table: 소재 beside a value wrapped onto two lines, then 치수 and 제조국.
    The key 소재 sits centred between the two value lines, as tag tables print it."""
    image = Image.new("L", (640, 420), 235)
    draw = ImageDraw.Draw(image)
    ys = [60, 160, 220, 280]  # horizontal rules
    if rules:
        for y in ys:
            draw.line([(40, y), (600, y)], fill=20, width=3)
        draw.line([(180, 60), (180, 280)], fill=20, width=3)
        draw.line([(40, 60), (40, 280)], fill=20, width=3)
    lines = [
        _line("소재", 60, 98, 130, 98 + H),             # key, centred in a 100 px row
        _line("겉감 면 80%", 200, 70, 400, 70 + H),        # value, first line
        _line("폴리에스터 20%", 200, 124, 420, 124 + H),    # value, wrapped
        _line("치수", 60, 178, 130, 178 + H),
        _line("M", 200, 178, 230, 178 + H),
        _line("제조국", 60, 238, 150, 238 + H),
        _line("베트남", 200, 238, 300, 238 + H),
        _line("품질보증기준 관련 법에 따름", 40, 330, 420, 330 + H),  # under the table
    ]
    for ln in lines:  # letter-like ink where the text is: short strokes, no long runs
        x0, y0, x1, y1 = ln.box
        for x in range(x0 + 3, x1 - 3, 9):
            draw.rectangle([x, y0 + 4, x + 2, y1 - 4], fill=40)
    return np.asarray(image), lines


def test_grid_is_found_from_the_rules() -> None:
    gray, lines = _table_photo()
    grid = table.find_grid(gray, [ln.quad for ln in lines])
    assert grid is not None
    assert len(grid.rows) == 4
    assert [round(v) for v in grid.rows] == pytest.approx([60, 160, 220, 280], abs=3)
    assert any(abs(u - 180) <= 3 for u in grid.cols)


def test_no_rules_no_grid() -> None:
    gray, lines = _table_photo(rules=False)
    assert table.find_grid(gray, [ln.quad for ln in lines]) is None
    assert group_table(gray, lines) is None


def test_a_wrapped_value_joins_its_key_cell() -> None:
    gray, lines = _table_photo()
    grouped = group_table(gray, lines)
    assert grouped is not None
    texts = [box.text for box, _ in grouped]
    assert texts == [*TABLE_ROWS, "품질보증기준 관련 법에 따름"]
    reading = interpret([box for box, _ in grouped], role="label", screener=Screener(default_words()))
    assert [(m.part, m.fiber, m.percent) for m in reading.material] == [
        ("겉감", "면", 80), ("겉감", "폴리에스터", 20)]
    assert reading.size is not None and reading.size.value == "M"


def test_a_tilted_table_is_levelled_by_the_text_angle() -> None:
    gray, lines = _table_photo()
    angle = 6.0
    image = Image.fromarray(gray).rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=235,
                                         center=(0, 0))
    t = math.radians(-angle)  # PIL turns counter-clockwise; image y points down

    def turn(p: tuple[float, float]) -> tuple[float, float]:
        return (p[0] * math.cos(t) - p[1] * math.sin(t), p[0] * math.sin(t) + p[1] * math.cos(t))

    turned = []
    for ln in lines:
        quad = tuple(turn(p) for p in ln.quad)
        xs, ys = [p[0] for p in quad], [p[1] for p in quad]
        bounds = (int(min(xs)), int(min(ys)), int(max(xs)), int(max(ys)))
        turned.append(RawLine(ln.text, 0.9, quad, bounds))
    grouped = group_table(np.asarray(image), turned)
    assert grouped is not None
    assert [box.text for box, _ in grouped][:3] == TABLE_ROWS


def test_merge_takes_an_unexplained_percentage_from_another_reading() -> None:
    readings = ["소재 겉감 면 85% 84701 15%", "소재 겉감 RE 85% RAYON 15%"]
    merged = normalise.merge_readings(readings)
    assert [(c.fiber, c.percent) for c in normalise.material(merged)] == [("면", 85), ("레이온", 15)]
    # nothing to take: the best reading as it is
    assert normalise.merge_readings(["면 100%", "DH 100%"]) == "면 100%"
    assert normalise.merge_readings([]) == ""


def test_percent_read_as_digits_is_read_so_the_parts_add_up() -> None:
    # '1006' is 100 % or 10 % followed by a misread '%'; only 10 % makes the shell add up
    items = normalise.material("겉감 면 90% 폴리 1006")
    assert [(c.fiber, c.percent) for c in items] == [("면", 90), ("폴리에스터", 10)]
    items = normalise.material("겉감 면 1006")
    assert [(c.fiber, c.percent) for c in items] == [("면", 100)]


def test_an_english_misreading_of_a_fiber_line_is_not_a_key() -> None:
    # 'AS 10%' (Tesseract's English model on 모달 10%) looks like the A/S key; the row's own
    # reading names a fiber with its percentage, so the row stays a material line.
    rows = [TextBox("제품소재 : 겉감 : 아세테이트 90% /", 0.9, (0, 0, 400, 30)),
            TextBox("모달 10%", 0.9, (0, 40, 400, 70), alternatives=("AS 10%",)),
            TextBox("제조국 : 대한민국", 0.9, (0, 80, 400, 110))]
    reading = interpret(rows, role="label", screener=Screener(default_words()))
    assert [(m.fiber, m.percent) for m in reading.material] == [("아세테이트", 90), ("모달", 10)]


def test_merge_takes_the_surest_fiber_of_a_percentage() -> None:
    # No reading names the second fiber surely; '린 24%' (the first syllable of 린넨) beats noise.
    readings = ["안감: 레이온 53%, ㅁ3ㅏ 24%, 스판덱스 23%", "안감: \\4&704 53%, 린 24%, SPANDEX 23%"]
    items = normalise.material(normalise.merge_readings(readings))
    assert [(c.fiber, c.percent) for c in items] == [("레이온", 53), ("린넨", 24), ("스판덱스", 23)]
