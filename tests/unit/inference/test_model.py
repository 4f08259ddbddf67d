from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import onnxruntime as ort
import pytest

from hanger.errors import ConfigError, ImageError
from hanger.events import Classification
from hanger.taxonomy import load_taxonomy
from inference import preprocess as pp
from inference import train
from inference.classifier import MODELS_DIR, Classifier, default_model_path, softmax


def test_committed_model_loads_with_onnxruntime_alone() -> None:
    path = default_model_path()
    assert path.parent == MODELS_DIR
    assert path.stat().st_size < 30 * 1024 * 1024
    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    assert inp.shape[1:] == [len(pp.VIEWS), 3, pp.IMAGE_SIZE, pp.IMAGE_SIZE]
    x = np.zeros((3, len(pp.VIEWS), 3, pp.IMAGE_SIZE, pp.IMAGE_SIZE), dtype=np.float32)
    (logits,) = sess.run(None, {inp.name: x})
    assert logits.shape == (3, len(meta["classes"]))
    assert np.isfinite(logits).all()


def test_metadata_is_consistent_with_taxonomy() -> None:
    meta = json.loads(default_model_path().with_suffix(".json").read_text(encoding="utf-8"))
    tax = load_taxonomy()
    ids = [c["taxonomy_id"] for c in meta["classes"]]
    assert len(ids) == len(set(ids))
    mapped = {t for t in tax.training_labels.values() if t is not None}
    assert set(ids) == mapped
    for c in meta["classes"]:
        assert tax.is_leaf(c["taxonomy_id"])
        assert c["label_en"] == tax.node(c["taxonomy_id"]).en
    assert 0.0 < meta["auto_approve_threshold"] <= 1.0
    assert meta["calibration"]["temperature"] > 0
    assert meta["preprocessing"] == json.loads(json.dumps(pp.params()))


def test_training_and_serving_preprocessing_give_same_scores(
    classifier: Classifier, fixture_images: dict[str, bytes]
) -> None:
    names = sorted(fixture_images)
    served = classifier.classify_batch([fixture_images[n] for n in names])
    for name, result in zip(names, served, strict=True):
        assert isinstance(result, Classification), name
        # the training pipeline's scoring input (out-of-fold, TEST and the export check)
        views = train.serving_input(fixture_images[name], classifier.image_size)
        assert views.shape == (len(pp.VIEWS), 3, pp.IMAGE_SIZE, pp.IMAGE_SIZE)
        logits = classifier.run(views[None])[0]
        probs = softmax(logits[None], classifier.temperature)[0]
        expected = {classifier.classes[i].taxonomy_id: float(p) for i, p in enumerate(probs)}
        assert result.taxonomy_id == max(expected, key=expected.__getitem__)
        for score in result.top_k:
            assert score.confidence == pytest.approx(expected[score.taxonomy_id], abs=1e-6)


def test_training_views_are_the_serving_views_at_the_training_size_then_augmentations(
    fixture_images: dict[str, bytes],
) -> None:
    import random

    from inference.images import load_image

    data = next(iter(fixture_images.values()))
    views = train.photo_views(data, random.Random(3), aug_views=2)
    assert views.shape == (len(pp.VIEWS) + 2, 3, pp.TRAIN_SIZE, pp.TRAIN_SIZE)
    np.testing.assert_array_equal(views[: len(pp.VIEWS)], pp.preprocess(load_image(data), pp.TRAIN_SIZE))
    np.testing.assert_array_equal(views, train.photo_views(data, random.Random(3), aug_views=2))
    assert not np.array_equal(views[-1], views[-2])  # two different augmentations
    cache = train.Cache(acts=np.zeros((1, len(views), 4), dtype=np.float16), ok=np.ones(1, dtype=bool),
                        serve=np.zeros((1, len(pp.VIEWS), 4), dtype=np.float16))
    assert cache.training_views().tolist() == list(range(len(views)))  # never the serving size


def test_mirrored_serving_views_follow_the_serving_views(fixture_images: dict[str, bytes]) -> None:
    data = next(iter(fixture_images.values()))
    v = len(pp.VIEWS)
    plain = train.serving_input(data, pp.IMAGE_SIZE)
    flipped = train.serving_input(data, pp.IMAGE_SIZE, flips=True)
    assert flipped.shape == (2 * v, 3, pp.IMAGE_SIZE, pp.IMAGE_SIZE)
    np.testing.assert_array_equal(flipped[:v], plain)
    np.testing.assert_array_equal(flipped[v:], plain[..., ::-1])  # left-right mirror
    assert not np.array_equal(flipped[v], flipped[0])  # a photo is not its own mirror
    serve = np.zeros((1, len(flipped), 4), dtype=np.float16)
    cache = train.Cache(acts=serve, ok=np.ones(1, dtype=bool), serve=serve, flips=True)
    assert cache.serving_views == 2 * v


