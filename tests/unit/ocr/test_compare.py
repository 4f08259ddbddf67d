"""Declared attributes vs the care label."""

from __future__ import annotations

from inference.ocr.compare import compare_values


def _mismatches(**kwargs: object) -> dict[str, str]:
    base: dict[str, object] = {
        "declared_material": None, "declared_size": None, "declared_country": None,
        "declared_manufactured": None, "found_material": None, "found_size": None,
        "found_country": None, "found_manufactured": None,
    }
    base.update(kwargs)
    return {m.field: m.found for m in compare_values(**base)}  # type: ignore[arg-type]


def test_material_mismatch_cotton_vs_polyester() -> None:
    found = _mismatches(declared_material="면 100%", found_material=[("겉감", "폴리에스터", 100)])
    assert found == {"material": "겉감: 폴리에스터 100%"}


def test_material_agrees_with_synonyms_and_rounding() -> None:
    label = [("겉감", "면", 83), ("겉감", "폴리에스터", 17), ("안감", "폴리에스터", 100)]
    assert _mismatches(declared_material="COTTON 80% POLY 20%", found_material=label) == {}
    assert _mismatches(declared_material="면, 폴리", found_material=label) == {}
    assert _mismatches(declared_material="면/울", found_material=label) != {}


def test_material_from_label_text() -> None:
    assert _mismatches(declared_material="면 100%", found_material="겉감: 면 100%") == {}


def test_size_country_date() -> None:
    assert _mismatches(declared_size="M", found_size="M(95)") == {}
    assert _mismatches(declared_size="F", found_size="FREE") == {}
    assert _mismatches(declared_size="S", found_size="L(100)") == {"size": "L(100)"}
    assert _mismatches(declared_country="한국", found_country="MADE IN KOREA") == {}
    assert _mismatches(declared_country="KR", found_country="중국") == {"country": "중국"}
    assert _mismatches(declared_manufactured="2024-03", found_manufactured="24/03") == {}
    assert _mismatches(declared_manufactured="2024-03", found_manufactured="2023-03") == {
        "manufactured": "2023-03"}


def test_missing_values_are_not_mismatches() -> None:
    assert _mismatches(declared_material="면 100%", declared_size="M") == {}
    assert _mismatches(found_size="M", found_country="중국") == {}
