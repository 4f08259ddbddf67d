from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from hanger.errors import ImageError
from inference import cli
from inference.async_classifier import AsyncClassifier
from inference.classifier import Classifier, Prediction

from .conftest import FIXTURES


class SlowClassifier:
    """Stands in for Classifier: blocks its thread like a busy CPU-bound classification."""

    def __init__(self, inner: Classifier, delay: float) -> None:
        self.inner = inner
        self.delay = delay
        self.model_info = inner.model_info
        self.auto_approve_threshold = inner.auto_approve_threshold
        self.threads: set[int] = set()
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def classify_images(self, images: Sequence[bytes]) -> Prediction:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        self.threads.add(threading.get_ident())
        time.sleep(self.delay)
        try:
            return self.inner.classify_images(images)
        finally:
            with self._lock:
                self.active -= 1


async def test_async_classifier_does_not_block_the_loop(
    classifier: Classifier, fixture_images: dict[str, bytes]
) -> None:
    slow = SlowClassifier(classifier, delay=0.3)
    aclf = AsyncClassifier(slow, workers=1, max_pending=2)  # type: ignore[arg-type]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    tick_task = asyncio.create_task(ticker())
    try:
        data = fixture_images["tshirt.png"]
        preds = await asyncio.gather(*(aclf.classify_images([data]) for _ in range(3)))
    finally:
        tick_task.cancel()
        await aclf.aclose()
    assert ticks >= 30  # ~0.9 s of work; the loop kept ticking every 10 ms meanwhile
    assert threading.get_ident() not in slow.threads
    assert slow.max_active == 1  # bounded by workers
    direct = classifier.classify_images([data])
    assert all(p == direct for p in preds)


async def test_async_classifier_propagates_image_errors(classifier: Classifier) -> None:
    async with AsyncClassifier(classifier) as aclf:
        with pytest.raises(ImageError) as info:
            await aclf.classify_images([b""])
        assert info.value.code == "empty_image"
        (res,) = await aclf.classify_batch([b"junk"])
        assert isinstance(res, ImageError)
    with pytest.raises(RuntimeError):
        await aclf.classify_images([b""])


def _run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    rc: int = args.func(args)
    return rc


def test_cli_classify_json(capsys: pytest.CaptureFixture[str]) -> None:
    files = [FIXTURES / "tshirt.png", FIXTURES / "trousers.jpg"]
    assert _run_cli(["classify", "--json", *map(str, files)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    for line in lines:
        obj = json.loads(line)
        assert set(obj) >= {"label_en", "label_ko", "taxonomy_id", "confidence", "top3"}
        assert len(obj["top3"]) == 3 and obj["top3"][0]["taxonomy_id"] == obj["taxonomy_id"]


def test_cli_classify_bad_image_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"")
    rc = _run_cli(["classify", str(FIXTURES / "tshirt.png"), str(bad), str(tmp_path / "nope.jpg")])
    assert rc == 1
    captured = capsys.readouterr()
    assert "empty_image" in captured.err and "unreadable_file" in captured.err
    assert "tshirt.png" in captured.out


def test_cli_model_info(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run_cli(["model", "info", "--json"]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert "auto_approve_threshold" in meta and "sha256" in meta
