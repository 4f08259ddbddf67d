"""The registrar on the real broker and PostgreSQL: each decision kind, auto-approval, duplicates,
conflicts, a crash between commit and publish, and bad decisions going to the DLQ.

Each module gets its own freshly migrated database (so this test never touches the shared one)
and each test its own topics (the ``settings`` fixture's unique prefix) and product ids.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr

from db.approvals import PgRegistrationUnitOfWork
from db.migrate import migrate
from db.registrar import Registrar, run_worker
from db.repository import PgEnrichmentStore
from hanger import topics
from hanger.events import (
    ApprovalDecided,
    ApprovalRequested,
    DeadLetter,
    DecisionKind,
    DeclaredAttributes,
    ExtractedValue,
    ProductEnriched,
    ProductRegistered,
    ProductRejected,
    decode,
)
from hanger.kafka import EventProducer
from hanger.settings import Settings
from hanger.taxonomy import load_taxonomy
from streams.enrich import request_id_for
from tests.conftest import read_topic
from tests.unit.db.factories import decision, enriched

pytestmark = pytest.mark.integration


# --- fixtures (also used by the MD-tool tests) ------------------------------------------------------


@pytest.fixture(scope="module")
def migrated_dsn(base_settings: Settings) -> Iterator[str]:
    """A fresh database with every migration applied, dropped after the module."""
    import uuid

    admin_dsn = base_settings.database_url.get_secret_value()
    name = f"test_reg_{uuid.uuid4().hex[:10]}"
    dsn = admin_dsn.rsplit("/", 1)[0] + f"/{name}"

    async def create() -> None:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        conn = await asyncpg.connect(dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()

    async def drop() -> None:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(create())
    yield dsn
    asyncio.run(drop())


@pytest.fixture
def reg_settings(settings: Settings, migrated_dsn: str) -> Settings:
    return settings.model_copy(update={"database_url": SecretStr(migrated_dsn)})


@pytest.fixture
async def pool(migrated_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    p = await asyncpg.create_pool(migrated_dsn, min_size=1, max_size=4)
    assert p is not None
    yield p
    await p.close()


@pytest.fixture
async def worker(reg_settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(reg_settings, stop))
    yield task
    stop.set()
    await asyncio.wait_for(task, 30)


async def waiting_for_md(pool: asyncpg.Pool, event: ProductEnriched, md_id: str) -> ProductEnriched:
    """Store a needs-MD submission the way the enrich stage does, with a published request."""
    await pool.execute(
        "INSERT INTO md (md_id, name, categories) VALUES ($1, $1, '{}') ON CONFLICT DO NOTHING", md_id)
    store = PgEnrichmentStore(pool)
    await store.record_submission(event.submission)
    await store.save_result(event)
    s = event.submission
    request = ApprovalRequested(
        request_id=request_id_for(s.submission_id), submission_id=s.submission_id, portal=s.portal,
        seller_id=s.seller_id, md_id=md_id, reasons=event.route.reasons, title=s.title,
        image_uris=tuple(i.uri for i in s.images), declared_category=s.declared_category,
        predicted=event.classification, attributes_extracted=event.attributes_extracted,
        requested_at=event.enriched_at,
    )
    assert await store.claim_approval_request(request)
    await store.mark_approval_published(event.submission_id)
    return event


async def eventually(check: Callable[[], Awaitable[Any]], timeout_s: float = 30.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        value = await check()
        if value or loop.time() > deadline:
            return value
        await asyncio.sleep(0.1)


async def registered_events(
    settings: Settings, expected: int, timeout_s: float = 30.0
) -> list[ProductRegistered]:
    """Read ``hanger.registered``; ask for one more than you expect with a short timeout to check
    that nothing beyond ``expected`` arrives."""
    return [decode(ProductRegistered, v) for _, v in await read_topic(settings, topics.REGISTERED,
                                                                      expected, timeout_s=timeout_s)]


# --- tests ------------------------------------------------------------------------------------------


async def test_approve_registers_one_product_with_audit_rows(
    reg_settings: Settings, pool: asyncpg.Pool, producer: EventProducer, worker: object, unique: str
) -> None:
    md = f"MD-{unique}"
    event = await waiting_for_md(pool, enriched(
        f"A-{unique}", predicted="T103", declared="T101", md_id=md,
        attributes=DeclaredAttributes(material="면 100%", size="FREE"),
        extracted={"country": ExtractedValue(value="대한민국", source="ocr", confidence=0.9)},
    ), md)
    sid = event.submission_id
    await producer.send(topics.APPROVAL_DECISIONS, sid, decision(sid, "approve", md_id=md))

    [registered] = await registered_events(reg_settings, 1)
    assert (registered.submission_id, registered.taxonomy_id, registered.decided_by) == (sid, "T103", md)
    product = await pool.fetchrow("SELECT * FROM product WHERE submission_id = $1", sid)
    assert product["product_id"] == registered.product_id
    assert (product["taxonomy_id"], product["material"], product["country"]) == (
        "T103", "면 100%", "대한민국")
    audit = {r["field"]: r for r in await pool.fetch(
        "SELECT * FROM audit_log WHERE product_id = $1", registered.product_id)}
    assert {"taxonomy_id", "title", "material", "size", "country", "care"} <= audit.keys()
    assert (audit["taxonomy_id"]["source"], audit["taxonomy_id"]["actor"]) == ("model", "test-model@t1")
    assert (audit["material"]["source"], audit["material"]["actor"]) == ("seller", "seller-1")
    assert audit["country"]["source"] == "ocr"
    assert audit["care"]["value"] is None
    request = await pool.fetchrow("SELECT * FROM approval_request WHERE submission_id = $1", sid)
    assert (request["status"], request["outcome"]) == ("decided", "approve")


async def test_the_same_decision_twice_registers_once(
    reg_settings: Settings, pool: asyncpg.Pool, producer: EventProducer, worker: object, unique: str
) -> None:
    md = f"MD-{unique}"
    sid = (await waiting_for_md(pool, enriched(f"D-{unique}", md_id=md), md)).submission_id
    same = decision(sid, "approve", md_id=md)
    for _ in range(2):
        await producer.send(topics.APPROVAL_DECISIONS, sid, same)

    events = await registered_events(reg_settings, 2, timeout_s=5)  # a second one would show up
    assert len(events) == 1
    assert await pool.fetchval("SELECT count(*) FROM product WHERE submission_id = $1", sid) == 1
    assert await pool.fetchval("SELECT count(*) FROM approval_decision WHERE submission_id = $1", sid) == 1


async def test_override_registers_the_mds_category_and_attributes(
    reg_settings: Settings, pool: asyncpg.Pool, producer: EventProducer, worker: object, unique: str
) -> None:
    md = f"MD-{unique}"
    sid = (await waiting_for_md(pool, enriched(
        f"O-{unique}", predicted="T101", md_id=md,
        attributes=DeclaredAttributes(material="폴리"),
    ), md)).submission_id
    await producer.send(topics.APPROVAL_DECISIONS, sid, decision(
        sid, "override", md_id=md, taxonomy_id="T203", attributes={"material": "면 100%"}))

    [registered] = await registered_events(reg_settings, 1)
    assert (registered.taxonomy_id, registered.decided_by) == ("T203", md)
    product = await pool.fetchrow("SELECT * FROM product WHERE submission_id = $1", sid)
    assert (product["taxonomy_id"], product["material"], product["decided_by"]) == ("T203", "면 100%", md)
    audit = {r["field"]: r for r in await pool.fetch(
        "SELECT field, source, actor FROM audit_log WHERE submission_id = $1", sid)}
    assert (audit["taxonomy_id"]["source"], audit["taxonomy_id"]["actor"]) == ("md", md)
    assert (audit["material"]["source"], audit["material"]["actor"]) == ("md", md)
    assert audit["title"]["source"] == "seller"


async def test_reject_records_the_decision_and_registers_nothing(
    reg_settings: Settings, pool: asyncpg.Pool, producer: EventProducer, worker: object, unique: str
) -> None:
    md = f"MD-{unique}"
    sid = (await waiting_for_md(pool, enriched(f"R-{unique}", md_id=md), md)).submission_id
    await producer.send(topics.APPROVAL_DECISIONS, sid,
                        decision(sid, "reject", md_id=md, reason="상품 이미지가 의류가 아닙니다"))

    async def decided() -> Any:
        return await pool.fetchval(
            "SELECT outcome FROM approval_request WHERE submission_id = $1 AND status = 'decided'", sid)

    assert await eventually(decided) == "reject"
    assert await pool.fetchval("SELECT count(*) FROM product WHERE submission_id = $1", sid) == 0
    audit = await pool.fetchrow("SELECT * FROM audit_log WHERE submission_id = $1", sid)
    assert (audit["field"], audit["source"], audit["actor"]) == ("decision", "md", md)
    assert audit["product_id"] is None
    assert await registered_events(reg_settings, 0) == []
    # The portal is still answered: the rejection, with the reason, for the bridge to render.
    [(key, raw)] = await read_topic(reg_settings, topics.REJECTED, 1, 30)
    rejected = decode(ProductRejected, raw)
    assert key == sid.encode() and rejected.decision == "reject" and rejected.md_id == md
    assert rejected.reason == "상품 이미지가 의류가 아닙니다" and rejected.submission.submission_id == sid


async def test_first_final_decision_wins_and_request_change_is_not_final(
    reg_settings: Settings, pool: asyncpg.Pool, producer: EventProducer, worker: object, unique: str
) -> None:
    md = f"MD-{unique}"
    sid = (await waiting_for_md(pool, enriched(f"C-{unique}", md_id=md), md)).submission_id
    # One key -> one partition: the worker sees them in this order.
    for d in (decision(sid, "request_change", md_id=md, reason="소재 표기를 확인해 주세요"),
              decision(sid, "approve", md_id=md),
              decision(sid, "reject", md_id=md, reason="too late")):
        await producer.send(topics.APPROVAL_DECISIONS, sid, d)

    async def all_recorded() -> Any:
        rows = await pool.fetch("SELECT decision, status FROM approval_decision WHERE submission_id = $1",
                                sid)
        return {r["decision"]: r["status"] for r in rows} if len(rows) == 3 else None

    assert await eventually(all_recorded) == {
        "request_change": "applied", "approve": "applied", "reject": "ignored"}
    [registered] = await registered_events(reg_settings, 1)
    assert registered.decided_by == md
    assert await pool.fetchval("SELECT outcome FROM approval_request WHERE submission_id = $1",
                               sid) == "approve"


async def test_auto_approved_enriched_event_is_registered_by_auto(
    reg_settings: Settings, pool: asyncpg.Pool, producer: EventProducer, worker: object, unique: str
) -> None:
    auto = enriched(f"AUTO-{unique}", predicted="T301", confidence=0.999, md_id=None)
    needs_md = enriched(f"MD-{unique}", md_id="MD-x")  # not auto-approved: left to the MDs
    for e in (auto, auto, needs_md):  # the auto one delivered twice
        await producer.send(topics.ENRICHED, e.submission_id, e)

    events = await registered_events(reg_settings, 2, timeout_s=5)
    assert [(e.submission_id, e.decided_by, e.taxonomy_id) for e in events] == [
        (auto.submission_id, "auto", "T301")]
    rows = await pool.fetch("SELECT submission_id FROM product WHERE submission_id = ANY($1::text[])",
                            [auto.submission_id, needs_md.submission_id])
    assert [r["submission_id"] for r in rows] == [auto.submission_id]
    sources = {r["source"] for r in await pool.fetch(
        "SELECT source FROM audit_log WHERE submission_id = $1 AND field = 'taxonomy_id'",
        auto.submission_id)}
    assert sources == {"model"}


async def test_registration_committed_but_not_published_is_published_on_redelivery(
    reg_settings: Settings, pool: asyncpg.Pool, producer: EventProducer, unique: str
) -> None:
    """A crash after the database commit and before the publish: the redelivered decision
    publishes the stored event, once, and registers nothing new."""
    md = f"MD-{unique}"
    sid = (await waiting_for_md(pool, enriched(f"X-{unique}", md_id=md), md)).submission_id
    the_decision = decision(sid, "approve", md_id=md)
    registrar = Registrar(lambda: PgRegistrationUnitOfWork(pool), load_taxonomy())
    before_crash = await registrar.on_decision(the_decision)  # committed; the worker "dies" here
    assert before_crash is not None

    await producer.send(topics.APPROVAL_DECISIONS, sid, the_decision)  # redelivery
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(reg_settings, stop))
    try:
        events = await registered_events(reg_settings, 2, timeout_s=5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    assert events == [before_crash]
    assert await pool.fetchval("SELECT count(*) FROM product WHERE submission_id = $1", sid) == 1


async def test_rejection_committed_but_not_announced_is_announced_on_redelivery(
    reg_settings: Settings, pool: asyncpg.Pool, producer: EventProducer, unique: str
) -> None:
    """The same crash for a rejection: the redelivered decision announces the rejection — the
    same event — once, and a later redelivery after the announcement stays quiet."""
    md = f"MD-{unique}"
    sid = (await waiting_for_md(pool, enriched(f"XR-{unique}", md_id=md), md)).submission_id
    the_decision = decision(sid, "reject", md_id=md, reason="의류가 아닌 상품")
    registrar = Registrar(lambda: PgRegistrationUnitOfWork(pool), load_taxonomy())
    before_crash = await registrar.on_decision(the_decision)  # committed; the worker "dies" here
    assert isinstance(before_crash, ProductRejected)

    async def run_until(expected: int) -> list[ProductRejected]:
        stop = asyncio.Event()
        task = asyncio.create_task(run_worker(reg_settings, stop))
        try:
            return [decode(ProductRejected, v)
                    for _, v in await read_topic(reg_settings, topics.REJECTED, expected, timeout_s=5)]
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)

    await producer.send(topics.APPROVAL_DECISIONS, sid, the_decision)  # redelivery
    await producer.send(topics.APPROVAL_DECISIONS, sid, the_decision)  # and again, same batch
    assert await run_until(2) == [before_crash]
    assert await pool.fetchval(
        "SELECT announced_at IS NOT NULL FROM approval_decision WHERE decision_id = $1",
        the_decision.decision_id)
    await producer.send(topics.APPROVAL_DECISIONS, sid, the_decision)  # a replay, announced already
    assert await run_until(2) == [before_crash]
    assert await pool.fetchval("SELECT count(*) FROM audit_log WHERE submission_id = $1", sid) == 1


async def test_killed_mid_batch_and_restarted_registers_each_product_exactly_once(
    reg_settings: Settings, pool: asyncpg.Pool, producer: EventProducer, unique: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    md = f"MD-{unique}"
    sids = [(await waiting_for_md(pool, enriched(f"K{i}-{unique}", md_id=md), md)).submission_id
            for i in range(12)]
    for sid in sids:
        await producer.send(topics.APPROVAL_DECISIONS, sid, decision(sid, "approve", md_id=md))

    async def registered_count() -> int:
        return int(await pool.fetchval(
            "SELECT count(*) FROM product WHERE submission_id = ANY($1::text[])", sids))

    original = Registrar.on_decision

    async def slow_on_decision(self: Registrar, d: ApprovalDecided) -> ProductRegistered | None:
        await asyncio.sleep(0.2)  # so the kill lands in the middle of the first batch
        return await original(self, d)

    monkeypatch.setattr(Registrar, "on_decision", slow_on_decision)
    first = asyncio.create_task(run_worker(reg_settings, asyncio.Event()))
    await eventually(lambda: _at_least(registered_count, 3))
    first.cancel()  # killed mid-batch: offsets of the batch in flight are not committed
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await registered_count() < len(sids)
    monkeypatch.setattr(Registrar, "on_decision", original)

    stop = asyncio.Event()
    second = asyncio.create_task(run_worker(reg_settings, stop))
    try:
        assert await eventually(lambda: _at_least(registered_count, len(sids)))
        events = await registered_events(reg_settings, len(sids))
    finally:
        stop.set()
        await asyncio.wait_for(second, 30)
    assert await registered_count() == len(sids)
    assert {e.submission_id for e in events} == set(sids)  # none missing
    assert len({e.product_id for e in events}) == len(sids)  # a repeat would be the same product


async def _at_least(count: Callable[[], Awaitable[int]], n: int) -> bool:
    return await count() >= n


async def test_bad_decisions_are_dead_lettered_with_their_reason(
    reg_settings: Settings, pool: asyncpg.Pool, producer: EventProducer, worker: object, unique: str
) -> None:
    md = f"MD-{unique}"
    sid = (await waiting_for_md(pool, enriched(f"B-{unique}", md_id=md), md)).submission_id
    bad = [
        decision("no-such-submission", "approve", md_id=md),
        decision(sid, "approve", md_id="MD-somebody-else"),
        decision(sid, "override", md_id=md, taxonomy_id="T999"),
        decision(sid, "override", md_id=md),
        decision(sid, "reject", md_id=md),
    ]
    for d in bad:
        await producer.send(topics.APPROVAL_DECISIONS, sid, d)
    await producer.send(topics.APPROVAL_DECISIONS, sid, b'{"decision": "approve"')
    await producer.send(topics.APPROVAL_DECISIONS, sid, decision(sid, "approve", md_id=md))

    letters = [decode(DeadLetter, v) for _, v in await read_topic(reg_settings, topics.DLQ, 6)]
    assert sorted(letter.code for letter in letters) == sorted([
        "unknown_submission", "not_owner", "unknown_category", "override_without_category",
        "reject_without_reason", "not_json"])
    assert all(letter.stage == "registrar" and not letter.retriable for letter in letters)
    [registered] = await registered_events(reg_settings, 1)  # the good one still got through
    assert registered.submission_id == sid
    recorded = await pool.fetch("SELECT decision FROM approval_decision WHERE submission_id = $1", sid)
    assert [r["decision"] for r in recorded] == ["approve"]
    assert json.loads(letters[0].model_dump_json())["original_value_b64"]


async def test_fallback_queue_accepts_any_active_md(
    reg_settings: Settings, pool: asyncpg.Pool, producer: EventProducer, worker: object, unique: str
) -> None:
    from db.repository import FALLBACK_MD

    md = f"MD-{unique}"
    await pool.execute("INSERT INTO md (md_id, name) VALUES ($1, 'x')", md)
    sid = (await waiting_for_md(pool, enriched(f"F-{unique}", md_id=FALLBACK_MD), FALLBACK_MD)
           ).submission_id
    await producer.send(topics.APPROVAL_DECISIONS, sid, decision(sid, "approve", md_id="nobody"))
    await producer.send(topics.APPROVAL_DECISIONS, sid, decision(sid, DecisionKind.APPROVE, md_id=md))
    [letter] = [decode(DeadLetter, v) for _, v in await read_topic(reg_settings, topics.DLQ, 1)]
    assert letter.code == "unknown_md"
    [registered] = await registered_events(reg_settings, 1)
    assert registered.decided_by == md
