"""The demo without photos draws each sample garment as its own silhouette (not one shape nine
times), so the classifier gets pictures that differ in shape, not only in colour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from hanger.demo import _SHAPES, SAMPLES, _draw_images


def test_every_sample_label_has_its_own_silhouette(tmp_path: Path) -> None:
    labels = [s[6] for s in SAMPLES]
    assert set(labels) <= set(_SHAPES)
    drawn = _draw_images(tmp_path, labels)
    background = np.array([245, 245, 240])
    masks = {label: (np.asarray(Image.open(drawn[label]).convert("RGB")) != background).any(-1)
             for label in labels}
    assert all(m.mean() > 0.05 for m in masks.values())  # a garment, not a dot
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            assert (masks[a] != masks[b]).mean() > 0.02, (a, b)
