"""``hanger model quantize``: an int8 variant of a committed model, for throughput.

ONNX Runtime's static QDQ quantization (``onnxruntime.quantization``): every ``Conv``/``Gemm`` runs
on int8 weights (per output channel) and int8 activations whose ranges are calibrated on TRAIN
photos (never TEST sellers). Weights are 7-bit by default (``reduce_range``): ORT's u8×s8 products
can saturate on x86 CPUs without VNNI, so 7 bits are exact everywhere. ``--weight-bits 8`` keeps
all 8 bits (closer to the full model) and writes ``requires_cpu_flags`` into the metadata, so that
:func:`inference.classifier.check_cpu` refuses the file on a CPU without VNNI.

The variant is written beside the model as ``clothing-<version>-int8.onnx`` with its own metadata:
the full model's classes, preprocessing, temperature and auto-approval threshold (the variant
answers the same question with the same meaning of confidence), its own sha256, version
``<version>+int8``, and a ``quantization`` block with how it was made and what it gives on TEST next
to the full model (top-1, agreement, auto-approved precision at the full model's threshold).
:func:`inference.classifier.default_model_path` never picks a variant; serve it with
``HANGER_MODEL_PATH``. docs/model/EXPERIMENTS.md #18 has the measurements and the rule.

Needs the ``onnx`` package (train extra) to make the file; serving it needs onnxruntime only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inference import train

CALIBRATION_PHOTOS = 256
SEED = 0
VNNI = ("avx512_vnni", "avx_vnni")  # /proc/cpuinfo names of the x86 int8 dot-product extensions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True,
                        help="the labelled photos (images.csv + images/), e.g. ../shared/data/clothing")
    parser.add_argument("--model", type=Path, default=None, help="full model (default: committed)")
    parser.add_argument("--photos", type=int, default=CALIBRATION_PHOTOS,
                        help="TRAIN photos the activation ranges are calibrated on")
    parser.add_argument("--weight-bits", type=int, choices=(7, 8), default=7,
                        help="8: closer to the full model, but the file then loads only on CPUs "
                             "with VNNI (see the module docstring)")
    parser.add_argument("--out", type=Path, default=None,
                        help="variant file (default: beside the model, <stem>-int8.onnx)")


def run(args: argparse.Namespace) -> int:
    from inference.classifier import default_model_path, int8_variant_path

    model = args.model or default_model_path()
    meta = json.loads(model.with_suffix(".json").read_text(encoding="utf-8"))
    out = args.out or int8_variant_path(model)
    samples = train.read_samples(args.data)
    size = int(meta["preprocessing"]["image_size"])
    calibration = calibration_photos(samples, args.photos)
    with tempfile.TemporaryDirectory() as scratch:
        full32 = Path(scratch) / "full32.onnx"
        full32.write_bytes(float32_storage(model.read_bytes()))
        quantize(full32, out, (_views(args.data, s, size) for s in calibration),
                 full_range=args.weight_bits == 8)
    test = [s for s in samples if s.test]
    report = compare_on(model, out, test, args.data, meta)
    variant = variant_metadata(meta, out, calibration, report, args.weight_bits)
    out.with_suffix(".json").write_text(json.dumps(variant, indent=2, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    print(json.dumps({"variant": str(out), **variant["quantization"]["test"]}, indent=2))
    return 0


def calibration_photos(samples: Sequence[train.Sample], n: int) -> list[train.Sample]:
    """``n`` TRAIN photos (no TEST seller), a seeded choice: the same photos every run."""
    pool = [s for s in samples if not s.test]
    return random.Random(SEED).sample(pool, min(n, len(pool)))  # noqa: S311


def _views(data: Path, sample: train.Sample, size: int) -> Any:
    return train.serving_input((data / "images" / f"{sample.image}.jpg").read_bytes(), size)[None]


def float32_storage(model_bytes: bytes) -> bytes:
    """The inverse of :func:`inference.train.store_fp16`: every float16 initializer that a ``Cast``
    turns into float32 becomes that float32 initializer again (under the Cast's output name), and
    those Casts go. The quantizer calibrates and scales float32 weights; the values are the
    float16-rounded ones the full model computes with."""
    import onnx
    from onnx import TensorProto, numpy_helper

    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    halves = {i.name: i for i in graph.initializer if i.data_type == TensorProto.FLOAT16}
    folded: dict[str, Any] = {}  # a Cast's output name → the float32 initializer it becomes
    used: set[str] = set()  # the float16 initializers those Casts read
    keep_nodes = []
    for node in graph.node:
        to = next((a.i for a in node.attribute if a.name == "to"), None)
        if node.op_type == "Cast" and node.input[0] in halves and to == TensorProto.FLOAT:
            array = numpy_helper.to_array(halves[node.input[0]]).astype(np.float32)
            folded[node.output[0]] = numpy_helper.from_array(array, node.output[0])
            used.add(node.input[0])
        else:
            keep_nodes.append(node)
    keep_inits = [i for i in graph.initializer if i.name not in used]
    del graph.node[:]
    graph.node.extend(keep_nodes)
    del graph.initializer[:]
    graph.initializer.extend([*keep_inits, *folded.values()])
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def quantize(full32: Path, out: Path, views: Iterator[Any], input_name: str = "views",
             full_range: bool = False) -> None:
    """Static QDQ int8 of ``full32`` (float32 storage), activation ranges from ``views`` (batches
    for the model's input ``input_name``); 7-bit weights unless ``full_range``."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def get_next(self) -> dict[str, Any] | None:
            batch = next(views, None)
            return None if batch is None else {input_name: batch}

    prepared = full32.with_name("prepared.onnx")
    quant_pre_process(str(full32), str(prepared))
    quantize_static(
        str(prepared), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
        reduce_range=not full_range, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
    )


def compare_on(full: Path, variant: Path, samples: Sequence[train.Sample], data: Path,
               meta: dict[str, Any]) -> dict[str, Any]:
    """Both files on ``samples`` through the serving path: top-1 (all, 10 main classes), how often
    they agree, and what the full model's temperature and threshold auto-approve with each."""
    size = int(meta["preprocessing"]["image_size"])
    classes = [c["taxonomy_id"] for c in meta["classes"]]
    y = np.array([classes.index(s.taxonomy_id) for s in samples], dtype=np.int64)
    main = np.array([s.label in train.MAIN_LABELS for s in samples])
    temperature = float(meta["calibration"]["temperature"])
    threshold = float(meta["auto_approve_threshold"])
    logits = {name: train.onnx_logits(path, samples, data, size)
              for name, path in (("full", full), ("variant", variant))}
    report: dict[str, Any] = {"photos": len(samples), "main10_photos": int(main.sum())}
    for name, z in logits.items():
        approved = train.coverage_at(train.softmax(z, temperature), y, threshold)
        report[name] = {"top1_all": train.accuracy(z, y), "top1_main10": train.accuracy(z, y, main),
                        "auto_approve": approved}
    report["top1_agreement"] = float((logits["full"].argmax(1) == logits["variant"].argmax(1)).mean())
    report["max_abs_logit_diff"] = float(np.abs(logits["full"] - logits["variant"]).max())
    return report


def variant_metadata(meta: dict[str, Any], out: Path, calibration: Sequence[train.Sample],
                     test: dict[str, Any], weight_bits: int = 7) -> dict[str, Any]:
    """The full model's metadata, with what differs for the variant: its file, hash and version,
    its own measured TEST figures in ``metrics`` and ``auto_approve.test`` (the full model's
    cross-validated figures are not the variant's, so they are not carried over), and how it was
    made."""
    auto_approve = {**meta["auto_approve"], "test": test["variant"]["auto_approve"],
                    "fitted_on": f"the full model's ({meta['onnx_file']}): "
                                 + str(meta["auto_approve"]["fitted_on"])}
    auto_approve.pop("oof", None)
    auto_approve.pop("pooled", None)
    needs = {"requires_cpu_flags": list(VNNI)} if weight_bits == 8 else {}
    return {
        **meta,
        **needs,
        "version": f"{meta['version']}+int8",
        "metrics": {"onnx_test_main10": test["variant"]["top1_main10"],
                    "onnx_test_all": test["variant"]["top1_all"]},
        "auto_approve": auto_approve,
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "onnx_file": out.name,
        "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "quantization": {
            "of": {"onnx_file": meta["onnx_file"], "sha256": meta["sha256"]},
            "method": f"onnxruntime static QDQ: Conv/Gemm int8, per-channel s8 weights "
                      f"({weight_bits}-bit), u8 activations, MinMax ranges",
            "weight_bits": weight_bits,
            "calibration_photos": len(calibration),
            "calibration_digest": hashlib.sha256(
                "\n".join(s.image for s in calibration).encode()).hexdigest()[:16],
            "test": test,
        },
    }
