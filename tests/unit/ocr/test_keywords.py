"""Keywords from detail-image text."""

from __future__ import annotations

from inference.ocr.keywords import keywords, tokens


def test_tokens_normalise_and_drop_stopwords() -> None:
    assert tokens("린넨 셔츠 원피스를 30°C 이하 세탁 2XL") == ["린넨", "셔츠", "원피스", "2xl"]


def test_keywords_dedupe_in_order() -> None:
    lines = ["봄 신상 니트 가디건", "니트 가디건은 부드러운 울 소재", "NEW Knit 니트"]
    assert keywords(lines) == ("신상", "니트", "가디건", "부드러운", "new", "knit")  # 소재 is a label key


def test_keywords_keep_colour_names_that_end_like_particles() -> None:
    assert keywords(["그레이 와이드 팬츠"]) == ("그레이", "와이드", "팬츠")


def test_keywords_limit() -> None:
    assert len(keywords([f"word{i}x" for i in range(50)], limit=10)) == 10
