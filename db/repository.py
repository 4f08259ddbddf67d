"""Repositories over asyncpg for the enrichment stage, plus the pool factory.

The enrichment dedupe record is ``classification (submission_id, model_version)``: the first result
written wins, and every later attempt (re-sent submission, replay, redelivery after a crash) reads
it back instead of computing a different answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg

from hanger.errors import TransientError
from hanger.events import ApprovalRequested, ProductEnriched, ProductSubmitted
from hanger.settings import Settings

FALLBACK_MD = "MD-QUEUE"  # the shared queue when no MD owns a seller or category

# Database failures that a retry can fix (server restarting, connection dropped, pool closed).
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # a connection left mid-protocol by a server that went away
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


async def create_pool(settings: Settings) -> asyncpg.Pool:
    try:
        pool = await asyncpg.create_pool(
            settings.database_url.get_secret_value(),
            min_size=1,
            max_size=settings.database_pool_size,
            command_timeout=30,
        )
    except (OSError, asyncpg.PostgresConnectionError) as exc:
        raise TransientError("db_unavailable", f"cannot reach PostgreSQL: {exc}") from exc
    assert pool is not None
    return pool


class EnrichmentStore(Protocol):
    """What the enrichment stage needs from storage (a fake in unit tests, asyncpg for real)."""

    async def record_submission(self, submission: ProductSubmitted) -> None: ...

    async def find_result(self, submission_id: str, model_version: str) -> ProductEnriched | None: ...

    async def save_result(self, enriched: ProductEnriched, *, shadow: bool = False) -> ProductEnriched:
        """Store the result unless one exists; return the stored one (first writer wins)."""
        ...

    async def claim_approval_request(self, request: ApprovalRequested) -> bool:
        """True when this request still has to be published (not yet published for the submission)."""
        ...

    async def mark_approval_published(self, submission_id: str) -> None: ...

    async def responsible_md(self, portal: str, seller_id: str, taxonomy_ids: list[str]) -> str: ...


@dataclass
class PgEnrichmentStore:
    pool: asyncpg.Pool

    async def record_submission(self, submission: ProductSubmitted) -> None:
        await insert_submission(self.pool, submission)

    async def find_result(self, submission_id: str, model_version: str) -> ProductEnriched | None:
        raw = await self.pool.fetchval(
            "SELECT result FROM classification WHERE submission_id = $1 AND model_version = $2",
            submission_id, model_version,
        )
        return None if raw is None else ProductEnriched.model_validate_json(raw)

    async def save_result(self, enriched: ProductEnriched, *, shadow: bool = False) -> ProductEnriched:
        c = enriched.classification
        model_version = c.model.version if c else "none"
        async with self.pool.acquire() as conn, conn.transaction():
            inserted = await conn.fetchval(
                """INSERT INTO classification (submission_id, model_version, taxonomy_id,
                       confidence, route, md_id, shadow, result)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
                   ON CONFLICT (submission_id, model_version) DO NOTHING
                   RETURNING true""",
                enriched.submission_id, model_version, c.taxonomy_id if c else None,
                c.confidence if c else None, enriched.route.kind.value, enriched.route.md_id,
                shadow, enriched.model_dump_json(),
            )
            if inserted:
                return enriched
            raw = await conn.fetchval(
                "SELECT result FROM classification WHERE submission_id = $1 AND model_version = $2",
                enriched.submission_id, model_version,
            )
        return ProductEnriched.model_validate_json(raw)

    async def claim_approval_request(self, request: ApprovalRequested) -> bool:
        row = await self.pool.fetchrow(
            """INSERT INTO approval_request (request_id, submission_id, md_id, reasons, status)
               VALUES ($1, $2, $3, $4, 'unpublished')
               ON CONFLICT (submission_id) DO UPDATE SET status = approval_request.status
               RETURNING status""",
            request.request_id, request.submission_id, request.md_id, list(request.reasons),
        )
        return row is not None and row["status"] == "unpublished"

    async def mark_approval_published(self, submission_id: str) -> None:
        await self.pool.execute(
            """UPDATE approval_request SET status = 'pending'
               WHERE submission_id = $1 AND status = 'unpublished'""",
            submission_id,
        )

    async def responsible_md(self, portal: str, seller_id: str, taxonomy_ids: list[str]) -> str:
        """The seller's 담당MD wins; else an active MD owning the category (leaf before parent);
        else the shared fallback queue."""
        md = await self.pool.fetchval(
            """SELECT s.md_id FROM seller s JOIN md m ON m.md_id = s.md_id AND m.active
               WHERE s.portal = $1 AND s.seller_id = $2""",
            portal, seller_id,
        )
        if md:
            return str(md)
        for taxonomy_id in taxonomy_ids:
            md = await self.pool.fetchval(
                """SELECT md_id FROM md WHERE active AND $1 = ANY(categories)
                   ORDER BY md_id LIMIT 1""",
                taxonomy_id,
            )
            if md:
                return str(md)
        return FALLBACK_MD


async def insert_submission(db: asyncpg.Pool | asyncpg.Connection, submission: ProductSubmitted) -> None:
    """Record a submission as received (the first copy wins; re-sends change nothing)."""
    await db.execute(
            """INSERT INTO submission (submission_id, portal, portal_product_id, revision,
                   seller_id, title, declared_code, declared_taxonomy, payload)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
               ON CONFLICT (submission_id) DO NOTHING""",
            submission.submission_id, submission.portal.value, submission.portal_product_id,
            submission.revision, submission.seller_id, submission.title,
            submission.declared_category.portal_code, submission.declared_category.taxonomy_id,
            submission.model_dump_json(),
        )


def jsonb(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
