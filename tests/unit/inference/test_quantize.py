"""``inference.quantize`` on a small graph (the real model needs the photos): undoing the float16
storage, the int8 QDQ file, the variant's metadata, and that a variant is never the default model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from inference import classifier, quantize, train
from tests.unit.inference.test_fp16_weights import _graph


def _run(model: Path | bytes, x: np.ndarray) -> np.ndarray:
    source = str(model) if isinstance(model, Path) else model
    out: np.ndarray = ort.InferenceSession(source, providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    return out


def test_float32_storage_undoes_store_fp16_and_answers_the_same(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    weights = _graph(path)
    train.store_fp16(path)
    x = np.random.default_rng(2).normal(0, 1, (8, 64)).astype(np.float32)

    folded = quantize.float32_storage(path.read_bytes())

    np.testing.assert_array_equal(_run(folded, x), _run(path, x))
    model = onnx.load_from_string(folded)
    assert not [n for n in model.graph.node if n.op_type == "Cast"]
    inits = {i.name: i for i in model.graph.initializer}
    assert set(inits) == set(weights)
    assert all(inits[name].data_type == TensorProto.FLOAT for name in ("w1", "b1", "w2"))
    stored = onnx.numpy_helper.to_array(inits["w1"])
    np.testing.assert_array_equal(stored, weights["w1"].astype(np.float16).astype(np.float32))


def _mlp(path: Path) -> None:
    """x (n, 64) → Conv-free two-layer perceptron → logits (n, 10): what quantization changes."""
    rng = np.random.default_rng(0)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("MatMul", ["r", "w2"], ["logits"])],
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 64])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 10])],
        [numpy_helper.from_array(rng.normal(0, 0.2, (64, 128)).astype(np.float32), "w1"),
         numpy_helper.from_array(rng.normal(0, 0.2, (128, 10)).astype(np.float32), "w2")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_int8_variant_is_quantized_and_close_to_the_float_model(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    _mlp(path)
    rng = np.random.default_rng(3)
    calibration = (rng.normal(0, 1, (16, 64)).astype(np.float32) for _ in range(8))
    out = tmp_path / "m-int8.onnx"

    quantize.quantize(path, out, calibration, input_name="x")

    ops = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    x = rng.normal(0, 1, (64, 64)).astype(np.float32)
    expected, got = _run(path, x), _run(out, x)
    assert not np.array_equal(got, expected)  # it really computes in int8
    assert np.abs(got - expected).max() < 0.05 * np.abs(expected).max()
    assert (got.argmax(1) == expected.argmax(1)).mean() >= 0.9


def test_variant_metadata_carries_only_its_own_measurements(tmp_path: Path) -> None:
    out = tmp_path / "clothing-9.9.9-int8.onnx"
    out.write_bytes(b"variant")
    meta = {"version": "9.9.9", "onnx_file": "clothing-9.9.9.onnx", "sha256": "full",
            "metrics": {"cv_main10": 0.9, "test_main10": 0.92},
            "auto_approve": {"fitted_on": "pooled", "pooled": {}, "oof": {}, "test": {"coverage": 0.5}},
            "classes": ["c"], "auto_approve_threshold": 0.98}
    approved = {"threshold": 0.98, "coverage": 0.4, "precision": 0.995, "n_selected": 4}
    test = {"variant": {"top1_all": 0.89, "top1_main10": 0.91, "auto_approve": approved}}
    samples = [train.Sample("a", "1", "T-Shirt", "T101", False, False)]

    variant = quantize.variant_metadata(meta, out, samples, test)

    assert variant["version"] == "9.9.9+int8" and variant["onnx_file"] == out.name
    assert variant["sha256"] != "full" and variant["classes"] == ["c"]
    assert variant["auto_approve_threshold"] == 0.98  # the full model's meaning of confidence
    assert variant["metrics"] == {"onnx_test_main10": 0.91, "onnx_test_all": 0.89}
    assert variant["auto_approve"]["test"] == approved
    assert "pooled" not in variant["auto_approve"] and "oof" not in variant["auto_approve"]
    assert variant["quantization"]["of"] == {"onnx_file": "clothing-9.9.9.onnx", "sha256": "full"}


def test_a_variant_is_never_the_default_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("clothing-1.3.0", "clothing-1.10.0-int8", "clothing-1.10.0", "clothing-2.0.0-int8"):
        (tmp_path / f"{name}.onnx").write_bytes(b"")
    monkeypatch.setattr(classifier, "MODELS_DIR", tmp_path)
    assert classifier.default_model_path().name == "clothing-1.10.0.onnx"