def test_classification_shape(classifier: Classifier, fixture_images: dict[str, bytes]) -> None:
    (res,) = classifier.classify_batch([fixture_images["tshirt.png"]])
    assert isinstance(res, Classification)
    assert len(res.top_k) == 3
    assert res.top_k[0].taxonomy_id == res.taxonomy_id
    assert res.confidence == res.top_k[0].confidence
    confs = [s.confidence for s in res.top_k]
    assert confs == sorted(confs, reverse=True) and sum(confs) <= 1.0 + 1e-6
    assert len({s.taxonomy_id for s in res.top_k}) == 3
    assert res.model == classifier.model_info
    assert res.label_ko == load_taxonomy().node(res.taxonomy_id).ko


def test_batch_keeps_order_and_reports_bad_images(
    classifier: Classifier, fixture_images: dict[str, bytes]
) -> None:
    good = fixture_images["trousers.jpg"]
    out = classifier.classify_batch([b"", good, b"not an image", good])
    assert isinstance(out[0], ImageError) and out[0].code == "empty_image"
    assert isinstance(out[2], ImageError) and out[2].code == "not_an_image"
    assert isinstance(out[1], Classification) and out[1] == out[3]
    assert classifier.classify_batch([]) == []


def test_single_image_product_equals_batch(classifier: Classifier, fixture_images: dict[str, bytes]) -> None:
    for data in fixture_images.values():
        pred = classifier.classify_images([data])
        (single,) = classifier.classify_batch([data])
        assert pred.image_problems == ()
        assert isinstance(single, Classification)
        assert pred.classification.taxonomy_id == single.taxonomy_id
        assert pred.classification.confidence == pytest.approx(single.confidence, abs=1e-6)


def test_multi_image_product_weights_main_image(
    classifier: Classifier, fixture_images: dict[str, bytes]
) -> None:
    main, other = fixture_images["tshirt.png"], fixture_images["trousers.jpg"]
    logits = classifier.run(pp.stack([classifier.prepare(main), classifier.prepare(other)]))
    expected = softmax(((2 * logits[0] + logits[1]) / 3)[None], classifier.temperature)[0]
    pred = classifier.classify_images([main, b"\xff\xd8\xff garbage", other])
    assert pred.image_problems == ("image[1]: truncated_image",) or pred.image_problems == (
        "image[1]: not_an_image",
    )
    best = int(np.argmax(expected))
    assert pred.classification.taxonomy_id == classifier.classes[best].taxonomy_id
    assert math.isclose(pred.classification.confidence, float(expected[best]), abs_tol=1e-6)


def test_no_usable_image_raises(classifier: Classifier) -> None:
    with pytest.raises(ImageError) as one:
        classifier.classify_images([b""])
    assert one.value.code == "empty_image"
    with pytest.raises(ImageError) as many:
        classifier.classify_images([b"", b"junk"])
    assert many.value.code == "no_usable_image"
    assert "image[0]: empty_image" in many.value.message
    with pytest.raises(ImageError):
        classifier.classify_images([])


def test_tampered_model_is_refused(tmp_path: pytest.TempPathFactory) -> None:
    src = default_model_path()
    dst = tmp_path / src.name  # type: ignore[operator]
    dst.write_bytes(src.read_bytes() + b"\0")
    dst.with_suffix(".json").write_text(src.with_suffix(".json").read_text(encoding="utf-8"))
    with pytest.raises(ConfigError) as info:
        Classifier.load(dst)
    assert info.value.code == "model_sha256_mismatch"


def test_metadata_of_another_input_size_is_refused(tmp_path: pytest.TempPathFactory) -> None:
    """The classifier preprocesses at the metadata's ``image_size``; a graph built for another
    size must fail at load, not on the first photo."""
    src = default_model_path()
    dst = tmp_path / src.name  # type: ignore[operator]
    dst.write_bytes(src.read_bytes())
    meta = json.loads(src.with_suffix(".json").read_text(encoding="utf-8"))
    assert Classifier.load(src).image_size == meta["preprocessing"]["image_size"]
    meta["preprocessing"]["image_size"] += 32
    dst.with_suffix(".json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Classifier.load(dst)
    assert info.value.code == "model_metadata_mismatch"
