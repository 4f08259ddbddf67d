"""``hanger bench``: runs ``python -m bench`` (see bench/__main__.py)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    b = subparsers.add_parser("bench", help="run the benchmarks and write bench/results/")
    b.add_argument("only", nargs="*", help="benchmark names (default: all)")
    b.add_argument("--no-write", action="store_true")

    def run(args: argparse.Namespace) -> int:
        from bench.__main__ import main

        return main([*args.only, *(["--no-write"] if args.no_write else [])])

    b.set_defaults(func=run)
