"""Which notice items the return trip fills: blanks always (portals require all nine items),
"상세페이지 참조" only with a value read from the label, anything the seller wrote never."""

from __future__ import annotations

from adapters.common.notices import PLACEHOLDER, clothing_values


def test_blanks_and_placeholders_are_filled_and_seller_values_kept() -> None:
    current = {"제품 소재": "상세페이지 참조", "색상": "블랙", "치수": "", "제조국": "상세 페이지 참조",
               "제조연월": "2024-03"}
    fill = {"material": "겉감: 면 100%", "size": "M(95)", "manufactured": "2025-01"}
    values = clothing_values(current, fill)
    assert values["제품 소재"] == "겉감: 면 100%"  # placeholder → the label's value
    assert values["치수"] == "M(95)"  # blank → the label's value
    assert "제조국" not in values  # placeholder, nothing read: the seller's text stays
    assert "색상" not in values and "제조연월" not in values  # what the seller wrote stays
    assert values["제조자(수입자)"] == PLACEHOLDER  # missing entirely: the portal needs all nine
