"""Throughput of the clothing classifier: raw ONNX Runtime vs the full inference path.

Both measured in one run on the same photos:

- raw: ``Classifier.run`` on pre-decoded, preprocessed tensors ``(N, 2, 3, S, S)``;
- full: ``Classifier.classify_batch`` on the encoded bytes (decode + preprocess + ORT run);
- when the committed model has an int8 variant that may load on this CPU
  (``clothing-<version>-int8.onnx``, docs/model/EXPERIMENTS.md #18b): its raw ORT and full path,
  alternating with the full model's in the same rounds.

Photos come from ``../shared/data/clothing/images`` when present (the first ``n`` in the CSV),
else generated JPEGs of a similar size. ``python -m bench.bench_inference [n] [threads]``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from hanger.errors import ConfigError
from inference import preprocess as pp
from inference.classifier import Classifier, default_model_path, int8_variant_path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "clothing"


def _photos(n: int) -> tuple[list[bytes], str]:
    csv_path = DATA / "images.csv"
    if csv_path.exists():
        with csv_path.open(newline="", encoding="utf-8") as fh:
            names = [row["image"] for row, _ in zip(csv.DictReader(fh), range(n), strict=False)]
        return [(DATA / "images" / f"{name}.jpg").read_bytes() for name in names], str(DATA)
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        base = rng.integers(0, 255, (3,), dtype=np.uint8)
        arr = np.clip(base + rng.normal(0, 25, (600, 400, 3)), 0, 255).astype(
            np.uint8
        )  # 400×600 noisy photo-sized JPEG
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, "JPEG", quality=85)
        out.append(buf.getvalue())
    return out, "generated"


def run(n: int = 64, threads: int | None = 2, repeats: int = 3) -> dict[str, Any]:
    clf = Classifier.load(intra_op_threads=threads)
    variant = _variant(threads)
    photos, source = _photos(n)
    tensors = pp.stack([clf.prepare(p) for p in photos], clf.image_size)
    models = [clf] if variant is None else [clf, variant]
    for model in models:
        model.run(tensors[: min(8, n)])  # warm-up

    raw_s = {model: float("inf") for model in models}  # fastest round of each
    full_s = dict(raw_s)
    failed = 0
    for _ in range(repeats):
        for model in models:
            t0 = time.perf_counter()
            model.run(tensors)
            raw_s[model] = min(raw_s[model], time.perf_counter() - t0)
            t0 = time.perf_counter()
            results = model.classify_batch(photos)
            full_s[model] = min(full_s[model], time.perf_counter() - t0)
            if model is clf:
                failed = sum(1 for r in results if isinstance(r, Exception))

    t0 = time.perf_counter()
    for p in photos:
        clf.prepare(p)
    decode_ms = (time.perf_counter() - t0) / n * 1000

    raw = n / raw_s[clf]
    full = n / full_s[clf]
    out: dict[str, Any] = {
        "model": f"{clf.model_info.name} {clf.model_info.version}",
        "source": source,
        "images": n,
        "failed": failed,
        "intra_op_threads": threads,
        "cpu_count": os.cpu_count(),
        "mean_bytes_per_image": int(sum(map(len, photos)) / n),
        "raw_ort_img_per_s": round(raw, 1),
        "full_path_img_per_s": round(full, 1),
        "full_over_raw": round(full / raw, 3),
        "decode_preprocess_ms_per_image": round(decode_ms, 2),
    }
    if variant is not None:
        variant_raw = n / raw_s[variant]
        variant_full = n / full_s[variant]
        out["int8_variant"] = {
            "model": f"{variant.model_info.name} {variant.model_info.version}",
            "raw_ort_img_per_s": round(variant_raw, 1),
            "full_path_img_per_s": round(variant_full, 1),
            "raw_over_full_model_raw": round(variant_raw / raw, 3),
            "full_path_over_full_model_full_path": round(variant_full / full, 3),
        }
    return out


def _variant(threads: int | None) -> Classifier | None:
    path = int8_variant_path(default_model_path())
    if not path.exists():
        return None
    try:
        return Classifier.load(path, intra_op_threads=threads)
    except ConfigError:  # this CPU may not serve it (model_needs_cpu)
        return None


if __name__ == "__main__":
    argv = sys.argv[1:]
    result = run(int(argv[0]) if argv else 64, int(argv[1]) if len(argv) > 1 else 2)
    print(json.dumps(result, indent=2))
