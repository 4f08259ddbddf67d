"""Serving: classify product photos with the committed ONNX model (ONNX Runtime only).

One product = one or more photos, main image first. :meth:`Classifier.classify_images` decodes
each photo (:func:`inference.images.load_image`), preprocesses it into the model's two views
(:func:`inference.preprocess.preprocess`), runs them as one ORT batch and combines the photos:

    logits(product) = (2 · logits(main) + Σ logits(other usable photos)) / (2 + #others)
    confidence      = softmax(logits(product) / T)

The main image counts double because it is the one that shows the whole garment (detail photos are
close-ups, labels, backs); with one photo this is exactly the single-image score the threshold was
calibrated on. If the main photo is unusable, the first usable one takes its weight. Photos that
fail to load are listed in ``Prediction.image_problems`` (``"image[1]: truncated_image"``); if
none is usable, :class:`hanger.errors.ImageError` is raised.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from hanger.errors import ConfigError, ImageError
from hanger.events import Classification, ClassScore, ModelInfo
from hanger.taxonomy import load_taxonomy
from inference import preprocess as pp
from inference.images import load_image

MODELS_DIR = Path(__file__).resolve().parent / "models"
TOP_K = 3
MAIN_IMAGE_WEIGHT = 2.0
BATCH_SIZE = 16

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Prediction:
    classification: Classification
    image_problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class _ClassInfo:
    taxonomy_id: str
    label_en: str
    label_ko: str


def default_model_path() -> Path:
    """The committed model: the highest version of ``inference/models/clothing-<version>.onnx``
    (never a variant such as ``clothing-<version>-int8.onnx``: those are chosen explicitly)."""
    candidates = sorted((p for p in MODELS_DIR.glob("clothing-*.onnx") if _RELEASE.fullmatch(p.stem)),
                        key=lambda p: _version_key(p.stem))
    if not candidates:
        raise ConfigError("no_model", f"no clothing-*.onnx model in {MODELS_DIR}")
    return candidates[-1]


def int8_variant_path(model: Path) -> Path:
    """Where the int8 variant of ``model`` lives (``hanger model quantize`` writes it there):
    ``clothing-<version>-int8.onnx`` beside it."""
    return model.with_name(f"{model.stem}-int8.onnx")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU feature flags Linux reports (``/proc/cpuinfo``); empty where it does not."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def check_cpu(path: Path, any_of: Sequence[str] | None) -> None:
    """A model whose metadata lists ``requires_cpu_flags`` (an int8 variant with full 8-bit
    weights: without VNNI, ONNX Runtime's u8×s8 products can saturate and the answers would depend
    on the machine) loads only where one of them is present."""
    if any_of and not set(any_of) & cpu_flags():
        raise ConfigError(
            "model_needs_cpu",
            f"{path.name} needs a CPU with one of {', '.join(any_of)} (its int8 answers are exact "
            "only there); unset HANGER_MODEL_PATH to serve the full model",
        )


_RELEASE = re.compile(r"clothing-\d+(?:\.\d+)*")


def _version_key(stem: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", stem.removeprefix("clothing-")))


def softmax(logits: F32, temperature: float = 1.0) -> F32:
    z = logits.astype(np.float64) / temperature
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    out: F32 = (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
    return out


class Classifier:
    """An ORT session over the committed model; thread-safe (ORT ``run`` may run concurrently)."""

    def __init__(
        self,
        session: ort.InferenceSession,
        metadata: dict[str, Any],
        model_info: ModelInfo,
    ) -> None:
        self._session = session
        self.metadata = metadata
        self.model_info = model_info
        self.temperature = float(metadata["calibration"]["temperature"])
        self.auto_approve_threshold = float(metadata["auto_approve_threshold"])
        self._input = session.get_inputs()[0].name
        tax = load_taxonomy()
        classes: list[_ClassInfo] = []
        for c in metadata["classes"]:
            tid = c["taxonomy_id"]
            node = tax.nodes.get(tid)
            if node is None:
                raise ConfigError("model_taxonomy_mismatch", f"model class {tid} not in taxonomy")
            classes.append(_ClassInfo(tid, node.en, node.ko))
        self.classes = tuple(classes)
        n_out = session.get_outputs()[0].shape[-1]
        if isinstance(n_out, int) and n_out != len(classes):
            raise ConfigError("model_metadata_mismatch", f"{n_out} outputs, {len(classes)} classes")
        self.image_size = int(metadata.get("preprocessing", {}).get("image_size", pp.TRAIN_SIZE))
        side = session.get_inputs()[0].shape[-1]
        if isinstance(side, int) and side != self.image_size:
            raise ConfigError("model_metadata_mismatch",
                              f"graph input is {side} px, metadata says {self.image_size} px")

    @classmethod
    def load(cls, model_path: Path | None = None, *, intra_op_threads: int | None = None) -> Classifier:
        """Load an ONNX model and its ``.json`` metadata (default: the committed model).

        ``intra_op_threads`` defaults to ``min(2, cpu count)``: Lite0 at batch 16 gains little
        beyond 2 threads, and the stream workers run several classifiers side by side.
        """
        path = Path(model_path) if model_path is not None else default_model_path()
        meta_path = path.with_suffix(".json")
        try:
            raw = path.read_bytes()
            metadata = json.loads(meta_path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError("no_model", f"cannot read model {path}: {exc}") from exc
        sha = hashlib.sha256(raw).hexdigest()
        if metadata.get("sha256") != sha:
            raise ConfigError(
                "model_sha256_mismatch",
                f"{path.name} sha256 {sha} != metadata {metadata.get('sha256')}",
            )
        check_cpu(path, metadata.get("requires_cpu_flags"))
        so = ort.SessionOptions()
        so.intra_op_num_threads = intra_op_threads or min(2, os.cpu_count() or 1)
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(raw, so, providers=["CPUExecutionProvider"])
        info = ModelInfo(name=metadata["name"], version=metadata["version"], sha256=sha)
        return cls(session, metadata, info)

    # ------------------------------------------------------------------------------------------

    def run(self, views: F32) -> F32:
        """Raw model: ``(N, 2, 3, S, S)`` float32 (S = ``image_size``) -> logits ``(N, C)``, in
        chunks."""
        out: list[F32] = []
        for s in range(0, len(views), BATCH_SIZE):
            (logits,) = self._session.run(None, {self._input: views[s : s + BATCH_SIZE]})
            out.append(np.asarray(logits, dtype=np.float32))
        if not out:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        return np.concatenate(out)

    def prepare(self, data: bytes) -> F32:
        """Decode + preprocess one photo (raises ImageError)."""
        return pp.preprocess(load_image(data), self.image_size)

    def classification(self, logits: F32) -> Classification:
        probs = softmax(logits, self.temperature)
        order = np.argsort(-probs, kind="stable")
        top = [self._score(int(i), float(probs[i])) for i in order[:TOP_K]]
        best = top[0]
        return Classification(
            taxonomy_id=best.taxonomy_id,
            label_en=best.label_en,
            label_ko=best.label_ko,
            confidence=best.confidence,
            top_k=tuple(top),
            model=self.model_info,
        )

    def _score(self, i: int, p: float) -> ClassScore:
        c = self.classes[i]
        return ClassScore(
            taxonomy_id=c.taxonomy_id,
            label_en=c.label_en,
            label_ko=c.label_ko,
            confidence=min(1.0, max(0.0, p)),
        )

    # ------------------------------------------------------------------------------------------

    def classify_batch(self, images: Sequence[bytes]) -> list[Classification | ImageError]:
        """One result per photo (each photo on its own), batched through ORT."""
        slots: list[Classification | ImageError | None] = []
        tensors: list[F32] = []
        where: list[int] = []
        for i, data in enumerate(images):
            try:
                tensors.append(self.prepare(data))
            except ImageError as exc:
                slots.append(exc)
                continue
            slots.append(None)
            where.append(i)
        logits = self.run(pp.stack(tensors, self.image_size))
        for j, i in enumerate(where):
            slots[i] = self.classification(logits[j])
        return [r for r in slots if r is not None]

    def classify_images(self, images: Sequence[bytes]) -> Prediction:
        """Classify ONE product from its photos (main image first); see the module docstring."""
        if not images:
            raise ImageError("no_images", "product has no images")
        tensors: list[F32] = []
        problems: list[str] = []
        errors: list[ImageError] = []
        for i, data in enumerate(images):
            try:
                tensors.append(self.prepare(data))
            except ImageError as exc:
                problems.append(f"image[{i}]: {exc.code}")
                errors.append(exc)
        if not tensors:
            if len(errors) == 1:
                raise errors[0]
            raise ImageError("no_usable_image", "; ".join(problems))
        logits = self.run(pp.stack(tensors, self.image_size))
        weights = np.ones(len(logits), dtype=np.float32)
        weights[0] = MAIN_IMAGE_WEIGHT
        combined = (weights[:, None] * logits).sum(axis=0) / weights.sum()
        return Prediction(self.classification(combined), tuple(problems))
