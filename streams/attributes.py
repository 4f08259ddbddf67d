"""The care-label stage: read a submission's label photos (and its detail images) with
:mod:`inference.ocr`, off the event loop, and turn the readings into what the enriched event
carries: the product-information notice fields sourced ``ocr`` (material with its structured
composition, 제조연월, size, country, care), searchable keywords, prohibited text with the box it
was found in, and mismatches against what the seller declared.

Which images are read is a setting (``HANGER_OCR_ROLES``, default ``label,detail``): label photos
for the notice fields, detail images (the text-heavy 상세 images of Korean listings) for keywords
and screening. Main photos are garment photos and are left to the classifier unless configured:
OCR costs 1–3 s of CPU per image, the classifier ~20 ms.

How several label photos combine: per field, the value read with the highest confidence wins.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from hanger.errors import ImageError
from hanger.events import (
    AttributeSource,
    ExtractedValue,
    ImageRef,
    MaterialComponent,
    ProductSubmitted,
    TextFinding,
)
from streams import metrics

if TYPE_CHECKING:
    from inference.ocr import Field, LabelReader, LabelReading

log = logging.getLogger(__name__)

NOTICE_FIELDS = ("material", "manufactured", "size", "country", "care")
MAX_KEYWORDS = 50


@dataclass(frozen=True)
class Findings:
    attributes: dict[str, ExtractedValue] = field(default_factory=dict)
    keywords: tuple[str, ...] = ()
    prohibited: tuple[TextFinding, ...] = ()
    mismatches: tuple[str, ...] = ()


class AttributeReaderPort(Protocol):
    def choose(self, images: Sequence[ImageRef]) -> list[ImageRef]:
        """The images this stage would read (so only those are fetched for it)."""
        ...

    async def read(
        self, submission: ProductSubmitted, images: Sequence[tuple[ImageRef, bytes]]
    ) -> Findings: ...


def _read_sync(reader: LabelReader, data: bytes, role: str) -> LabelReading | None:
    from inference.images import load_image

    try:
        image = load_image(data, draft_size=None)  # OCR wants every pixel
    except ImageError:
        return None  # the classifier reports the image's problem; nothing to read here
    with metrics.OCR_SECONDS.time():
        reading = reader.read(image, role=role)
    if reading.timed_out:
        metrics.OCR_TIMEOUTS.inc()
    return reading


class AttributeStage:
    """Runs a :class:`inference.ocr.LabelReader` in its own bounded thread pool."""

    def __init__(self, reader: LabelReader, *, roles: Iterable[str], workers: int = 1,
                 max_images: int = 4) -> None:
        self.reader = reader
        self.roles = frozenset(roles)
        self.max_images = max_images
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ocr")
        self._slots = asyncio.Semaphore(workers * 2)

    def choose(self, images: Sequence[ImageRef]) -> list[ImageRef]:
        # A listing can carry dozens of detail images at ~2.5 s of OCR each: read the label photos
        # first, then the others in order, at most max_images per submission.
        chosen = [ref for ref in images if ref.role.value in self.roles]
        chosen.sort(key=lambda ref: (ref.role.value != "label", ref.order))
        return chosen[:self.max_images]

    async def read(
        self, submission: ProductSubmitted, images: Sequence[tuple[ImageRef, bytes]]
    ) -> Findings:
        wanted = self.choose([ref for ref, _ in images])
        data_of = {id(ref): data for ref, data in images}
        chosen = [(ref, data_of[id(ref)]) for ref in wanted]
        if not chosen:
            return Findings()

        async def one(ref: ImageRef, data: bytes) -> tuple[ImageRef, LabelReading | None]:
            async with self._slots:
                loop = asyncio.get_running_loop()
                call = functools.partial(_read_sync, self.reader, data, ref.role.value)
                return ref, await loop.run_in_executor(self._executor, call)

        readings = await asyncio.gather(*(one(ref, data) for ref, data in chosen))
        return combine(submission, [(ref, r) for ref, r in readings if r is not None])

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _value(f: Field, ref: ImageRef, **extra: object) -> ExtractedValue:
    return ExtractedValue(
        value=f.value, source=AttributeSource.OCR, confidence=round(min(max(f.confidence, 0.0), 1.0), 4),
        evidence=f.box.text[:300] if f.box else None, image_order=ref.order,
        box=f.box.box if f.box else None, **extra,  # type: ignore[arg-type]
    )


def combine(submission: ProductSubmitted, readings: Sequence[tuple[ImageRef, LabelReading]]) -> Findings:
    """The findings of a submission from its readings (pure)."""
    from inference.ocr import compare_values

    best: dict[str, tuple[float, ExtractedValue]] = {}
    for ref, reading in readings:
        if not (reading.is_label or ref.role.value == "label"):
            continue
        for name in NOTICE_FIELDS:
            f = reading.material_text if name == "material" else getattr(reading, name)
            if f is None or not f.value.strip() or (name in best and best[name][0] >= f.confidence):
                continue
            extra = {}
            if name == "material":
                extra["components"] = tuple(
                    MaterialComponent(part=m.part, fiber=m.fiber, percent=min(max(m.percent, 0), 100))
                    for m in reading.material)
            best[name] = (f.confidence, _value(f, ref, **extra))
    attributes = {name: value for name, (_, value) in best.items()}

    keywords: dict[str, None] = {}
    prohibited: list[TextFinding] = []
    for ref, reading in readings:
        for word in reading.keywords:
            if len(keywords) < MAX_KEYWORDS:
                keywords.setdefault(word, None)
        prohibited += [TextFinding(word=h.word, text=h.matched_text[:300], image_order=ref.order,
                                   box=h.box) for h in reading.prohibited]

    declared = submission.attributes
    material = attributes.get("material")
    mismatches = compare_values(
        declared_material=declared.material, declared_size=declared.size,
        declared_country=declared.country, declared_manufactured=declared.manufactured,
        found_material=[(c.part, c.fiber, c.percent) for c in material.components] if material else None,
        found_size=attributes["size"].value if "size" in attributes else None,
        found_country=attributes["country"].value if "country" in attributes else None,
        found_manufactured=attributes["manufactured"].value if "manufactured" in attributes else None,
    )
    return Findings(
        attributes=attributes,
        keywords=tuple(keywords),
        prohibited=tuple(prohibited),
        mismatches=tuple(f"{m.field}: declared {m.declared}, label {m.found}" for m in mismatches),
    )
