"""Prohibited-word screening: spacing, jamo, look-alikes, OCR's versions of them; no false flags."""

from __future__ import annotations

import pytest

from inference.ocr.screening import Screener, default_words, parse_word_list, skeleton


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener(default_words())


@pytest.mark.parametrize(("text", "word"), [
    ("짝퉁 아님", "짝퉁"),
    ("짝 퉁 아님", "짝퉁"),  # spacing
    ("ㅉㅏㄱ퉁", "짝퉁"),  # jamo decomposition
    ("레.플.리.카 아님", "레플리카"),  # punctuation between letters
    ("O|미테이션 퀄리티", "이미테이션"),  # look-alikes for ㅇ and ㅣ
    ("REPL1CA quality", "replica"),  # digits for letters
    ("F4KE 아님", "fake"),
    ("미러ㄱ-ㄴ 퀄리티", "미러급"),  # what OCR makes of 미러ㄱㅡㅂ: one jamo off
    ("ㄱ} 품 퀄리티 그대로", "가품"),  # OCR's '}' for ㅏ
    ("이미테이셜 아님", "이미테이션"),  # one jamo misread
    ("최고급 레ㅍㄹ리카", "레플리카"),  # one jamo lost (the ㅡ of a typed-out 플)
    ("문의 주세요ㅈㅓ@품급", "정품급"),  # ... and ㅇ read as a mark
    ("짝6ㅜㅇ0 절대 아닙니다", "짝퉁"),  # Tesseract's 6 for a lone ㅌ
    ("문의 주세요 이미6ㄱ| 이션", "이미테이션"),  # ... and ㄱ| for a lone ㅔ
    ("2ㄱ| 플리카 절대 아닙니다", "레플리카"),  # ... and 2 for a lone ㄹ
    ("최고급 0.ㄷ.『.ㄴ.1.<.ㅅ", "replica"),  # R.E.P.L.I.C.A read as jamo
])
def test_finds_disguised_words(screener: Screener, text: str, word: str) -> None:
    assert word in screener.find(text)


@pytest.mark.parametrize("text", [
    "소재 겉감: 면 80%, 폴리에스터 20%",
    "제조연월 2024년 03월",
    "A/S 책임자 1588-1234",
    "품질보증기준 관련 법 및 소비자분쟁해결기준에 따름",
    "세탁방법 30°C 이하 손세탁, 표백제 사용 금지",
    "정품 보장, 무료 배송",
    "플리츠 롱 스커트",
])
def test_clean_label_lines_pass(screener: Screener, text: str) -> None:
    assert screener.find(text) == []


def test_skeleton_is_one_form_for_all_disguises() -> None:
    assert skeleton("짝퉁") == skeleton("ㅉㅏㄱ퉁") == skeleton("짝 . 퉁")
    assert skeleton("Rep1ica") == skeleton("REPL1CA") == skeleton("replica")


def test_word_list_file_and_hits_with_boxes() -> None:
    words = parse_word_list("# comment\n짝퉁\n\n  가품  # inline comment\n")
    assert words == ["짝퉁", "가품"]
    hits = Screener(words).screen_readings([("짝 퉁 아님", (), (1, 2, 3, 4)),
                                            ("ok", ("ㄱㅏ품",), (5, 6, 7, 8))])
    assert [(h.word, h.box) for h in hits] == [("짝퉁", (1, 2, 3, 4)), ("가품", (5, 6, 7, 8))]
    assert hits[1].matched_text == "ㄱㅏ품"  # found in the other reading of the line


def test_default_list_ships_counterfeit_terms() -> None:
    words = default_words()
    for word in ("짝퉁", "이미테이션", "레플리카", "정품급"):
        assert word in words
