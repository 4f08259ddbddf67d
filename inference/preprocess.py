"""The one preprocessing function, shared by training (:mod:`inference.train`) and serving
(:mod:`inference.classifier`): an RGB image becomes ``VIEWS`` normalised S×S views.

View 0 ("centre"): resize so the short side is S, crop the centre S×S.
View 1 ("pad"): pad to a square with neutral grey (so nothing is cut off), resize to S×S.

S is the model's input size, recorded in its metadata (``preprocessing.image_size``):
``IMAGE_SIZE`` (256) for the shipped model. Training fine-tunes on ``TRAIN_SIZE`` (224) views,
whose random crops make a garment look larger than in the serving views; scoring at a higher
resolution than training compensates for that ("FixRes", Touvron et al. 2019; +2 pp measured
on a seller-grouped fold, +0.8 pp over 5 folds: docs/model/EXPERIMENTS.md #13-#14).

The ONNX graph takes ``(N, VIEWS, 3, S, S)`` float32 and averages the class logits of the views
(test-time augmentation inside the graph). Pixels are normalised as in the EfficientNet-Lite
reference implementation: ``(x - 127) / 128``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

IMAGE_SIZE = 256  # serving views of the shipped model
TRAIN_SIZE = 224  # training views: the tails are fine-tuned at the backbone's ImageNet size
VIEWS = ("centre", "pad")
MEAN = 127.0
STD = 128.0
PAD_COLOR = (127, 127, 127)  # normalises to ~0, like the network's own zero padding
RESAMPLE = Image.Resampling.BILINEAR

FloatArray = npt.NDArray[np.float32]


def params(size: int = IMAGE_SIZE) -> dict[str, Any]:
    """Preprocessing parameters recorded in the model metadata."""
    return {
        "image_size": size,
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
    """A square RGB image as normalised float32 CHW."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32)
    return np.ascontiguousarray(((arr - MEAN) / STD).transpose(2, 0, 1))


def preprocess(img: Image.Image, size: int = IMAGE_SIZE) -> FloatArray:
    """RGB image -> ``(VIEWS, 3, size, size)`` float32: the model input for one image."""
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.stack([to_tensor(centre_crop(img, size)), to_tensor(pad_square(img, size))])


def stack(tensors: Sequence[FloatArray], size: int = IMAGE_SIZE) -> FloatArray:
    """Batch several ``preprocess`` outputs into ``(N, VIEWS, 3, size, size)``."""
    if not tensors:
        return np.zeros((0, len(VIEWS), 3, size, size), dtype=np.float32)
    return np.ascontiguousarray(np.stack(tensors))
