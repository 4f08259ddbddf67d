"""asyncio wrapper: decoding, preprocessing and ORT run in a bounded thread pool.

The event loop only awaits; at most ``workers`` products are classified at the same time and at most
``max_pending`` more wait for a worker (further callers wait on a semaphore instead of piling work
into the executor's unbounded queue). Pillow and ONNX Runtime release the GIL for the heavy parts,
so the loop stays responsive while a worker is busy.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from hanger.errors import ImageError
from hanger.events import Classification, ModelInfo
from inference.classifier import Classifier, Prediction

T = TypeVar("T")


class AsyncClassifier:
    def __init__(self, classifier: Classifier, *, workers: int = 1, max_pending: int = 8) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.classifier = classifier
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="classify")
        self._slots = asyncio.Semaphore(workers + max(0, max_pending))
        self._closed = False

    @classmethod
    def load(
        cls,
        model_path: Path | None = None,
        *,
        intra_op_threads: int | None = None,
        workers: int = 1,
        max_pending: int = 8,
    ) -> AsyncClassifier:
        clf = Classifier.load(model_path, intra_op_threads=intra_op_threads)
        return cls(clf, workers=workers, max_pending=max_pending)

    @property
    def model_info(self) -> ModelInfo:
        return self.classifier.model_info

    @property
    def auto_approve_threshold(self) -> float:
        return self.classifier.auto_approve_threshold

    async def _submit(self, fn: functools.partial[T]) -> T:
        if self._closed:
            raise RuntimeError("AsyncClassifier is closed")
        async with self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, fn)

    async def classify_images(self, images: Sequence[bytes]) -> Prediction:
        return await self._submit(functools.partial(self.classifier.classify_images, list(images)))

    async def classify_batch(self, images: Sequence[bytes]) -> list[Classification | ImageError]:
        return await self._submit(functools.partial(self.classifier.classify_batch, list(images)))

    def close(self) -> None:
        """Stop accepting work; waits for running classifications to finish."""
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    async def __aenter__(self) -> AsyncClassifier:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
