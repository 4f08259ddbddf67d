"""SIGKILL the registrar process (`hanger worker registrar`) in the middle of a burst of MD
decisions, restart it, and reconcile: every approved product registered exactly once in
PostgreSQL, every registration announced exactly once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections import Counter
from pathlib import Path

import asyncpg
import pytest

from hanger import topics
from hanger.events import ProductRegistered, decode
from hanger.kafka import EventProducer
from hanger.settings import Settings
from tests.conftest import read_topic
from tests.integration.test_registrar import waiting_for_md
from tests.unit.db.factories import decision, enriched
from tests.workers import kill, spawn, stop

pytestmark = pytest.mark.reliability

N = 150


def start(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    return spawn("registrar", {**os.environ, "HANGER_TOPIC_PREFIX": settings.topic_prefix}, log)


async def count(db: asyncpg.Pool, ids: list[str]) -> int:
    return int(await db.fetchval("SELECT count(*) FROM product WHERE submission_id = ANY($1)", ids))


async def test_sigkill_registrar_mid_burst(
    settings: Settings, producer: EventProducer, db: asyncpg.Pool, tmp_path: Path, unique: str
) -> None:
    md = f"MD-{unique}"
    ids = []
    for i in range(N):
        event = await waiting_for_md(db, enriched(f"K-{unique}-{i}", md_id=md), md)
        ids.append(event.submission_id)
    for sid in ids:
        await producer.send(topics.APPROVAL_DECISIONS, sid, decision(sid, "approve", md_id=md))

    log = tmp_path / "registrar.log"
    proc = start(settings, log)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while await count(db, ids) < N // 5 and loop.time() < deadline:
        await asyncio.sleep(0.02)
    before = await count(db, ids)
    kill(proc)
    assert 0 < before < N, f"kill not mid-burst ({before}); {log.read_text()[-1500:]}"
    started = time.monotonic()
    proc = start(settings, log)
    try:
        deadline = loop.time() + 180
        while await count(db, ids) < N and loop.time() < deadline:
            await asyncio.sleep(0.1)
        recovered_s = time.monotonic() - started
        registered = [decode(ProductRegistered, v)
                      for _, v in await read_topic(settings, topics.REGISTERED, N, 60)]
    finally:
        stop(proc, must_exit=True)
    rows = await db.fetch(
        "SELECT submission_id, count(*) AS n FROM product WHERE submission_id = ANY($1) "
        "GROUP BY submission_id", ids)
    announced = Counter(r.submission_id for r in registered)
    print(f"\nFAULT sigkill_registrar: decisions {N}, registered before kill {before}, products "
          f"{len(rows)}, duplicated products {sum(r['n'] > 1 for r in rows)}, announcements "
          f"{len(announced)} (repeated {sum(n > 1 for n in announced.values())}), "
          f"all registered {recovered_s:.1f}s after the kill")
    assert len(rows) == N and all(r["n"] == 1 for r in rows)
    assert set(announced) == set(ids)
    assert all(n == 1 for n in announced.values())  # announced exactly once (Kafka transactions)
