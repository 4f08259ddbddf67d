"""Fault injection on real Kafka + PostgreSQL: while the enrich worker processes a burst, inject a
fault, recover, and reconcile from the source topic, the database and the output topics.

Figures per fault (printed, and asserted): sent, enriched, lost (must be 0), duplicated (must be
0), MD requests duplicated (must be 0), recovery time. Run with ``pytest -m reliability``; CI runs them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import asyncpg
import pytest
from PIL import Image

from hanger import devinfra, topics
from hanger.events import ApprovalRequested, Portal, ProductEnriched, decode
from hanger.kafka import EventProducer
from hanger.settings import Settings
from tests.conftest import read_topic
from tests.e2e.test_enrich_slice import product, worker_env

pytestmark = pytest.mark.reliability

N = 300


def start_worker(settings: Settings, root: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "hanger.cli", "worker", "enrich"],
        env={**worker_env(settings, root), "HANGER_MAX_IN_FLIGHT": "8",
             "HANGER_RETRY_ATTEMPTS": "30", "HANGER_RETRY_MAX_S": "2"},
        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


class Supervised:
    """A worker process restarted whenever it exits, as systemd or Kubernetes would: the worker
    fail-stops on errors it cannot classify, and recovery relies on that restart."""

    def __init__(self, settings: Settings, root: Path, log: Path) -> None:
        self.settings, self.root, self.log = settings, root, log
        self.proc = start_worker(settings, root, log)
        self.restarts = 0

    def check(self) -> None:
        if self.proc.poll() is not None:
            self.restarts += 1
            self.proc = start_worker(self.settings, self.root, self.log)


async def wait_for_rows(db_dsn: str, ids: list[str], at_least: int, timeout_s: float,
                        supervisor: Supervised | None = None) -> int:
    deadline = time.monotonic() + timeout_s
    count = 0
    while time.monotonic() < deadline:
        if supervisor is not None:
            supervisor.check()
        try:
            conn = await asyncpg.connect(db_dsn, timeout=2)
            try:
                count = int(await conn.fetchval(
                    "SELECT count(*) FROM classification WHERE submission_id = ANY($1)", ids))
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            pass
        if count >= at_least:
            return count
        await asyncio.sleep(0.05)
    return count


@pytest.mark.parametrize("fault", ["sigkill_worker", "restart_broker", "restart_postgres"])
async def test_fault_loses_and_duplicates_nothing(
    fault: str, settings: Settings, base_settings: Settings, producer: EventProducer,
    tmp_path: Path, unique: str,
) -> None:
    pictures = []
    for i in range(6):
        path = tmp_path / f"p{i}.png"
        Image.new("RGB", (224, 224), (40 * i, 90, 200 - 30 * i)).save(path)
        pictures.append(path.as_uri())
    events = [product(tmp_path, list(Portal)[i % 3], f"{unique}-{i}", ("T101", None)[i % 2],
                      (pictures[i % len(pictures)],)) for i in range(N)]
    ids = [e.submission_id for e in events]
    for e in events:
        await producer.send(topics.SUBMISSIONS, e.submission_id, e)
    dsn = settings.database_url.get_secret_value()
    log = tmp_path / "worker.log"
    worker = Supervised(settings, tmp_path, log)
    try:
        before = await wait_for_rows(dsn, ids, N // 5, 180, worker)
        assert 0 < before < N, f"fault not injected mid-run ({before}); {log.read_text()[-1500:]}"
        started = time.monotonic()
        if fault == "sigkill_worker":
            os.killpg(worker.proc.pid, signal.SIGKILL)
            worker.proc.wait(30)
        elif fault == "restart_broker":
            kafka = devinfra.LocalKafka(base_settings)
            kafka.kill()
            await asyncio.sleep(2)
            await asyncio.to_thread(kafka.up)
        else:
            postgres = devinfra.LocalPostgres(base_settings)
            postgres.kill()
            await asyncio.sleep(2)
            await asyncio.to_thread(postgres.up)
        after = await wait_for_rows(dsn, ids, N, 300, worker)
        recovery_s = time.monotonic() - started
        assert after == N, f"{fault}: only {after}/{N} stored; {log.read_text()[-2000:]}"
        worker.check()  # a worker that exited after storing still has answers to publish
        enriched = [decode(ProductEnriched, v)
                    for _, v in await read_topic(settings, topics.ENRICHED, N, timeout_s=240)]
    finally:
        stop(worker.proc)

    per = Counter(e.submission_id for e in enriched)
    lost = len(set(ids) - set(per))
    duplicated = sum(1 for n in per.values() if n > 1)
    requests = Counter(decode(ApprovalRequested, v).submission_id
                       for _, v in await read_topic(settings, topics.APPROVAL_REQUESTS, N, timeout_s=10))
    md_duplicated = sum(1 for n in requests.values() if n > 1)
    print(f"\nFAULT {fault}: sent {N}, enriched {len(per)}, lost {lost}, duplicated {duplicated}, "
          f"MD requests {len(requests)} (duplicated {md_duplicated}), "
          f"all stored {recovery_s:.1f}s after the fault, worker restarts {worker.restarts}")
    assert (lost, duplicated, md_duplicated) == (0, 0, 0)
