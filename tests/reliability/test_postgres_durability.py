"""What the dev PostgreSQL acknowledged must survive it being killed: every worker's exactly-once
story stores first and commits Kafka offsets after, so a commit that vanishes in a crash is a
submission whose result is gone while its offset has moved on. ``hanger dev up`` once ran the
server with ``synchronous_commit=off`` for speed, which acknowledges commits before their WAL is
written; the ``restart_postgres`` fault then lost a stored batch and waited forever (a CI timeout).
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from hanger import devinfra
from hanger.settings import Settings

pytestmark = pytest.mark.reliability


async def test_commits_acknowledged_just_before_a_kill_survive_it(
    base_settings: Settings, unique: str,
) -> None:
    dsn = base_settings.database_url.get_secret_value()
    table = f"durability_probe_{unique}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"CREATE TABLE {table} (n int PRIMARY KEY)")
        for n in range(50):  # 50 commits, each acknowledged; the last ones within ~1 ms of the kill
            await conn.execute(f"INSERT INTO {table} VALUES ($1)", n)
        postgres = devinfra.LocalPostgres(base_settings)
        postgres.kill()
    finally:
        conn.terminate()
    await asyncio.to_thread(postgres.up)
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SHOW synchronous_commit") == "on"
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 50
    finally:
        await conn.execute(f"DROP TABLE {table}")
        await conn.close()
