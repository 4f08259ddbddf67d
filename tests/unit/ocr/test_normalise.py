"""Normalisers: year-month, size, country, material (parts, synonyms, OCR noise, sums)."""

from __future__ import annotations

import pytest

from inference.ocr import normalise


@pytest.mark.parametrize(("text", "expected"), [
    ("2024년 03월", "2024-03"),
    ("2024년 3월", "2024-03"),
    ("2024.03", "2024-03"),
    ("2024. 03.", "2024-03"),
    ("24/03", "2024-03"),
    ("2024-3", "2024-03"),
    ("202403", "2024-03"),
    ("2O24.O3", "2024-03"),  # O read for 0
    ("제조연월: 2019년 12월", "2019-12"),
    ("2024.13", None),
    ("고객센터 1588-1234", None),
    ("", None),
])
def test_year_month(text: str, expected: str | None) -> None:
    assert normalise.year_month(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("55", "55"),
    ("FREE", "FREE"),
    ("F", "FREE"),
    ("프리", "FREE"),
    ("free size", "FREE"),
    ("M(95)", "M(95)"),
    ("m (95)", "M(95)"),
    ("M（95）", "M(95)"),
    ("95(M)", "95(M)"),
    ("S/M/L", "S/M/L"),
    ("s / m / l", "S/M/L"),
    ("XL", "XL"),
    ("Ｌ", "L"),  # full-width
    ("5(90)", "S(90)"),  # S read as 5: the bust size tells the letter
    ("[(100)", "L(100)"),
    ("1OO", "100"),
    ("5", "S"),
    ("12", None),  # no such size
    ("블랙", None),
])
def test_size(text: str, expected: str | None) -> None:
    assert normalise.size(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("대한민국", "대한민국"),
    ("한국", "대한민국"),
    ("MADE IN KOREA", "대한민국"),
    ("Made in China", "중국"),
    ("베트난", "베트남"),  # one misread letter
    ("ITALY", "이탈리아"),
    ("방글라데시", "방글라데시"),
])
def test_country(text: str, expected: str) -> None:
    found = normalise.country(text)
    assert found is not None and found[0] == expected


def test_country_unknown() -> None:
    assert normalise.country("블랙") is None


def _triples(text: str) -> list[tuple[str, str, int]]:
    return [(c.part, c.fiber, c.percent) for c in normalise.material(text)]


def test_material_one_part_with_synonyms() -> None:
    assert _triples("겉감: 면 80%, 폴리 20%") == [("겉감", "면", 80), ("겉감", "폴리에스터", 20)]
    assert _triples("COTTON 95% SPANDEX 5%") == [("겉감", "면", 95), ("겉감", "스판덱스", 5)]
    assert _triples("면100%") == [("겉감", "면", 100)]


def test_material_several_parts() -> None:
    text = "겉감: 울 70% / 캐시미어 30% 안감 - 폴리에스테르 100% 충전재 오리솜털 90%, 오리깃털 10%"
    assert _triples(text) == [
        ("겉감", "울", 70), ("겉감", "캐시미어", 30), ("안감", "폴리에스터", 100),
        ("충전재", "오리솜털", 90), ("충전재", "오리깃털", 10),
    ]


def test_material_ocr_noise() -> None:
    # O for 0, '%' read as '96', a misread fiber letter (폴리에스터 -> 풀리에스터), 걸감 for 겉감.
    assert _triples("걸감: 면 8O% 풀리에스터 2096") == [("겉감", "면", 80), ("겉감", "폴리에스터", 20)]


def test_material_repairs_a_misread_percentage() -> None:
    # 83 + 17 = 100, but OCR read 83 as 88: the sum rule fixes the one confusable digit.
    assert _triples("폴리에스터 88% 스판덱스 17%") == [("겉감", "폴리에스터", 83), ("겉감", "스판덱스", 17)]


def test_material_part_name_lost_by_ocr() -> None:
    # The shell already adds up to 100, so what follows is another part; down is filling.
    assert _triples("겉감 나일론 100% SUA 오리솜털 90% 오리깃털 10%") == [
        ("겉감", "나일론", 100), ("충전재", "오리솜털", 90), ("충전재", "오리깃털", 10),
    ]


def test_material_ignores_text_without_fibers() -> None:
    assert _triples("최대 30% 할인") == []
    assert normalise.material_sums_ok(normalise.material("면 60% 폴리 40% 안감 레이온 100%"))
    assert not normalise.material_sums_ok(normalise.material("면 60%"))


def test_format_material() -> None:
    items = normalise.material("겉감 면 80% 폴리 20% 안감 레이온 100%")
    assert normalise.format_material(items) == "겉감: 면 80%, 폴리에스터 20% / 안감: 레이온 100%"


def test_material_letters_and_lost_percent_signs() -> None:
    # 'RAYON95%' read 'RAYONIS%': the number is fixed by the sum; '80%' read '800'; 린 for 린넨.
    assert _triples("겉감 - RAYONIS% 폴리우레탄5%") == [("겉감", "레이온", 95), ("겉감", "폴리우레탄", 5)]
    assert _triples("실크 800 / 면 2006") == [("겉감", "실크", 80), ("겉감", "면", 20)]
    assert _triples("린 30% 레이온 70%") == [("겉감", "린넨", 30), ("겉감", "레이온", 70)]
    assert _triples("다림질 140 이하") == []


def test_material_part_glued_to_its_fiber() -> None:
    # OCR lost the space between the part and the fiber ('겉감면 100%', '안감실크 100%').
    assert _triples("겉감면 100%") == [("겉감", "면", 100)]
    assert _triples("겉감 울 100% 안감실크 100%") == [("겉감", "울", 100), ("안감", "실크", 100)]


def test_material_percent_sign_read_twice() -> None:
    # '100%' read '1000%' (the sign as 0, then as %): only the three-digit head is a percentage.
    assert _triples("배색 - 리오셀1000%") == [("배색", "텐셀", 100)]
    assert _triples("면 1000%") == [("겉감", "면", 100)]


def test_material_number_without_its_percent_sign() -> None:
    # '레이온 54' is 레이온 5 % with the sign read as 4; '면 80 폴리에스터 20' lost both signs.
    # Taken only where the parts then add up as read: no number repaired on top of a guess.
    assert _triples("실크 75% 린넨 20% 레이온 54") == [
        ("겉감", "실크", 75), ("겉감", "린넨", 20), ("겉감", "레이온", 5)]
    assert _triples("겉감 면 80 폴리에스터 20") == [("겉감", "면", 80), ("겉감", "폴리에스터", 20)]
    assert _triples("코튼 65 4141.10 30% 아세테이트 5%") != [("겉감", "면", 95), ("겉감", "아세테이트", 5)]
    assert _triples("사이즈 95") == [] and _triples("울 30 세탁") == []


def test_lone_percentage() -> None:
    assert normalise.lone_percentage("20%") and normalise.lone_percentage("2006")
    assert normalise.lone_percentage(" 15%, ")
    assert not normalise.lone_percentage("2024") and not normalise.lone_percentage("면 20%")
    assert not normalise.lone_percentage("02-1234")


def test_material_reading_as_printed_beats_a_repaired_one() -> None:
    # '596' is 5 % (sign read '96'); 59 % would only add up after '6096' was cut to 6 by the repair.
    assert _triples("겉감 - 폴리에스터 6096, 나일론 3596, 스판덱스 596") == [
        ("겉감", "폴리에스터", 60), ("겉감", "나일론", 35), ("겉감", "스판덱스", 5)]
