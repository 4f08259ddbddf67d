"""Repositories over asyncpg for the enrichment stage, plus the pool factory.

The enrichment dedupe record is ``classification (submission_id, model_version)``: the first result
written wins, and every later attempt (re-sent submission, replay, redelivery after a crash) reads
it back instead of computing a different answer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg

from hanger.errors import TransientError
from hanger.events import ApprovalRequested, ProductEnriched, ProductSubmitted
from hanger.settings import Settings

FALLBACK_MD = "MD-QUEUE"  # the shared queue when no MD owns a seller or category

# Database failures that a retry can fix (server restarting, connection dropped, pool closed,
# a query timed out, a transaction lost a race); anything else is a bug and stops the worker.
# The one list every worker uses.
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # includes TimeoutError (command_timeout, connect timeout)
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # a connection left mid-protocol by a server that went away
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool release without asyncpg's default reset query (``pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL``): a round trip per query, and nothing here needs it — pooled connections
    never change session state (no SET, LISTEN, session-level advisory locks or open cursors;
    locks are transaction-scoped). asyncpg still rolls back an open transaction on release."""


async def create_pool(settings: Settings) -> asyncpg.Pool:
    try:
        pool = await asyncpg.create_pool(
            settings.database_url.get_secret_value(),
            min_size=1,
            max_size=settings.database_pool_size,
            command_timeout=settings.database_timeout_s,
            timeout=settings.database_timeout_s,  # connecting, per attempt
            reset=_keep_session,
        )
    except (OSError, asyncpg.PostgresConnectionError) as exc:
        raise TransientError("db_unavailable", f"cannot reach PostgreSQL: {exc}") from exc
    assert pool is not None
    return pool


@dataclass(frozen=True)
class MdQuery:
    """Who reviews a submission: the seller's 담당MD, else an MD owning one of ``taxonomy_ids``
    (most specific first), else the shared queue."""

    portal: str
    seller_id: str
    taxonomy_ids: tuple[str, ...]


class EnrichmentStore(Protocol):
    """What the enrichment stage needs from storage (a fake in unit tests, asyncpg for real).

    Every method takes a whole batch, so a batch of submissions costs a handful of round trips
    instead of several per submission.
    """

    async def record_submissions(self, submissions: Sequence[ProductSubmitted]) -> None:
        """Record submissions as received (the first copy of each wins)."""
        ...

    async def find_results(
        self, submission_ids: Sequence[str], model_version: str
    ) -> dict[str, ProductEnriched]: ...

    async def save_results(
        self, results: Sequence[ProductEnriched], *, shadow: bool = False
    ) -> dict[str, ProductEnriched]:
        """Store each result unless one exists for its submission and model version; return the
        stored ones by submission id (first writer wins)."""
        ...

    async def claim_approval_requests(self, requests: Sequence[ApprovalRequested]) -> set[str]:
        """The submission ids whose request still has to be published (not yet published)."""
        ...

    async def mark_approvals_published(self, submission_ids: Sequence[str]) -> None: ...

    async def responsible_mds(self, queries: Sequence[MdQuery]) -> list[str]: ...

    async def reset(self) -> None:
        """Drop pooled connections after a failure (they may be half-open)."""
        ...


def model_version_of(enriched: ProductEnriched) -> str:
    """The model version a result is stored under (its dedupe key); "none" when unclassified."""
    c = enriched.classification
    return c.model.version if c else "none"


