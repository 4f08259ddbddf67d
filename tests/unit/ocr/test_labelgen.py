"""The synthetic label generator is deterministic and its ground truth is self-consistent."""

from __future__ import annotations

import hashlib

from inference.ocr import normalise
from tests.labelgen.generate import LAYOUTS, describe, generate


def test_same_seed_same_pixels_and_truth() -> None:
    a, b = generate(3), generate(3)
    assert hashlib.sha256(a.image.tobytes()).digest() == hashlib.sha256(b.image.tobytes()).digest()
    assert a.truth == b.truth == describe(3)[0]
    assert describe(3) != describe(4)


def test_truth_is_normalised_and_sums_to_100() -> None:
    layouts = set()
    for seed in range(60):
        truth, _ = describe(seed)
        layouts.add(truth.layout)
        totals: dict[str, int] = {}
        for part, _, pct in truth.material:
            totals[part] = totals.get(part, 0) + pct
        assert set(totals.values()) == {100}
        assert normalise.year_month(truth.manufactured) == truth.manufactured
        assert normalise.size(truth.size) == truth.size
        assert normalise.country(truth.country) is not None
    assert layouts == set(LAYOUTS)


def test_text_lines_parse_to_the_truth() -> None:
    """What the generator writes, read perfectly, gives the truth (OCR is the only error source)."""
    for seed in range(200):
        truth, lines = describe(seed)
        text = " ".join(line for line in lines if "%" in line)
        parsed = sorted((c.part, c.fiber, c.percent) for c in normalise.material(text))
        assert parsed == sorted(truth.material), seed


def test_planting() -> None:
    planted = generate(1, plant=True).truth
    assert planted.planted and planted.planted_text
    assert not generate(1, plant=False).truth.planted
