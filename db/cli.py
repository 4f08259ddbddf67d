"""``hanger db …``: schema migrations, the database status, and seeding MDs/sellers."""

from __future__ import annotations

import argparse
import asyncio

import asyncpg

from db.migrate import Migration, available, migrate
from hanger.settings import Settings


async def migrate_database(settings: Settings) -> list[Migration]:
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        return await migrate(conn)
    finally:
        await conn.close()


async def applied_versions(settings: Settings) -> dict[int, str]:
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
        if not exists:
            return {}
        rows = await conn.fetch("SELECT version, applied_at FROM schema_migrations")
        return {r["version"]: str(r["applied_at"]) for r in rows}
    finally:
        await conn.close()


def cmd_db(args: argparse.Namespace) -> int:
    from hanger.cli import _print_json, _table

    settings: Settings = args.settings
    if args.action == "migrate":
        done = asyncio.run(migrate_database(settings))
        names = [f"{m.version:04d}_{m.name}" for m in done]
        if args.json:
            _print_json(names)
        else:
            print("applied: " + (", ".join(names) if names else "nothing (up to date)"))
        return 0
    if args.action == "seed":
        from pathlib import Path

        from db.seed import seed

        async def run() -> tuple[int, int]:
            conn = await asyncpg.connect(settings.database_url.get_secret_value())
            try:
                return await seed(conn, Path(args.mds), Path(args.sellers) if args.sellers else None)
            finally:
                await conn.close()

        mds, sellers = asyncio.run(run())
        print(f"seeded {mds} MD(s) and {sellers} seller(s)")
        return 0
    applied = asyncio.run(applied_versions(settings))
    rows = [(f"{m.version:04d}", m.name, applied.get(m.version, "pending")) for m in available()]
    if args.json:
        _print_json([dict(zip(("version", "name", "applied_at"), r, strict=True)) for r in rows])
    else:
        _table("migrations", ("version", "name", "applied"), rows)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = subparsers.add_parser("db", help="database schema (migrate, status)")
    db.add_argument("action", choices=("migrate", "status", "seed"))
    db.add_argument("--mds", default="samples/seed/mds.csv", help="with seed: MD CSV or XLSX")
    db.add_argument("--sellers", default="samples/seed/sellers.csv", help="with seed: seller CSV or XLSX")
    db.set_defaults(func=cmd_db)
