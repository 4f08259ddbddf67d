"""The workers' database role can do their work and nothing more (issue #10, least privilege)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from db.migrate import migrate
from db.repository import MdQuery, PgEnrichmentStore
from hanger.events import ApprovalRequested, ProductEnriched, Route, RouteKind, utcnow
from tests.unit.factories import classification, submission

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
    as_worker: asyncpg.Connection, fresh_database: str,
) -> None:
    dsn = fresh_database.replace("//hanger@", "//hanger_worker@")
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    assert pool is not None
    try:  # every statement the enrichment stage runs, as the worker role
        store = PgEnrichmentStore(pool)
        sub = submission("ROLE-1")
        await store.record_submissions([sub])
        result = ProductEnriched(submission=sub, classification=classification("T101", 0.5),
                                 route=Route(kind=RouteKind.NEEDS_MD, md_id="MD-QUEUE"),
                                 enriched_at=utcnow())
        assert await store.save_results([result]) == {sub.submission_id: result}
        assert await store.find_results([sub.submission_id], "t1") == {sub.submission_id: result}
        assert await store.responsible_mds([MdQuery("tmon", "s", ("T101",))]) == ["MD-QUEUE"]
        request = ApprovalRequested(
            request_id="r-1", submission_id=sub.submission_id, portal=sub.portal, seller_id="s",
            md_id="MD-QUEUE", reasons=(), title="t", image_uris=(),
            declared_category=sub.declared_category, predicted=None, requested_at=utcnow())
        assert await store.claim_approval_requests([request]) == {sub.submission_id}
        await store.mark_approvals_published([sub.submission_id])
    finally:
        await pool.close()
    assert await as_worker.fetchval("SELECT count(*) FROM submission") == 1
    for statement in ("DELETE FROM submission", "TRUNCATE product", "DROP TABLE audit_log",
                      "CREATE TABLE sneaky (x int)", "INSERT INTO md (md_id, name) VALUES ('x', 'y')",
                      "ALTER TABLE product ADD COLUMN x int"):
        with pytest.raises(asyncpg.PostgresError) as info:
            await as_worker.execute(statement)
        assert isinstance(info.value, (asyncpg.InsufficientPrivilegeError,)), statement
