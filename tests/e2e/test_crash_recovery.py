"""SIGKILL the enrich worker in the middle of a batch of 500 submissions, restart it, and reconcile
by query: every submission has exactly one committed enriched result and at most one MD request."""

from __future__ import annotations

import asyncio
import subprocess
from collections import Counter
from pathlib import Path

import asyncpg
import pytest
from PIL import Image

from hanger import topics
from hanger.events import ApprovalRequested, Portal, ProductEnriched, decode
from hanger.kafka import EventProducer
from hanger.settings import Settings
from tests.conftest import read_topic
from tests.e2e.test_enrich_slice import product
from tests.workers import kill, spawn, stop, worker_env

pytestmark = pytest.mark.e2e

N = 500


def start_worker(settings: Settings, root: Path, log: Path) -> subprocess.Popen[bytes]:
    return spawn("enrich", worker_env(settings, root, HANGER_MAX_IN_FLIGHT="8"), log)


async def count_enriched(db: asyncpg.Pool, ids: list[str]) -> int:
    return int(await db.fetchval(
        "SELECT count(*) FROM classification WHERE submission_id = ANY($1)", ids))


async def test_sigkill_mid_batch_loses_and_duplicates_nothing(
    settings: Settings, producer: EventProducer, tmp_path: Path, unique: str, db: asyncpg.Pool
) -> None:
    pictures = []
    for i in range(8):
        path = tmp_path / f"p{i}.png"
        Image.new("RGB", (224, 224), (30 * i, 200 - 20 * i, 90)).save(path)
        pictures.append(path.as_uri())
    events = [
        product(tmp_path, list(Portal)[i % 3], f"{unique}-{i}", ("T101", "T201", None)[i % 3],
                (pictures[i % len(pictures)],))
        for i in range(N)
    ]
    ids = [e.submission_id for e in events]
    for e in events:
        await producer.send(topics.SUBMISSIONS, e.submission_id, e)

    log = tmp_path / "worker.log"
    worker = start_worker(settings, tmp_path, log)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 180
        while await count_enriched(db, ids) < N // 4 and loop.time() < deadline:
            await asyncio.sleep(0.05)
        done_before_kill = await count_enriched(db, ids)
        assert 0 < done_before_kill < N, f"not mid-run: {done_before_kill}; {log.read_text()[-2000:]}"
    finally:
        kill(worker)

    worker = start_worker(settings, tmp_path, log)
    try:
        enriched = [decode(ProductEnriched, v)
                    for _, v in await read_topic(settings, topics.ENRICHED, N, timeout_s=300)]
    finally:
        stop(worker)

    per_submission = Counter(e.submission_id for e in enriched)
    lost = set(ids) - set(per_submission)
    duplicated = {sid: n for sid, n in per_submission.items() if n > 1}
    assert not lost, f"{len(lost)} lost; {log.read_text()[-2000:]}"
    assert not duplicated, f"{len(duplicated)} duplicated"
    assert await count_enriched(db, ids) == N

    requests = [decode(ApprovalRequested, v)
                for _, v in await read_topic(settings, topics.APPROVAL_REQUESTS, N, timeout_s=10)]
    asked = Counter(r.submission_id for r in requests)
    assert max(asked.values(), default=0) <= 1
    needs_md = {e.submission_id for e in enriched if e.route.kind == "needs_md"}
    assert set(asked) == needs_md
    print(f"crash test: {N} sent, {done_before_kill} done before SIGKILL, {len(per_submission)} "
          f"enriched, 0 lost, 0 duplicated, {len(asked)} MD requests")
