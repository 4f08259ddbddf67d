"""The workers' database role can do their work and nothing more (issue #10, least privilege)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from db.migrate import migrate
from db.repository import PgEnrichmentStore
from tests.unit.factories import submission

pytestmark = pytest.mark.integration


@pytest.fixture
async def as_worker(fresh_database: str) -> AsyncIterator[asyncpg.Connection]:
    owner = await asyncpg.connect(fresh_database)
    await migrate(owner)
    await owner.close()
    conn = await asyncpg.connect(fresh_database.replace("//hanger@", "//hanger_worker@"))
    try:
        yield conn
    finally:
        await conn.close()


async def test_worker_role_writes_rows_but_cannot_delete_or_change_schema(
    as_worker: asyncpg.Connection,
) -> None:
    class OneConnection:  # the store takes a pool; one connection answers the same calls
        def __init__(self, conn: asyncpg.Connection) -> None:
            self.execute, self.fetchval = conn.execute, conn.fetchval

    store = PgEnrichmentStore(OneConnection(as_worker))  # type: ignore[arg-type]
    await store.record_submission(submission("ROLE-1"))
    assert await as_worker.fetchval("SELECT count(*) FROM submission") == 1
    for statement in ("DELETE FROM submission", "TRUNCATE product", "DROP TABLE audit_log",
                      "CREATE TABLE sneaky (x int)", "INSERT INTO md (md_id, name) VALUES ('x', 'y')",
                      "ALTER TABLE product ADD COLUMN x int"):
        with pytest.raises(asyncpg.PostgresError) as info:
            await as_worker.execute(statement)
        assert isinstance(info.value, (asyncpg.InsufficientPrivilegeError,)), statement
