"""Measure the label reader on generated tags: ``python -m tests.labelgen.evaluate --seeds 10000-10299``.

Prints per-field accuracy (exact match of the normalised value; material = the whole set of
(part, fiber, percent)), prohibited-word catch rate (overall and per disguise) and false flags,
rows the jamo glyph reader read again, seconds per image, and the errors of each field (seed,
layout, expected, got). ``--json FILE`` writes the same as data; ``--no-jamo`` reads without the
glyph reader.
Tune on seeds 0-199; report on 10000-10299, which tuning never looks at.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from inference.ocr import LabelReader, LabelReading
from tests.labelgen.generate import generate

FIELDS = ("material", "manufactured", "size", "country")


@dataclass
class Result:
    seed: int
    layout: str
    seconds: float
    expected: dict[str, str]
    got: dict[str, str]
    planted: tuple[str, ...]
    flagged: tuple[str, ...]
    planted_text: tuple[str, ...]
    timed_out: bool
    lines: list[str] = field(default_factory=list)
    jamo_rows: int = 0  # rows that got a jamo-aware screening reading (inference.ocr.glyphs)


def _material_key(items: object) -> str:
    triples = sorted(tuple(t) for t in items)  # type: ignore[attr-defined]
    return "; ".join(f"{p} {f} {n}" for p, f, n in triples)


def evaluate_one(reader: LabelReader, seed: int) -> Result:
    sample = generate(seed)
    truth = sample.truth
    started = time.monotonic()
    reading: LabelReading = reader.read(sample.image, role="label")
    seconds = time.monotonic() - started
    expected = {
        "material": _material_key(truth.material),
        "manufactured": truth.manufactured,
        "size": truth.size,
        "country": truth.country,
    }
    got = {
        "material": _material_key((m.part, m.fiber, m.percent) for m in reading.material),
        "manufactured": reading.manufactured.value if reading.manufactured else "",
        "size": reading.size.value if reading.size else "",
        "country": reading.country.value if reading.country else "",
    }
    return Result(seed, truth.layout, seconds, expected, got, tuple(p.lower() for p in truth.planted),
                  tuple(sorted({h.word.lower() for h in reading.prohibited})), truth.planted_text,
                  reading.timed_out,
                  [b.text for b in reading.lines], sum(bool(b.screen_texts) for b in reading.lines))


def parse_seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            seeds.extend(range(int(a), int(b) + 1))
        else:
            seeds.append(int(part))
    return seeds


def summarise(results: list[Result]) -> dict[str, object]:
    n = len(results)
    per_field = {f: sum(r.expected[f] == r.got[f] for r in results) / n for f in FIELDS}
    by_layout: dict[str, dict[str, float]] = {}
    for layout in sorted({r.layout for r in results}):
        rs = [r for r in results if r.layout == layout]
        by_layout[layout] = {"n": len(rs), **{f: sum(r.expected[f] == r.got[f] for r in rs) / len(rs)
                                               for f in FIELDS}}
    planted = [r for r in results if r.planted]
    clean = [r for r in results if not r.planted]
    caught = sum(all(p in r.flagged for p in r.planted) for r in planted)
    false_flags = sum(bool(r.flagged) for r in clean)
    extra = sum(bool(set(r.flagged) - set(r.planted) - _aliases(r.planted)) for r in planted)
    seconds = sorted(r.seconds for r in results)
    errors = {f: [{"seed": r.seed, "layout": r.layout, "expected": r.expected[f], "got": r.got[f]}
                  for r in results if r.expected[f] != r.got[f]] for f in FIELDS}
    return {
        "images": n,
        "field_accuracy": per_field,
        "all_four_right": sum(all(r.expected[f] == r.got[f] for f in FIELDS) for r in results) / n,
        "by_layout": by_layout,
        "screening": {
            "planted": len(planted), "caught": caught,
            "catch_rate": caught / len(planted) if planted else None,
            "clean": len(clean), "false_flagged": false_flags,
            "false_flag_rate": false_flags / len(clean) if clean else None,
            "planted_with_extra_words": extra,
            "by_trick": _by_trick(planted),
            "jamo_rows_per_image": {"clean": sum(r.jamo_rows for r in clean) / max(1, len(clean)),
                                    "planted": sum(r.jamo_rows for r in planted) / max(1, len(planted))},
            "missed": [{"seed": r.seed, "planted": r.planted, "written": r.planted_text,
                        "flagged": r.flagged} for r in planted
                       if not all(p in r.flagged for p in r.planted)],
            "false": [{"seed": r.seed, "flagged": r.flagged} for r in clean if r.flagged],
        },
        "seconds_per_image": {"mean": sum(seconds) / n, "median": seconds[n // 2],
                              "p95": seconds[min(n - 1, int(n * 0.95))], "max": seconds[-1]},
        "timed_out": sum(r.timed_out for r in results),
        "errors": errors,
    }


def trick(written: str, word: str) -> str:
    """How a planted word was disguised (see tests.labelgen.generate._disguise)."""
    if written == word:
        return "plain"
    if written.replace(" ", "").replace(".", "").replace("*", "") == word:
        return "spaced"
    if word.isascii():
        return "digits"
    if any(c in written for c in "Ol") and not word.isascii():
        return "jamo+lookalike"
    return "jamo"


def _by_trick(planted: list[Result]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in planted:
        for word, written in zip(r.planted, r.planted_text, strict=True):
            name = trick(written, word.upper() if word.isascii() else word)
            row = out.setdefault(name, {"planted": 0, "caught": 0})
            row["planted"] += 1
            row["caught"] += word in r.flagged
    return out


def _aliases(planted: tuple[str, ...]) -> set[str]:
    """List words contained in a planted one ('레플' inside '레플리카') are not false flags."""
    return {"레플"} if "레플리카" in planted else set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.labelgen.evaluate")
    parser.add_argument("--seeds", default="10000-10299", help="e.g. 0-199 or 10000-10299,5")
    parser.add_argument("--workers", type=int, default=1, help="threads (1 = honest s/image)")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-image OCR time box, s")
    parser.add_argument("--json", type=Path, default=None, help="also write the summary here")
    parser.add_argument("--show-lines", action="store_true", help="print OCR rows of failed tags")
    parser.add_argument("--no-jamo", action="store_true",
                        help="without the jamo glyph reader (to measure what it adds and costs)")
    args = parser.parse_args(argv)
    reader = LabelReader(timeout_s=args.timeout, read_jamo=not args.no_jamo)
    seeds = parse_seeds(args.seeds)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(lambda s: evaluate_one(reader, s), seeds))
    wall = time.monotonic() - started
    summary = summarise(results)
    summary["wall_seconds"] = wall
    _print(summary)
    if args.show_lines:
        failed = [r for r in results if any(r.expected[f] != r.got[f] for f in FIELDS)]
        for r in failed:
            print(f"--- seed {r.seed} ({r.layout})")
            for line in r.lines:
                print("   ", line)
    if args.json:
        args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


def _print(s: dict[str, object]) -> None:
    acc = s["field_accuracy"]
    assert isinstance(acc, dict)
    print(f"images: {s['images']}  wall: {s['wall_seconds']:.0f} s  timed out: {s['timed_out']}")
    print("field accuracy: " + "  ".join(f"{f} {v:.1%}" for f, v in acc.items())
          + f"  | all four right: {s['all_four_right']:.1%}")
    by_layout = s["by_layout"]
    assert isinstance(by_layout, dict)
    for layout, row in by_layout.items():
        print(f"  {layout:6s} n={row['n']:3d}  " + "  ".join(f"{f} {row[f]:.1%}" for f in FIELDS))
    sc = s["screening"]
    assert isinstance(sc, dict)
    print(f"screening: caught {sc['caught']}/{sc['planted']} planted"
          f" ({(sc['catch_rate'] or 0):.1%}); false flags {sc['false_flagged']}/{sc['clean']} clean"
          f" ({(sc['false_flag_rate'] or 0):.1%}); planted tags with an extra word:"
          f" {sc['planted_with_extra_words']}")
    for name, row in sc["by_trick"].items():
        print(f"  {name:15s} {row['caught']}/{row['planted']}")
    jr = sc["jamo_rows_per_image"]
    print(f"  rows read again for jamo per image: clean {jr['clean']:.2f}, planted {jr['planted']:.2f}")
    for m in sc["missed"]:
        print(f"  missed: {m}")
    for m in sc["false"]:
        print(f"  false flag: {m}")
    sp = s["seconds_per_image"]
    assert isinstance(sp, dict)
    print(f"seconds/image: mean {sp['mean']:.2f}  median {sp['median']:.2f}  p95 {sp['p95']:.2f}"
          f"  max {sp['max']:.2f}")
    errors = s["errors"]
    assert isinstance(errors, dict)
    counts = Counter({f: len(v) for f, v in errors.items()})
    for f in FIELDS:
        print(f"errors in {f} ({counts[f]}):")
        for e in errors[f]:
            print(f"  seed {e['seed']:>5} {e['layout']:6s} expected {e['expected']!r:40s} got {e['got']!r}")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
