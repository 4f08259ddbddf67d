"""The committed int8 variant (``clothing-<version>-int8.onnx``, opt-in with HANGER_MODEL_PATH):
made from the committed model, described by its own metadata, guarded to the CPUs where its int8
answers are exact, and answering like the full model. docs/model/EXPERIMENTS.md #18b."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from hanger.errors import ConfigError
from hanger.events import Classification
from inference import classifier as clf_module
from inference.classifier import Classifier, default_model_path, int8_variant_path


def _variant() -> Path:
    path = int8_variant_path(default_model_path())
    assert path.exists(), "no int8 variant of the committed model"
    return path


def test_variant_is_of_the_committed_model_and_keeps_its_meaning_of_confidence() -> None:
    path = _variant()
    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    full = json.loads(default_model_path().with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert meta["quantization"]["of"] == {"onnx_file": full["onnx_file"], "sha256": full["sha256"]}
    assert meta["version"] == f"{full['version']}+int8"
    for key in ("classes", "preprocessing", "calibration", "auto_approve_threshold", "input", "output"):
        assert meta[key] == full[key], key
    assert path.stat().st_size < default_model_path().stat().st_size
    # the figures that admitted it (EXPERIMENTS #18b), as its own metadata states them
    test = meta["quantization"]["test"]
    assert test["variant"]["top1_main10"] >= test["full"]["top1_main10"] - 0.005
    assert test["top1_agreement"] >= 0.98
    assert test["variant"]["auto_approve"]["precision"] >= 0.99


def test_variant_answers_like_the_full_model_where_it_may_load(
    classifier: Classifier, fixture_images: dict[str, bytes]
) -> None:
    meta = json.loads(_variant().with_suffix(".json").read_text(encoding="utf-8"))
    needs = set(meta.get("requires_cpu_flags") or ())
    if needs and not needs & clf_module.cpu_flags():  # this CPU may not serve it: refused
        with pytest.raises(ConfigError) as refused:
            Classifier.load(_variant())
        assert refused.value.code == "model_needs_cpu"
        return
    variant = Classifier.load(_variant(), intra_op_threads=1)
    assert variant.model_info.version.endswith("+int8")
    names = sorted(fixture_images)
    full = classifier.classify_batch([fixture_images[n] for n in names])
    quick = variant.classify_batch([fixture_images[n] for n in names])
    for name, a, b in zip(names, full, quick, strict=True):
        assert isinstance(a, Classification) and isinstance(b, Classification), name
        assert b.taxonomy_id == a.taxonomy_id, name
        assert b.confidence == pytest.approx(a.confidence, abs=0.1), name


def test_a_model_that_needs_vnni_is_refused_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clf_module, "cpu_flags", lambda: frozenset({"sse4_2", "avx2", "avx512f"}))
    with pytest.raises(ConfigError) as refused:
        clf_module.check_cpu(Path("m-int8.onnx"), ["avx512_vnni", "avx_vnni"])
    assert refused.value.code == "model_needs_cpu"
    assert "HANGER_MODEL_PATH" in refused.value.message
    monkeypatch.setattr(clf_module, "cpu_flags", lambda: frozenset({"avx2", "avx_vnni"}))
    clf_module.check_cpu(Path("m-int8.onnx"), ["avx512_vnni", "avx_vnni"])
    clf_module.check_cpu(Path("m.onnx"), None)  # the full model needs nothing


def test_loading_the_variant_checks_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    meta = json.loads(_variant().with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["requires_cpu_flags"] == ["avx512_vnni", "avx_vnni"]  # 8-bit weights (#18b)
    monkeypatch.setattr(clf_module, "cpu_flags", lambda: frozenset({"avx2"}))
    with pytest.raises(ConfigError) as refused:
        Classifier.load(_variant())
    assert refused.value.code == "model_needs_cpu"


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC\n"
                       "flags\t\t: fpu sse2 avx2 avx512_vnni\n\nprocessor\t: 1\n")
    assert clf_module.cpu_flags(cpuinfo) == {"fpu", "sse2", "avx2", "avx512_vnni"}
    assert clf_module.cpu_flags(tmp_path / "absent") == frozenset()
