"""The enrichment store's batch statements on the real PostgreSQL server: first writer wins,
MD lookup precedence, approval claims — each for a whole batch in one round trip."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from db.migrate import migrate
from db.repository import FALLBACK_MD, MdQuery, PgEnrichmentStore
from hanger.events import ApprovalRequested, ProductEnriched, Route, RouteKind, utcnow
from hanger.settings import Settings
from streams.enrich import request_id_for
from tests.unit.factories import classification, submission

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(fresh_database: str) -> AsyncIterator[PgEnrichmentStore]:
    pool = await asyncpg.create_pool(fresh_database, min_size=1, max_size=2)
    assert pool is not None
    async with pool.acquire() as conn:
        await migrate(conn)
    try:
        yield PgEnrichmentStore(pool)
    finally:
        await pool.close()


def enriched(product_id: str, tid: str, md_id: str | None = None) -> ProductEnriched:
    route = Route(kind=RouteKind.NEEDS_MD, md_id=md_id, reasons=("low_confidence",)) if md_id \
        else Route(kind=RouteKind.AUTO_APPROVED)
    return ProductEnriched(submission=submission(product_id), classification=classification(tid, 0.9),
                           route=route, enriched_at=utcnow())


async def test_results_first_writer_wins_for_a_whole_batch(store: PgEnrichmentStore) -> None:
    subs = [submission(f"B{i}") for i in range(5)]
    await store.record_submissions(subs + subs[:2])  # re-sent copies change nothing
    first = [enriched(f"B{i}", "T101") for i in range(3)]
    assert set(await store.save_results(first)) == {s.submission_id for s in subs[:3]}
    later = [enriched(f"B{i}", "T202") for i in range(5)]  # a racing worker's different answers
    stored = await store.save_results(later)
    assert {sid: e.classification.taxonomy_id for sid, e in stored.items() if e.classification} == {
        **{s.submission_id: "T101" for s in subs[:3]}, **{s.submission_id: "T202" for s in subs[3:]}}
    found = await store.find_results([s.submission_id for s in subs] + ["unknown"], "t1")
    assert found == stored


async def test_md_lookup_prefers_the_seller_then_the_most_specific_category(
    store: PgEnrichmentStore,
) -> None:
    await store.pool.execute(
        """INSERT INTO md (md_id, name, categories, active) VALUES
           ('MD-A', 'a', '{T100}', true), ('MD-B', 'b', '{T101}', true),
           ('MD-C', 'c', '{T202}', false), ('MD-S', 's', '{}', true), ('MD-X', 'x', '{}', false)""")
    await store.pool.execute(
        """INSERT INTO seller (portal, seller_id, md_id) VALUES
           ('tmon', 'has-md', 'MD-S'), ('tmon', 'inactive-md', 'MD-X')""")
    queries = [
        MdQuery("tmon", "has-md", ("T101",)),
        MdQuery("tmon", "nobody", ("T101", "T100")),
        MdQuery("tmon", "nobody", ("T102", "T100")),
        MdQuery("tmon", "inactive-md", ("T202",)),  # inactive seller MD and category MD → queue
        MdQuery("coupang_wings", "has-md", ()),  # the same seller id on another portal
    ]
    assert await store.responsible_mds(queries) == ["MD-S", "MD-B", "MD-A", FALLBACK_MD, FALLBACK_MD]


async def test_an_approval_request_is_claimed_until_marked_published(store: PgEnrichmentStore) -> None:
    subs = [submission(f"R{i}") for i in range(3)]
    await store.record_submissions(subs)
    requests = [
        ApprovalRequested(
            request_id=request_id_for(s.submission_id), submission_id=s.submission_id, portal=s.portal,
            seller_id=s.seller_id, md_id="MD-1", reasons=("low_confidence", "image_problems"),
            title=s.title, image_uris=(), declared_category=s.declared_category, predicted=None,
            requested_at=utcnow())
        for s in subs
    ]
    ids = {s.submission_id for s in subs}
    assert await store.claim_approval_requests(requests + requests[:1]) == ids
    assert await store.claim_approval_requests(requests) == ids  # not published yet: claim again
    await store.mark_approvals_published([subs[0].submission_id])
    assert await store.claim_approval_requests(requests) == ids - {subs[0].submission_id}
    reasons = await store.pool.fetchval(
        "SELECT reasons FROM approval_request WHERE submission_id = $1", subs[1].submission_id)
    assert reasons == ["low_confidence", "image_problems"]


async def test_the_projects_pool_releases_without_the_reset_query_yet_never_leaks_a_transaction(
    base_settings: Settings, fresh_database: str,
) -> None:
    from pydantic import SecretStr

    from db.repository import create_pool

    pool = await create_pool(base_settings.model_copy(update={"database_url": SecretStr(fresh_database)}))
    try:
        async with pool.acquire() as conn:
            pid = await conn.fetchval("SELECT pg_backend_pid()")
            await conn.execute("SET application_name = 'session-state'")
            await conn.execute("BEGIN")  # a query that died inside a transaction
            await conn.execute("CREATE TEMP TABLE left_behind (x int)")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") == pid  # the same connection
            assert not conn.is_in_transaction()  # rolled back on release
            assert await conn.fetchval("SELECT to_regclass('pg_temp.left_behind')") is None
            # No RESET ALL ran (the round trip saved), which is why nothing here may SET anything.
            assert await conn.fetchval("SHOW application_name") == "session-state"
    finally:
        await pool.close()
