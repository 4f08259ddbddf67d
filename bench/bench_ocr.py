"""The care-label OCR stage vs the classifier stage, on the same label photos, in one run.

- OCR stage: what the stream does per label image — decode at full resolution + ``LabelReader.read``
  (text detection, line recognition with Tesseract, normalisation, screening, keywords);
- classifier stage: decode + preprocess + ORT of the same images (the full inference path);
- baseline for the ratio: the classifier stage (how many classifications one OCR reading costs).

Images: generated care-label photos (``tests/labelgen``, held-out seeds 10000…, the same phone-like
degradations the accuracy evaluation uses), one at a time, one thread each, so seconds per image
mean CPU time of one worker thread. ``python -m bench ocr``.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

N_LABELS = 12


def run(n: int = N_LABELS) -> dict[str, Any]:
    from inference.classifier import Classifier
    from inference.images import load_image
    from inference.ocr import LabelReader
    from tests.labelgen.generate import generate

    images = [generate(10_000 + i, plant=False).jpeg_bytes() for i in range(n)]
    reader = LabelReader(timeout_s=60)
    clf = Classifier.load(intra_op_threads=1)
    clf.classify_images([images[0]])  # warm-up both
    reader.read(load_image(images[0], draft_size=None))

    ocr_s, clf_s = [], []
    for data in images:  # interleaved, so noise on the shared machine hits both alike
        t0 = time.perf_counter()
        reader.read(load_image(data, draft_size=None), role="label")
        ocr_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        clf.classify_images([data])
        clf_s.append(time.perf_counter() - t0)
    ocr, cls = statistics.median(ocr_s), statistics.median(clf_s)
    return {
        "name": "care-label OCR stage vs classifier stage",
        "rows": [
            {"case": f"OCR stage per label image (median of {n})", "value": round(ocr, 3), "unit": "s",
             "baseline": f"{cls * 1000:.1f} ms classifier stage on the same images",
             "ratio": ocr / cls, "goal": ""},
            {"case": "OCR stage p90 per label image", "value": round(sorted(ocr_s)[int(0.9 * n)], 3),
             "unit": "s", "baseline": "", "ratio": None, "goal": ""},
        ],
        "notes": [
            "Ratio = how many garment classifications one care-label reading costs; both on one "
            "thread (ORT intra-op 1, Tesseract single-threaded).",
            "OCR runs only on label/detail images (HANGER_OCR_ROLES) in its own thread pool "
            "(HANGER_OCR_WORKERS), beside the classifier; a worker's OCR throughput is "
            "OCR_WORKERS / (seconds per image).",
        ],
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2, ensure_ascii=False))
