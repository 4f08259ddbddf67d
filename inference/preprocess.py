"""The one preprocessing function, shared by training (:mod:`inference.train`) and serving
(:mod:`inference.classifier`): an RGB image becomes ``VIEWS`` normalised 224×224 views.

View 0 ("centre"): resize so the short side is 224, crop the centre 224×224.
View 1 ("pad"): pad to a square with neutral grey (so nothing is cut off), resize to 224×224.

The ONNX graph takes ``(N, VIEWS, 3, 224, 224)`` float32 and averages the class logits of the views
(test-time augmentation inside the graph). Pixels are normalised as in the EfficientNet-Lite
reference implementation: ``(x - 127) / 128``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

IMAGE_SIZE = 224
VIEWS = ("centre", "pad")
MEAN = 127.0
STD = 128.0
PAD_COLOR = (127, 127, 127)  # normalises to ~0, like the network's own zero padding
RESAMPLE = Image.Resampling.BILINEAR

FloatArray = npt.NDArray[np.float32]


def params() -> dict[str, Any]:
    """Preprocessing parameters recorded in the model metadata."""
    return {
        "image_size": IMAGE_SIZE,
        "views": list(VIEWS),
        "mean": MEAN,
        "std": STD,
        "pad_color": list(PAD_COLOR),
        "resample": "bilinear",
        "layout": "N,V,C,H,W float32 RGB",
    }


def centre_crop(img: Image.Image, size: int = IMAGE_SIZE) -> Image.Image:
    w, h = img.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    img = img.resize((nw, nh), RESAMPLE)
    left, top = (nw - size) // 2, (nh - size) // 2
    return img.crop((left, top, left + size, top + size))


def pad_square(img: Image.Image, size: int = IMAGE_SIZE) -> Image.Image:
    w, h = img.size
    side = max(w, h)
    canvas = Image.new("RGB", (side, side), PAD_COLOR)
    canvas.paste(img, ((side - w) // 2, (side - h) // 2))
    return canvas.resize((size, size), RESAMPLE)


def to_tensor(img: Image.Image) -> FloatArray:
    """An RGB image of IMAGE_SIZE² as normalised float32 CHW."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32)
    return np.ascontiguousarray(((arr - MEAN) / STD).transpose(2, 0, 1))


def preprocess(img: Image.Image) -> FloatArray:
    """RGB image -> ``(VIEWS, 3, 224, 224)`` float32: the model input for one image."""
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.stack([to_tensor(centre_crop(img)), to_tensor(pad_square(img))])


def stack(tensors: Sequence[FloatArray]) -> FloatArray:
    """Batch several ``preprocess`` outputs into ``(N, VIEWS, 3, 224, 224)``."""
    if not tensors:
        return np.zeros((0, len(VIEWS), 3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    return np.ascontiguousarray(np.stack(tensors))
