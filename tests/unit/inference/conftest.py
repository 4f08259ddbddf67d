from __future__ import annotations

from pathlib import Path

import pytest

from inference.classifier import Classifier

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "images"


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    return Classifier.load(intra_op_threads=1)


@pytest.fixture(scope="session")
def fixture_images() -> dict[str, bytes]:
    files = sorted(p for p in FIXTURES.iterdir() if p.suffix in {".png", ".jpg"})
    assert files, f"no fixture images in {FIXTURES}"
    return {p.name: p.read_bytes() for p in files}
