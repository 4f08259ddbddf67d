"""``python -m bench`` (or ``hanger bench``): run every benchmark, print a table, and write
``bench/results/<date>-<machine>.json`` plus a markdown summary next to it.

Each benchmark module defines ``run() -> dict`` returning ``{"name": ..., "rows": [{"case": ...,
"value": ..., "unit": ..., "baseline": ..., "ratio": ..., "goal": ...}], "notes": [...]}``: the
measured path and its raw baseline are measured in the same run, so the ratio means something on a
shared, noisy machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import socket
import sys
import traceback
from pathlib import Path
from typing import Any

BENCHMARKS = ("bench_inference", "bench_adapters", "bench_kafka", "bench_stream", "bench_ocr")
RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"host": socket.gethostname(), "cpu": cpu, "cores": os.cpu_count(),
            "memory_gib": round(mem_gib, 1), "python": platform.python_version(),
            "platform": platform.platform()}


def _rows_of(bench: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows for the table; benchmarks that report other shapes are translated here."""
    if "rows" in bench:
        return list(bench["rows"])
    if "raw_ort_img_per_s" in bench:  # bench_inference
        rows = [{"case": f"full inference path (decode+preprocess+ORT), {bench['images']} photos",
                 "value": bench["full_path_img_per_s"], "unit": "img/s",
                 "baseline": f"{bench['raw_ort_img_per_s']} img/s raw ORT on decoded tensors",
                 "ratio": bench["full_over_raw"], "goal": ""}]
        variant = bench.get("int8_variant")
        if variant:
            rows += [
                {"case": f"int8 variant ({variant['model']}), raw ORT, same run",
                 "value": variant["raw_ort_img_per_s"], "unit": "img/s",
                 "baseline": f"{bench['raw_ort_img_per_s']} img/s full model raw ORT",
                 "ratio": variant["raw_over_full_model_raw"], "goal": ""},
                {"case": "int8 variant, full inference path, same run",
                 "value": variant["full_path_img_per_s"], "unit": "img/s",
                 "baseline": f"{bench['full_path_img_per_s']} img/s full model, full path",
                 "ratio": variant["full_path_over_full_model_full_path"], "goal": ""},
            ]
        return rows
    rows = []
    for case, r in bench.items():  # bench_adapters: one entry per input kind
        if isinstance(r, dict) and "adapter_rows_per_s" in r:
            rows.append({"case": f"{case} parse+translate ({r['rows']} rows)",
                         "value": r["adapter_rows_per_s"], "unit": "rows/s",
                         "baseline": f"{r['baseline_rows_per_s']} rows/s {r['baseline']}",
                         "ratio": r["adapter_vs_baseline"],
                         "goal": "≥ 0.5×" if "workbook" in case else "≥ 20,000 rows/s"})
    return rows


def render_markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [f"# Benchmarks {report['date']}", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}.",
             "Ratios compare the measured path with a raw baseline measured in the same run.", ""]
    for bench in report["benchmarks"]:
        lines += [f"## {bench['name']}", "", "| case | value | baseline | ratio | goal |",
                  "|---|---|---|---|---|"]
        for row in _rows_of(bench):
            unit = row.get("unit", "")
            ratio = row.get("ratio")
            lines.append(
                f"| {row['case']} | {row.get('value', '')} {unit} | {row.get('baseline', '')} | "
                f"{'' if ratio is None else f'{ratio:.2f}×'} | {row.get('goal', '')} |"
            )
        for note in bench.get("notes", []):
            lines.append(f"\n- {note}")
        if bench.get("error"):
            lines.append(f"\n**failed:** `{bench['error']}`")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("only", nargs="*", help="benchmark names (default: all)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    chosen = [b for b in BENCHMARKS if not args.only or b in args.only or b[6:] in args.only]
    report: dict[str, Any] = {"date": dt.date.today().isoformat(), "machine": machine(),
                              "benchmarks": []}
    failed = False
    for name in chosen:
        print(f"== {name}", flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            report["benchmarks"].append({"name": name, "error": f"not available: {exc}"})
            continue
        try:
            result = module.run()
        except Exception as exc:
            traceback.print_exc()
            failed = True
            result = {"error": repr(exc)}
        report["benchmarks"].append({"name": name, **result})
    stem = f"{report['date']}-{report['machine']['host']}"
    earlier = RESULTS / f"{stem}.json"
    if not args.no_write and args.only and earlier.exists():
        # A partial run updates its benchmarks in the day's report and keeps the others.
        kept = json.loads(earlier.read_text())["benchmarks"]
        fresh = {b["name"] for b in report["benchmarks"]}
        report["benchmarks"] = [b for b in kept if b["name"] not in fresh] + report["benchmarks"]
    text = render_markdown(report)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
        (RESULTS / f"{stem}.md").write_text(text)
        print(f"wrote {RESULTS / stem}.json and .md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
