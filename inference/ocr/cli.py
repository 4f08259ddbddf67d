"""``hanger attributes IMAGE...``: read care-label photos from the command line.

A table per image for people; ``--json`` prints a JSON array (one object per image: material as
{part, fiber, percent}, manufactured YYYY-MM, size, country, care, prohibited words, keywords, each
value with its confidence and box). Exit code 1 when any image could not be read. Also runnable
alone: ``python -m inference.ocr.cli attributes label.jpg``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hanger.errors import ConfigError, ImageError


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    attributes = subparsers.add_parser(
        "attributes", help="read care-label photos: material, 제조연월, size, country, care, "
        "prohibited words, keywords")
    attributes.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    attributes.add_argument("--json", action="store_true", help="a JSON array, one object per image")
    attributes.add_argument("--role", choices=("label", "detail", "main"), default="label",
                            help="the images' role (label: always extract fields; detail/main: only "
                            "when the text looks like a label)")
    attributes.add_argument("--timeout", type=float, default=None,
                            help="seconds per image (default: HANGER_OCR_TIMEOUT_S)")
    attributes.add_argument("--words", type=Path, default=None,
                            help="prohibited word list, one a line (default: the shipped list or "
                            "HANGER_OCR_PROHIBITED_WORDS_PATH)")
    attributes.set_defaults(func=cmd_attributes)


def _settings_value(args: argparse.Namespace, name: str, default: Any) -> Any:
    settings = getattr(args, "settings", None)
    return getattr(settings, name, default) if settings is not None else default


def cmd_attributes(args: argparse.Namespace) -> int:
    from inference.images import load_image
    from inference.ocr import LabelReader
    from inference.ocr.screening import parse_word_list

    timeout = args.timeout if args.timeout is not None else _settings_value(args, "ocr_timeout_s", 10.0)
    words_path = args.words or _settings_value(args, "ocr_prohibited_words_path", None)
    try:
        words = parse_word_list(Path(words_path).read_text(encoding="utf-8")) if words_path else None
        reader = LabelReader(timeout_s=timeout, prohibited_words=words)
    except OSError as exc:
        print(f"bad_config: prohibited word list {words_path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return 2

    results: list[dict[str, Any]] = []
    failed = 0
    for path in args.images:
        try:
            image = load_image(path.read_bytes(), draft_size=None)  # OCR wants every pixel
        except OSError as exc:
            failed += 1
            results.append({"image": str(path), "error": "unreadable_file",
                            "message": f"{path}: {exc.strerror or exc}"})
            continue
        except ImageError as exc:
            failed += 1
            results.append({"image": str(path), "error": exc.code, "message": exc.message})
            continue
        reading = reader.read(image, role=args.role)
        results.append({"image": str(path), **reading.to_dict()})

    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        _print_tables(results)
    for r in results:
        if "error" in r:
            print(f"{r['image']}: {r['error']}: {r['message']}", file=sys.stderr)
    return 1 if failed else 0


def _fmt(field: Any) -> tuple[str, str]:
    if not field:
        return "", ""
    return str(field["value"]), f"{field['confidence']:.2f}"


def _print_tables(results: list[dict[str, Any]]) -> None:
    from hanger.cli import _table

    for r in results:
        if "error" in r:
            continue
        rows = [
            ("material", *_fmt(r["material_text"])),
            ("manufactured", *_fmt(r["manufactured"])),
            ("size", *_fmt(r["size"])),
            ("country", *_fmt(r["country"])),
            ("care", *_fmt(r["care"])),
            ("prohibited", ", ".join(f"{h['word']} ({h['matched_text']})" for h in r["prohibited"]), ""),
            ("keywords", ", ".join(r["keywords"][:30]), ""),
        ]
        note = " (timed out: partial)" if r["timed_out"] else ""
        title = f"{r['image']} — {'label' if r['is_label'] else 'not a label'}, {r['seconds']:.1f} s{note}"
        _table(title, ("field", "value", "confidence"), rows)
