from __future__ import annotations

import numpy as np
from PIL import Image

from inference import preprocess as pp


def test_shape_dtype_and_normalisation() -> None:
    x = pp.preprocess(Image.new("RGB", (300, 200), (255, 127, 0)))
    assert x.shape == (2, 3, pp.IMAGE_SIZE, pp.IMAGE_SIZE) and x.dtype == np.float32
    # centre view: filled entirely by the image
    np.testing.assert_allclose(x[0, 0], (255 - 127) / 128, atol=1e-6)
    np.testing.assert_allclose(x[0, 1], 0.0, atol=1e-6)
    np.testing.assert_allclose(x[0, 2], -127 / 128, atol=1e-6)


def test_pad_view_keeps_whole_image_and_centre_view_crops() -> None:
    # a wide image: red left third, green middle, blue right third
    img = Image.new("RGB", (600, 200), (0, 255, 0))
    img.paste((255, 0, 0), (0, 0, 200, 200))
    img.paste((0, 0, 255), (400, 0, 600, 200))
    centre, pad = pp.preprocess(img)
    full = (255 - 127) / 128
    # centre crop only sees the green middle (bilinear may blend the outermost columns)
    assert np.allclose(centre[1, :, 3:-3], full, atol=1e-6)
    assert np.allclose(centre[0, :, 3:-3], -127 / 128, atol=1e-6)
    # pad view: grey bands at top and bottom, all three colours present on the middle row
    assert np.allclose(pad[:, 0, :], (127 - 127) / 128, atol=1e-6)
    n = pp.IMAGE_SIZE
    row = pad[:, n // 2, :]
    assert row[0, n // 20] > 0.9 and row[1, n // 2] > 0.9 and row[2, n - n // 20] > 0.9


def test_mode_is_converted_and_deterministic() -> None:
    img = Image.new("L", (50, 80), 200)
    a, b = pp.preprocess(img), pp.preprocess(img.convert("RGB"))
    np.testing.assert_array_equal(a, b)


def test_tiny_and_extreme_aspect_images() -> None:
    for size in ((1, 1), (3, 500), (500, 3)):
        for side in (pp.TRAIN_SIZE, pp.IMAGE_SIZE):
            x = pp.preprocess(Image.new("RGB", size, (10, 20, 30)), side)
            assert x.shape == (2, 3, side, side) and np.isfinite(x).all()


def test_stack() -> None:
    n = pp.IMAGE_SIZE
    assert pp.stack([]).shape == (0, 2, 3, n, n)
    assert pp.stack([], 224).shape == (0, 2, 3, 224, 224)
    t = pp.preprocess(Image.new("RGB", (10, 10)))
    assert pp.stack([t, t]).shape == (2, 2, 3, n, n)


def test_the_training_size_is_the_same_views_at_another_scale() -> None:
    """Training views (224) and serving views (256) are the same crops: a flat colour region maps
    to the same values, only the pixel grid differs."""
    img = Image.new("RGB", (400, 300), (200, 100, 50))
    small, big = pp.preprocess(img, pp.TRAIN_SIZE), pp.preprocess(img, pp.IMAGE_SIZE)
    assert small.shape[-1] == pp.TRAIN_SIZE and big.shape[-1] == pp.IMAGE_SIZE
    np.testing.assert_allclose(small[0].mean(axis=(1, 2)), big[0].mean(axis=(1, 2)), atol=1e-6)
    # the pad view: the same fraction of grey band at both sizes (top rows are padding)
    band = [int((v[1, :, v.shape[-1] // 2] == 0).sum()) / v.shape[-1] for v in (small, big)]
    assert abs(band[0] - band[1]) < 0.02
