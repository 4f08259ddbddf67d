"""``inference.train.store_fp16``, how the shipped model keeps its weights (float16 initializers,
each cast back to float32 by a ``Cast`` node that ONNX Runtime folds at load), on a small graph:
the same answers as the float32 file, half the bytes, and the initializers it must leave alone
(small ones, integers, values float16 cannot hold) left alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from inference import train


def _graph(path: Path) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    weights = {
        "w1": rng.normal(0, 0.1, (64, 256)).astype(np.float32),  # converted
        "b1": rng.normal(0, 0.1, (256,)).astype(np.float32),  # converted
        "w2": rng.normal(0, 0.1, (256, 10)).astype(np.float32),  # converted
        "tiny": rng.normal(0, 1, (10,)).astype(np.float32),  # < 16 values: kept
        "huge": np.full((16,), 1e5, dtype=np.float32),  # beyond float16: kept
        "shape": np.array([-1, 10], dtype=np.int64),  # not float: kept
    }
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"]),
        helper.make_node("Add", ["h", "b1"], ["hb"]),
        helper.make_node("Relu", ["hb"], ["r"]),
        helper.make_node("MatMul", ["r", "w2"], ["o"]),
        helper.make_node("Add", ["o", "tiny"], ["ot"]),
        helper.make_node("ReduceMean", ["huge"], ["m"], keepdims=0),
        helper.make_node("Add", ["ot", "m"], ["om"]),
        helper.make_node("Reshape", ["om", "shape"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 64])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 10])],
        [numpy_helper.from_array(a, name) for name, a in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return weights


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out: np.ndarray = sess.run(None, {"x": x})[0]
    return out


def test_float16_weights_answer_like_float32_in_half_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    _graph(path)
    x = np.random.default_rng(1).normal(0, 1, (32, 64)).astype(np.float32)
    expected = _run(path, x)
    size32 = path.stat().st_size

    assert train.store_fp16(path) == 3

    got = _run(path, x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-3 * float(np.abs(expected).max()))
    assert (got.argmax(1) == expected.argmax(1)).mean() >= 0.95
    assert path.stat().st_size < 0.6 * size32

    model = onnx.load(str(path))
    kinds = {init.name: init.data_type for init in model.graph.initializer}
    assert kinds == {"w1__fp16": TensorProto.FLOAT16, "b1__fp16": TensorProto.FLOAT16,
                     "w2__fp16": TensorProto.FLOAT16, "tiny": TensorProto.FLOAT,
                     "huge": TensorProto.FLOAT, "shape": TensorProto.INT64}
    casts = [n for n in model.graph.node if n.op_type == "Cast"]
    assert sorted((n.input[0], n.output[0]) for n in casts) == [
        ("b1__fp16", "b1"), ("w1__fp16", "w1"), ("w2__fp16", "w2")]
    assert all(helper.get_attribute_value(n.attribute[0]) == TensorProto.FLOAT for n in casts)


def test_shipped_model_stores_its_weights_as_float16() -> None:
    from inference.classifier import default_model_path

    model = onnx.load(str(default_model_path()))
    halves = [i for i in model.graph.initializer if i.data_type == TensorProto.FLOAT16]
    casts = {n.output[0] for n in model.graph.node if n.op_type == "Cast"}
    assert halves, "the shipped model was exported without --fp16-weights"
    assert {i.name.removesuffix("__fp16") for i in halves} <= casts
