"""``hanger replay``, ``hanger status`` and ``hanger dlq``: the operations commands."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from hanger.settings import Settings


def cmd_replay(args: argparse.Namespace) -> int:
    from hanger.cli import _print_json, _table
    from streams.replay import ReplayPlan, parse_filters, parse_point, replay

    settings: Settings = args.settings
    plan = ReplayPlan(
        source=args.topic,
        start=parse_point(args.since or args.start),
        end=parse_point(args.end),
        partitions=args.partition,
        key=args.key or args.submission_id,
        filters=parse_filters(args.filter or []),
        target=args.to_topic,
        rate=args.rate,
        dry_run=args.dry_run,
        checkpoint=Path(args.checkpoint) if args.checkpoint else None,
    )
    progress_bar = None
    if sys.stderr.isatty() and not args.json:
        from rich.progress import Progress

        progress_bar = Progress(transient=True)
        progress_bar.start()
        task = progress_bar.add_task("replaying", total=None)

        def progress(done: int, total: int) -> None:
            progress_bar.update(task, completed=done, total=total)  # type: ignore[union-attr]
    else:
        def progress(done: int, total: int) -> None:
            return None

    try:
        summary = asyncio.run(replay(settings, plan, progress))
    finally:
        if progress_bar is not None:
            progress_bar.stop()
    if args.json:
        _print_json(summary.as_dict())
    else:
        verb = "would send" if plan.dry_run else "sent"
        _table(f"replay of {settings.topic(plan.source)}", ("partition", "from", "to"),
               [(p, a, b) for p, (a, b) in sorted(summary.ranges.items())])
        print(f"scanned {summary.scanned}, selected {summary.selected}, {verb} "
              f"{summary.selected if plan.dry_run else summary.sent} to "
              f"{settings.topic(plan.target or 'hanger.submissions')}, skipped invalid "
              f"{summary.skipped_invalid}, in {summary.elapsed_s:.1f}s")
        for line in summary.sample:
            print(f"  sample: {line}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from hanger.cli import _print_json, _table
    from streams.ops import consumer_lag, counts_by_code, read_dead_letters

    settings: Settings = args.settings

    async def gather() -> tuple[list, dict[str, int]]:  # type: ignore[type-arg]
        return await consumer_lag(settings), counts_by_code(await read_dead_letters(settings))

    lags, dlq = asyncio.run(gather())
    if args.json:
        _print_json({
            "lag": [{"group": x.group, "topic": x.topic, "partition": x.partition,
                     "committed": x.committed, "end": x.end, "lag": x.lag} for x in lags],
            "dlq": dlq,
        })
        return 0
    _table("consumer lag", ("group", "topic", "partition", "committed", "end", "lag"),
           [(x.group, x.topic, x.partition, x.committed, x.end, x.lag) for x in lags])
    _table("dead letters by code", ("code", "count"), list(dlq.items()))
    return 0


def cmd_dlq(args: argparse.Namespace) -> int:
    from hanger.cli import _print_json, _table
    from streams.ops import read_dead_letters, redrive
    from streams.replay import parse_point

    settings: Settings = args.settings
    since = parse_point(args.since) if args.since else None
    if isinstance(since, int):
        print("hanger dlq: --since takes a time or an age (7d), not an offset", file=sys.stderr)
        return 2
    letters = asyncio.run(read_dead_letters(settings, code=args.code, since=since))
    if args.id:
        letters = [s for s in letters if s.ref == args.id]
        if not letters:
            print(f"hanger dlq: no dead letter {args.id} (use PARTITION:OFFSET)", file=sys.stderr)
            return 1
    if args.action == "redrive":
        sent = asyncio.run(redrive(settings, letters))
        print(f"re-drove {sent} message(s) to their original topics")
        return 0
    if args.action == "show" or args.json:
        hide = {"original_value_b64"} if args.action == "list" else set()
        _print_json([{"ref": s.ref, **s.letter.model_dump(mode="json", exclude=hide)}
                     for s in letters])
        return 0
    _table("dead letters", ("ref", "failed at", "stage", "code", "message"),
           [(s.ref, s.letter.failed_at.isoformat(timespec="seconds"), s.letter.stage, s.letter.code,
             s.letter.message[:80]) for s in letters])
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from db.repository import create_pool
    from hanger.cli import _print_json, _table
    from streams.ops import ModelDiff, model_diff

    settings: Settings = args.settings

    async def run() -> ModelDiff:
        pool = await create_pool(settings)
        try:
            return await model_diff(pool, args.old, args.new)
        finally:
            await pool.close()

    diff = asyncio.run(run())
    if args.json:
        _print_json({"compared": diff.compared, "changed": diff.changed,
                     "per_class": diff.per_class, "route_changes": diff.route_changes})
        return 0
    rows = [(old, new, n) for old, news in sorted(diff.per_class.items())
            for new, n in sorted(news.items(), key=lambda x: -x[1])]
    _table(f"label changes {args.old} → {args.new}", ("old", "new", "submissions"), rows)
    _table("route changes", ("change", "submissions"), sorted(diff.route_changes.items()))
    share = diff.changed / diff.compared if diff.compared else 0.0
    print(f"{diff.compared} submissions classified by both; {diff.changed} changed label ({share:.1%})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    rp = subparsers.add_parser("replay", help="replay a topic range (backfill), idempotently")
    rp.add_argument("topic", help="source topic (registry name, e.g. hanger.submissions)")
    rp.add_argument("--from", dest="start", help="offset or ISO-8601 time")
    rp.add_argument("--to", dest="end", help="offset (exclusive) or ISO-8601 time")
    rp.add_argument("--since", help="relative age, e.g. 7d, 12h")
    rp.add_argument("--partition", type=int, action="append", help="only this partition (repeat)")
    rp.add_argument("--key", help="only messages with this key")
    rp.add_argument("--submission-id", help="only this submission")
    rp.add_argument("--filter", action="append", help="field=value on the submission, e.g. portal=tmon")
    rp.add_argument("--to-topic", help="send to this topic as-is instead of back into the pipeline")
    rp.add_argument("--rate", type=float, help="at most this many messages per second")
    rp.add_argument("--dry-run", action="store_true", help="count and sample, send nothing")
    rp.add_argument("--checkpoint", help="file to resume an interrupted replay from")
    rp.set_defaults(func=cmd_replay)

    df = subparsers.add_parser("diff", help="how two model versions' results differ (after a backfill)")
    df.add_argument("old", help="old model version")
    df.add_argument("new", help="new model version")
    df.set_defaults(func=cmd_diff)

    st = subparsers.add_parser("status", help="consumer lag per group/topic/partition, DLQ counts")
    st.set_defaults(func=cmd_status)

    dq = subparsers.add_parser("dlq", help="dead letters: list, show, re-drive")
    dq.add_argument("action", choices=("list", "show", "redrive"))
    dq.add_argument("--code", help="only this error code")
    dq.add_argument("--since", help="only newer than this time or age (7d)")
    dq.add_argument("--id", help="one letter, as PARTITION:OFFSET")
    dq.set_defaults(func=cmd_dlq)

