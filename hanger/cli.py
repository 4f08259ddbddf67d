"""``hanger``: the one command-line entry point.

Exit codes: 0 ok, 1 failure, 2 bad usage (argparse). Commands that print results take ``--json``.
Subcommands of other packages register themselves through their ``cli.register(subparsers)``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hanger.errors import HangerError
from hanger.settings import Settings

# Packages that contribute subcommands: module path -> what it adds (for the help text).
PLUGIN_MODULES = (
    "inference.cli", "adapters.cli", "db.cli", "db.md_cli", "streams.cli", "bench.cli", "inference.ocr.cli",
)


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)  # piped or logged: do not squeeze the table into 80 columns
    console.print(table)


# --- dev ------------------------------------------------------------------------------------------


def cmd_dev(args: argparse.Namespace) -> int:
    from hanger import devinfra

    settings: Settings = args.settings
    if args.action == "up":
        statuses = devinfra.up(settings)
        if not args.no_setup:
            asyncio.run(_setup(settings))
    elif args.action == "down":
        stopped = devinfra.down(settings)
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        return 0
    else:
        statuses = devinfra.status(settings)
    rows = [(s.name, "running" if s.running else "stopped", s.pid, s.address, s.detail)
            for s in statuses]
    if args.json:
        _print_json([dict(zip(("service", "state", "pid", "address", "detail"), r, strict=True))
                     for r in rows])
    else:
        _table("local infrastructure", ("service", "state", "pid", "address", "detail"), rows)
    return 0 if all(s.running for s in statuses) or args.action == "status" else 1


async def _setup(settings: Settings) -> None:
    """After `dev up`: topics and schema, so every later command finds them."""
    from db.cli import migrate_database
    from hanger.kafka import create_topics

    created = await create_topics(settings)
    applied = await migrate_database(settings)
    print(f"topics created: {len(created)}; migrations applied: {len(applied)}")


# --- topics ---------------------------------------------------------------------------------------


def cmd_topics(args: argparse.Namespace) -> int:
    from hanger import topics
    from hanger.kafka import create_topics

    settings: Settings = args.settings
    if args.action == "create":
        created = asyncio.run(create_topics(settings))
        if args.json:
            _print_json(created)
        else:
            print(f"created {len(created)} topic(s)" + (": " + ", ".join(created) if created else
                                                          " (all existed)"))
    elif args.action == "prune":
        return _prune_topics(settings, args.prefix, args.yes, args.json)
    elif args.action == "doc":
        text = topics.render_markdown()
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
        else:
            print(text)
    else:
        specs = topics.registry()
        if args.json:
            _print_json([{"name": settings.topic(t.name), "key": t.key, "value": t.value}
                         for t in specs])
        else:
            _table("topics", ("name", "key", "value", "producer → consumer"),
                   [(settings.topic(t.name), t.key, t.value, f"{t.producer} → {t.consumer}")
                    for t in specs])
    return 0


def _prune_topics(settings: Settings, prefix: str | None, confirmed: bool, as_json: bool) -> int:
    """Delete the topics whose names start with ``prefix`` (a dev broker sheds old test and
    benchmark topics without a reset); without ``--yes`` only lists them."""
    from hanger.kafka import delete_topics_with_prefix, list_topics_with_prefix

    if not prefix:
        print("topics prune: --prefix is required (and must not be empty)", file=sys.stderr)
        return 2
    doomed = (asyncio.run(delete_topics_with_prefix(settings, prefix)) if confirmed
              else asyncio.run(list_topics_with_prefix(settings, prefix)))
    if as_json:
        _print_json({"prefix": prefix, "deleted" if confirmed else "would_delete": doomed})
    else:
        verb = "deleted" if confirmed else "would delete (add --yes to delete)"
        print(f"{verb} {len(doomed)} topic(s) starting with {prefix!r}")
        for name in doomed[:20]:
            print(f"  {name}")
        if len(doomed) > 20:
            print(f"  … and {len(doomed) - 20} more")
    return 0


# --- schema ---------------------------------------------------------------------------------------


def cmd_schema(args: argparse.Namespace) -> int:
    from hanger.events import EVENT_TYPES

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for model in EVENT_TYPES:
        path = out / f"{model.__name__}.schema.json"
        path.write_text(
            json.dumps(model.model_json_schema(), ensure_ascii=False, indent=2) + "\n",
            encoding="utf-8",
        )
        print(path)
    return 0


# --- worker ---------------------------------------------------------------------------------------


def cmd_worker(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    if args.name == "enrich":
        import faust

        from streams.app import create_app

        (settings.state_dir / "faust").mkdir(parents=True, exist_ok=True)
        app = create_app(settings)
        worker = faust.Worker(app, loglevel=args.loglevel, quiet=True)
        worker.execute_from_commandline()
        return 0
    module = importlib.import_module(WORKERS[args.name])
    runner: Callable[[Settings], Any] = module.run_worker
    asyncio.run(runner(settings))
    return 0


# Plain-aiokafka workers (module must define `async def run_worker(settings)`).
WORKERS = {"bridge": "adapters.bridge", "registrar": "db.registrar"}  # each has run_worker(settings)


def _demo(args: argparse.Namespace) -> int:
    from hanger.demo import cmd_demo

    return cmd_demo(args)


# --- parser ---------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hanger",
        description="Clothes Hanger: classify women's clothing for Korean open-market portals.",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="local Kafka + PostgreSQL (start, stop, status)")
    dev.add_argument("action", choices=("up", "down", "status"))
    dev.add_argument("--no-setup", action="store_true",
                     help="with up: do not create topics or apply migrations")
    dev.set_defaults(func=cmd_dev)

    tp = sub.add_parser("topics", help="the topic registry")
    tp.add_argument("action", choices=("create", "list", "doc", "prune"))
    tp.add_argument("--output", help="with doc: write markdown to this file")
    tp.add_argument("--prefix", help="with prune: delete the topics whose names start with this")
    tp.add_argument("--yes", action="store_true", help="with prune: really delete (else: list only)")
    tp.set_defaults(func=cmd_topics)

    sc = sub.add_parser("schema", help="export the JSON Schema of each canonical event")
    sc.add_argument("action", choices=("export",))
    sc.add_argument("--output", default="docs/schemas")
    sc.set_defaults(func=cmd_schema)

    wk = sub.add_parser("worker", help="run a worker (enrich | bridge | registrar)")
    wk.add_argument("name", choices=("enrich", *WORKERS))
    wk.add_argument("--loglevel", default="warn", choices=("crit", "error", "warn", "info", "debug"))
    wk.set_defaults(func=cmd_worker)

    demo = sub.add_parser("demo", help="run the main job end to end on sample data")
    demo.add_argument("--images", help="folder of photos (default: ../shared/data/clothing if "
                      "present, else drawn locally)")
    demo.set_defaults(func=_demo)

    for module_name in PLUGIN_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # Subcommand flags may come after the subcommand too (`hanger topics list --json`).
    args, rest = parser.parse_known_args(argv)
    if "--json" in rest:
        args.json = True
        rest.remove("--json")
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        args.settings = Settings()
    except ValidationError as exc:
        print(f"hanger: invalid settings (HANGER_* environment):\n{exc}", file=sys.stderr)
        return 2
    from hanger.bootstrap import configure_logging

    configure_logging(args.settings)
    try:
        code: int = args.func(args)
    except HangerError as exc:
        print(f"hanger: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
