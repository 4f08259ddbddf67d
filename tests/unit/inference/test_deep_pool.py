"""The deep nets' decoded pool (inference.deep) holds exactly the serving views.

The deep nets of ``inference.train --deep-nets`` are scored (out-of-fold, TEST, calibration) on
views decoded once into a pool; if those differed from what the classifier feeds the exported
graph, every reported figure of such a model would describe a different input. No torch needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from inference import deep, train
from inference import preprocess as pp
from inference.images import load_image


def _samples(tmp_path: Path, photos: dict[str, bytes]) -> list[train.Sample]:
    (tmp_path / "images").mkdir()
    samples = []
    for k, raw in enumerate(photos.values()):
        (tmp_path / "images" / f"photo{k}.jpg").write_bytes(raw)
        samples.append(train.Sample(image=f"photo{k}", sender=str(k), label="T-Shirt",
                                    taxonomy_id="T101", kids=False, test=False))
    return samples


def test_pool_views_are_the_serving_views_exactly(tmp_path: Path, fixture_images: dict[str, bytes]) -> None:
    photos = dict(sorted(fixture_images.items()))
    samples = _samples(tmp_path, photos)
    pool = deep.Pool.ensure(samples, tmp_path, tmp_path / "pool")
    assert pool.ok.all()
    for i, (name, raw) in enumerate(photos.items()):
        img = load_image(raw)
        for size in deep.SERVE_SIZES:
            got = deep.normalise(pool.serve[size][i])
            np.testing.assert_array_equal(got, pp.preprocess(img, size), err_msg=f"{name} at {size} px")
            np.testing.assert_array_equal(got, train.serving_input(raw, size), err_msg=name)
        # the training pool keeps the whole photo (augmentation crops from it), short side capped
        kept = pool.image(i)
        w, h = img.size
        assert min(kept.size) == min(min(w, h), deep.POOL_SHORT), name
        assert abs(kept.size[0] / kept.size[1] - w / h) < 0.02, name


def test_a_broken_photo_is_skipped_and_the_pool_is_remade_for_other_photos(
    tmp_path: Path, fixture_images: dict[str, bytes]
) -> None:
    photos = dict(sorted(fixture_images.items()))
    samples = _samples(tmp_path, photos)
    (tmp_path / "images" / "broken.jpg").write_bytes(b"not an image at all")
    broken = train.Sample(image="broken", sender="99", label="Dress", taxonomy_id="T301",
                          kids=False, test=True)
    pool = deep.Pool.ensure([*samples, broken], tmp_path, tmp_path / "pool")
    assert pool.ok.tolist() == [True] * len(samples) + [False]
    # the same photos: reused as they are; other photos: decoded again, never silently mixed up
    before = (tmp_path / "pool" / "pool.npy").stat().st_mtime_ns
    deep.Pool.ensure([*samples, broken], tmp_path, tmp_path / "pool")
    assert (tmp_path / "pool" / "pool.npy").stat().st_mtime_ns == before
    again = deep.Pool.ensure(samples[:2], tmp_path, tmp_path / "pool")
    assert again.ok.tolist() == [True, True]
    assert again.serve[256].shape[0] == 2
