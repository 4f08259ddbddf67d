"""``hanger ingest <portal> FILE… [--seller ID] [--out DIR] [--json] [--dry-run]``.

Reads each file, validates and translates it (:func:`adapters.common.pipeline.ingest`), publishes
accepted ``ProductSubmitted`` events to ``hanger.submissions`` (key: submission id) and every
rejected item as a ``DeadLetter`` to ``hanger.dlq``, writes the portal-native answer next to the
file (``<name>.result.xlsx`` for workbooks, ``<name>.answer.json`` for JSON) or into ``--out``, and
prints a summary (a table; ``--json``: one JSON object per file).

``--dry-run`` validates and prints only: nothing is published and no answer is written.
Exit codes: 0 every item accepted (warnings allowed); 1 anything rejected (so scripts notice and
read the answer file); 2 bad usage (unknown portal, unreadable file).

``register(subparsers)`` adds the command; the caller's parser must put a
:class:`hanger.settings.Settings` on ``args.settings``; the handler is ``args.func(args) -> int``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.common.pipeline import Context, IngestReport, ingest
from adapters.publish import publish_report
from adapters.registry import adapter_for
from hanger.events import Portal, utcnow
from hanger.kafka import DeadLetters, EventProducer
from hanger.settings import Settings

STAGE = "adapters.ingest"
ProducerFactory = Callable[[Settings], EventProducer]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "ingest", help="ingest portal-native files (Wing workbook, Coupang/TMON/WeMakePrice JSON)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("portal", choices=[p.value for p in Portal])
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument("--seller", help="seller/vendor id when the payload has none "
                                         "(Wing workbooks, TMON, WeMakePrice)")
    parser.add_argument("--out", type=Path, help="directory for answer files (default: beside "
                                                 "each input)")
    # SUPPRESS: do not override the top-level ``hanger --json`` when given before the command
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print JSON instead of a table")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate only: publish nothing, write no answer")
    parser.set_defaults(func=ingest_command)


def ingest_command(args: argparse.Namespace,
                   producer_factory: ProducerFactory = EventProducer) -> int:
    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        print(f"hanger ingest: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    return asyncio.run(run_ingest(args, producer_factory))


async def run_ingest(args: argparse.Namespace,
                     producer_factory: ProducerFactory = EventProducer) -> int:
    settings: Settings = args.settings
    adapter = adapter_for(args.portal)
    reports: list[tuple[Path, IngestReport, bytes]] = []
    for path in args.files:
        raw = path.read_bytes()
        context = Context(received_at=utcnow(), seller_id=args.seller, source=str(path))
        reports.append((path, ingest(adapter, raw, path.name, context), raw))
    answers: dict[Path, Path] = {}
    if not args.dry_run:
        producer = producer_factory(settings)
        await producer.start()
        try:
            dead_letters = DeadLetters(producer, STAGE)
            for _, report, raw in reports:
                await publish_report(report, producer, dead_letters, raw,
                                     max_letter_bytes=settings.max_message_bytes // 2)
        finally:
            await producer.stop()
        for path, report, _ in reports:
            target = (args.out or path.parent) / f"{path.name}{report.answer_suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(report.answer)
            answers[path] = target
    _print_summary(reports, answers, as_json=getattr(args, "json", False), dry_run=args.dry_run)
    return 1 if any(r.failed for _, r, _ in reports) else 0


def summary_rows(report: IngestReport) -> list[dict[str, Any]]:
    rows = [{"item": "(file)", "product_id": None, "status": "rejected",
             "issues": [i.describe() for i in report.issues]}] if not report.outcomes else []
    for outcome in report.outcomes:
        rows.append({
            "item": outcome.item.ref,
            "product_id": outcome.product_id,
            "status": "accepted" if outcome.accepted else "rejected",
            "submission_id": outcome.event.submission_id if outcome.event else None,
            "issues": [i.describe() for i in outcome.issues],
        })
    return rows


def _print_summary(reports: list[tuple[Path, IngestReport, bytes]], answers: dict[Path, Path],
                   *, as_json: bool, dry_run: bool) -> None:
    if as_json:
        for path, report, _ in reports:
            print(json.dumps({
                "file": str(path), "accepted": len(report.accepted),
                "rejected": len(report.rejected) + (0 if report.outcomes else 1),
                "answer": str(answers[path]) if path in answers else None,
                "dry_run": dry_run, "items": summary_rows(report),
            }, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="hanger ingest" + (" (dry run)" if dry_run else ""))
    for column in ("file", "item", "product id", "status", "reasons"):
        table.add_column(column, overflow="fold")
    accepted = rejected = 0
    for path, report, _ in reports:
        for row in summary_rows(report):
            ok = row["status"] == "accepted"
            accepted += ok
            rejected += not ok
            table.add_row(path.name, row["item"], row["product_id"] or "",
                          "[green]accepted[/]" if ok else "[red]rejected[/]",
                          "\n".join(row["issues"]))
    console = Console()
    console.print(table)
    console.print(f"accepted {accepted}, rejected {rejected}"
                  + "".join(f"\nanswer: {a}" for a in answers.values()))
