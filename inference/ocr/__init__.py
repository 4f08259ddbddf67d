"""Care-label OCR: read material, 제조연월, size, country and care text from label photos, screen
any image's text for prohibited words, and turn detail-image text into keywords.

The entry point is :class:`LabelReader` (one per process, thread-safe, blocking: run it in a thread
pool from asyncio code). :func:`compare_declared` checks a reading against the seller's declared
attributes. Method and measured accuracy: ``docs/ocr.md``.
"""

from inference.ocr.compare import Mismatch, compare_declared, compare_values
from inference.ocr.reader import Field, LabelReader, LabelReading, MaterialPart, TextBox
from inference.ocr.screening import ProhibitedHit, Screener

__all__ = [
    "Field",
    "LabelReader",
    "LabelReading",
    "MaterialPart",
    "Mismatch",
    "ProhibitedHit",
    "Screener",
    "TextBox",
    "compare_declared",
    "compare_values",
]
