"""Migrations on a real PostgreSQL server: apply to a fresh database, twice; refuse edited files."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from db.migrate import Migration, available, migrate
from hanger.errors import ConfigError

pytestmark = pytest.mark.integration


@pytest.fixture
async def fresh_db(fresh_database: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(fresh_database)
    try:
        yield conn
    finally:
        await conn.close()


async def test_migrations_apply_once_then_are_a_no_op(fresh_db: asyncpg.Connection) -> None:
    first = await migrate(fresh_db)
    assert [m.version for m in first] == [m.version for m in available()]
    second = await migrate(fresh_db)
    assert second == []
    tables = {r["tablename"] for r in await fresh_db.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"md", "seller", "product", "submission", "classification", "approval_request",
            "approval_decision", "audit_log", "processed_message", "schema_migrations"} <= tables
    count = await fresh_db.fetchval("SELECT count(*) FROM schema_migrations")
    assert count == len(available())


async def test_an_applied_migration_that_was_edited_is_refused(
    fresh_db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    await migrate(fresh_db)
    edited = [Migration(m.version, m.name, m.sql + "\n-- edited") for m in available()]
    monkeypatch.setattr("db.migrate.available", lambda: edited)
    with pytest.raises(ConfigError, match="migration_changed"):
        await migrate(fresh_db)