@dataclass
class PgEnrichmentStore:
    pool: asyncpg.Pool

    async def record_submissions(self, submissions: Sequence[ProductSubmitted]) -> None:
        if submissions:
            await insert_submissions(self.pool, submissions)

    async def find_results(
        self, submission_ids: Sequence[str], model_version: str
    ) -> dict[str, ProductEnriched]:
        if not submission_ids:
            return {}
        rows = await self.pool.fetch(
            """SELECT submission_id, result FROM classification
               WHERE model_version = $2 AND submission_id = ANY($1::text[])""",
            list(submission_ids), model_version,
        )
        return {r["submission_id"]: ProductEnriched.model_validate_json(r["result"]) for r in rows}

    async def save_results(
        self, results: Sequence[ProductEnriched], *, shadow: bool = False
    ) -> dict[str, ProductEnriched]:
        unique = list({(r.submission_id, model_version_of(r)): r for r in reversed(results)}.values())
        if not unique:
            return {}
        columns: tuple[list[Any], ...] = ([], [], [], [], [], [], [])
        for r in unique:
            c = r.classification
            for column, value in zip(columns, (
                r.submission_id, model_version_of(r), c.taxonomy_id if c else None,
                c.confidence if c else None, r.route.kind.value, r.route.md_id, r.model_dump_json(),
            ), strict=True):
                column.append(value)
        async with self.pool.acquire() as conn, conn.transaction():
            inserted = await conn.fetch(
                """INSERT INTO classification (submission_id, model_version, taxonomy_id,
                       confidence, route, md_id, shadow, result)
                   SELECT s, v, t, c, r, m, $8, j::jsonb
                   FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::text[],
                               $6::text[], $7::text[]) AS x(s, v, t, c, r, m, j)
                   ON CONFLICT (submission_id, model_version) DO NOTHING
                   RETURNING submission_id, model_version""",
                *columns, shadow,
            )
            won = {(row["submission_id"], row["model_version"]) for row in inserted}
            lost = [r for r in unique if (r.submission_id, model_version_of(r)) not in won]
            stored = {r.submission_id: r for r in unique if (r.submission_id, model_version_of(r)) in won}
            if lost:
                rows = await conn.fetch(
                    """SELECT c.submission_id, c.result FROM classification c
                       JOIN unnest($1::text[], $2::text[]) AS x(s, v)
                         ON c.submission_id = x.s AND c.model_version = x.v""",
                    [r.submission_id for r in lost], [model_version_of(r) for r in lost],
                )
                for row in rows:
                    stored[row["submission_id"]] = ProductEnriched.model_validate_json(row["result"])
        return stored

    async def claim_approval_requests(self, requests: Sequence[ApprovalRequested]) -> set[str]:
        unique = list({r.submission_id: r for r in reversed(requests)}.values())
        if not unique:
            return set()
        rows = await self.pool.fetch(
            """INSERT INTO approval_request (request_id, submission_id, md_id, reasons, status)
               SELECT i, s, m, ARRAY(SELECT jsonb_array_elements_text(r::jsonb)), 'unpublished'
               FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS x(i, s, m, r)
               ON CONFLICT (submission_id) DO UPDATE SET status = approval_request.status
               RETURNING submission_id, status""",
            [r.request_id for r in unique], [r.submission_id for r in unique],
            [r.md_id for r in unique], [jsonb(list(r.reasons)) for r in unique],
        )
        return {row["submission_id"] for row in rows if row["status"] == "unpublished"}

    async def mark_approvals_published(self, submission_ids: Sequence[str]) -> None:
        if submission_ids:
            await self.pool.execute(
                """UPDATE approval_request SET status = 'pending'
                   WHERE submission_id = ANY($1::text[]) AND status = 'unpublished'""",
                list(submission_ids),
            )

    async def responsible_mds(self, queries: Sequence[MdQuery]) -> list[str]:
        """The seller's 담당MD wins; else an active MD owning the category (leaf before parent);
        else the shared fallback queue. One round trip for the whole batch."""
        if not queries:
            return []
        rows = await self.pool.fetch(
            """SELECT x.i, COALESCE(
                   (SELECT s.md_id FROM seller s JOIN md m ON m.md_id = s.md_id AND m.active
                     WHERE s.portal = x.p AND s.seller_id = x.s),
                   (SELECT m.md_id FROM unnest(x.t::text[]) WITH ORDINALITY AS c(tid, n)
                      JOIN md m ON m.active AND c.tid = ANY(m.categories)
                     ORDER BY c.n, m.md_id LIMIT 1)) AS md_id
               FROM unnest($1::int[], $2::text[], $3::text[], $4::text[]) AS x(i, p, s, t)""",
            list(range(len(queries))), [q.portal for q in queries], [q.seller_id for q in queries],
            ["{" + ",".join(q.taxonomy_ids) + "}" for q in queries],
        )
        found = {row["i"]: row["md_id"] for row in rows}
        return [str(found.get(i) or FALLBACK_MD) for i in range(len(queries))]

    async def reset(self) -> None:
        await self.pool.expire_connections()

    # One-item conveniences (tools and tests).
    async def record_submission(self, submission: ProductSubmitted) -> None:
        await self.record_submissions([submission])

    async def save_result(self, enriched: ProductEnriched, *, shadow: bool = False) -> ProductEnriched:
        return (await self.save_results([enriched], shadow=shadow))[enriched.submission_id]

    async def claim_approval_request(self, request: ApprovalRequested) -> bool:
        return request.submission_id in await self.claim_approval_requests([request])

    async def mark_approval_published(self, submission_id: str) -> None:
        await self.mark_approvals_published([submission_id])


async def insert_submissions(
    db: asyncpg.Pool | asyncpg.Connection, submissions: Sequence[ProductSubmitted]
) -> None:
    """Record submissions as received (the first copy wins; re-sends change nothing)."""
    await db.execute(
        """INSERT INTO submission (submission_id, portal, portal_product_id, revision,
               seller_id, title, declared_code, declared_taxonomy, payload)
           SELECT i, p, pp, r, s, t, dc, dt, j::jsonb
           FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[],
                       $7::text[], $8::text[], $9::text[]) AS x(i, p, pp, r, s, t, dc, dt, j)
           ON CONFLICT (submission_id) DO NOTHING""",
        [s.submission_id for s in submissions], [s.portal.value for s in submissions],
        [s.portal_product_id for s in submissions], [s.revision for s in submissions],
        [s.seller_id for s in submissions], [s.title for s in submissions],
        [s.declared_category.portal_code for s in submissions],
        [s.declared_category.taxonomy_id for s in submissions],
        [s.model_dump_json() for s in submissions],
    )


async def insert_submission(db: asyncpg.Pool | asyncpg.Connection, submission: ProductSubmitted) -> None:
    await insert_submissions(db, [submission])


def jsonb(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
