"""``hanger classify IMAGE...``, ``hanger model train``, ``hanger model quantize``,
``hanger model info``.

:func:`register` adds the subcommands to the ``hanger`` CLI's subparsers; each sets
``func=<handler>`` (``handler(args) -> int`` exit code) with ``parser.set_defaults``. Also runnable
alone: ``python -m inference.cli classify photo.jpg``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from hanger.errors import ConfigError, ImageError


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    classify = subparsers.add_parser("classify", help="classify clothing photos")
    classify.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    classify.add_argument("--json", action="store_true", help="one JSON object per image")
    classify.add_argument("--model", type=Path, default=None, help="ONNX model (default: committed)")
    classify.add_argument("--threads", type=int, default=None, help="ORT intra-op threads")
    classify.set_defaults(func=cmd_classify)

    model = subparsers.add_parser("model", help="train or describe the clothing classifier")
    model_sub = model.add_subparsers(dest="model_command", required=True)
    train = model_sub.add_parser("train", help="train and export the classifier (train extra)")
    from inference.train import add_arguments

    add_arguments(train)
    train.set_defaults(func=cmd_train)
    quantize = model_sub.add_parser(
        "quantize", help="make the int8 variant of a model, for throughput (onnx, train extra)")
    from inference.quantize import add_arguments as add_quantize_arguments

    add_quantize_arguments(quantize)
    quantize.set_defaults(func=cmd_quantize)
    info = model_sub.add_parser("info", help="show the committed model's metadata")
    info.add_argument("--model", type=Path, default=None)
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=cmd_info)


def cmd_classify(args: argparse.Namespace) -> int:
    from inference.classifier import Classifier

    # Wide enough not to wrap file paths when piped; a terminal keeps its own width.
    out = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 160)
    try:
        clf = Classifier.load(args.model, intra_op_threads=args.threads)
    except ConfigError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return 2
    payloads: list[bytes | ImageError] = []
    for path in args.images:
        try:
            payloads.append(path.read_bytes())
        except OSError as exc:
            payloads.append(ImageError("unreadable_file", f"{path}: {exc.strerror or exc}"))
    readable = [p for p in payloads if isinstance(p, bytes)]
    results = iter(clf.classify_batch(readable))
    merged = [p if isinstance(p, ImageError) else next(results) for p in payloads]

    failed = 0
    table = Table(title=f"{clf.model_info.name} {clf.model_info.version}")
    for col in ("image", "label", "confidence", "top-3"):
        table.add_column(col)
    for path, res in zip(args.images, merged, strict=True):
        if isinstance(res, ImageError):
            failed += 1
            print(f"{path}: {res.code}: {res.message}", file=sys.stderr)
            if args.json:
                print(json.dumps({"image": str(path), "error": res.code, "message": res.message}))
            continue
        top3 = [
            {"taxonomy_id": s.taxonomy_id, "label_en": s.label_en, "confidence": s.confidence}
            for s in res.top_k
        ]
        if args.json:
            obj = {
                "image": str(path),
                "label_en": res.label_en,
                "label_ko": res.label_ko,
                "taxonomy_id": res.taxonomy_id,
                "confidence": round(res.confidence, 6),
                "top3": top3,
            }
            print(json.dumps(obj, ensure_ascii=False))
        else:
            table.add_row(
                str(path),
                f"{res.label_en} / {res.label_ko} ({res.taxonomy_id})",
                f"{res.confidence:.3f}",
                ", ".join(f"{s.label_en} {s.confidence:.2f}" for s in res.top_k),
            )
    if not args.json and table.row_count:
        out.print(table)
    return 1 if failed else 0


def cmd_train(args: argparse.Namespace) -> int:
    from inference.train import run

    return _needs_train_extra("training", run, args)


def cmd_quantize(args: argparse.Namespace) -> int:
    from inference.quantize import run

    return _needs_train_extra("quantizing", run, args)


def _needs_train_extra(doing: str, run: Callable[[argparse.Namespace], int],
                       args: argparse.Namespace) -> int:
    """``run(args)``, or a clear exit 2 when the train extra (torch, onnx) is not installed."""
    try:
        return run(args)
    except ModuleNotFoundError as exc:
        print(f"{doing} needs the 'train' extra (pip install -e '.[train]'): {exc}", file=sys.stderr)
        return 2


def cmd_info(args: argparse.Namespace) -> int:
    from inference.classifier import Classifier

    try:
        clf = Classifier.load(args.model)
    except ConfigError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return 2
    meta = clf.metadata
    if args.json:
        print(json.dumps(meta, indent=2, ensure_ascii=False))
        return 0
    console = Console()
    table = Table(title=f"{meta['name']} {meta['version']}", show_header=False)
    table.add_row("sha256", meta["sha256"])
    table.add_row("classes", ", ".join(f"{c['taxonomy_id']} {c['label_en']}" for c in meta["classes"]))
    table.add_row("temperature", f"{clf.temperature:.3f}")
    table.add_row("auto_approve_threshold", f"{clf.auto_approve_threshold:.4f}")
    test = meta.get("auto_approve", {}).get("test") or {}
    if test:
        table.add_row(
            "held-out coverage / precision",
            f"{test.get('coverage', 0):.1%} / {test.get('precision', 0):.1%}",
        )
    for key, value in (meta.get("metrics") or {}).items():
        if isinstance(value, float):
            table.add_row(key, f"{value:.4f}")
    console.print(table)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.cli")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    rc: int = args.func(args)
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
