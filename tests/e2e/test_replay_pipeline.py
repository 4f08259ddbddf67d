"""Replay through the real pipeline: replaying a range twice changes nothing downstream; a second
model version produces new results and a diff report; a poison decision re-driven after the fix
ends registered, once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections import Counter
from pathlib import Path

import asyncpg
import pytest
from PIL import Image

from db import registrar
from db.md_cli import build_decision, publish_decisions
from hanger import topics
from hanger.events import (
    ApprovalRequested,
    DeadLetter,
    DecisionKind,
    Portal,
    ProductEnriched,
    ProductRegistered,
    decode,
    utcnow,
)
from hanger.kafka import EventProducer
from hanger.settings import Settings
from hanger.taxonomy import load_taxonomy
from inference.classifier import default_model_path
from streams.ops import model_diff, read_dead_letters, redrive
from streams.replay import ReplayPlan, replay
from tests.conftest import read_topic
from tests.e2e.test_crash_recovery import start_worker
from tests.e2e.test_enrich_slice import product
from tests.workers import spawn, stop, worker_env

pytestmark = pytest.mark.e2e

N = 20


def second_version(tmp_path: Path) -> tuple[Path, str]:
    """The committed model under another version name (same weights): a stand-in for a retrained
    model, enough to exercise versioned dedupe, backfill and the diff report."""
    src = default_model_path()
    dst = tmp_path / "clothing-9.9.9.onnx"
    shutil.copy(src, dst)
    meta = json.loads(src.with_suffix(".json").read_text())
    meta["version"] = "9.9.9-test"
    dst.with_suffix(".json").write_text(json.dumps(meta))
    return dst, str(meta["version"])


async def test_replay_twice_changes_nothing_and_a_new_model_gets_a_diff(
    settings: Settings, producer: EventProducer, tmp_path: Path, unique: str, db: asyncpg.Pool
) -> None:
    picture = tmp_path / "p.png"
    Image.new("RGB", (224, 224), (10, 120, 200)).save(picture)
    events = [product(tmp_path, Portal.TMON, f"{unique}-{i}", "T101", (picture.as_uri(),))
              for i in range(N)]
    ids = [e.submission_id for e in events]
    for e in events:
        await producer.send(topics.SUBMISSIONS, e.submission_id, e)
    await asyncio.sleep(0.05)
    originals_until = utcnow()  # the replay range: the original submissions only

    log = tmp_path / "worker.log"
    worker = start_worker(settings, tmp_path, log)
    try:
        first = [decode(ProductEnriched, v) for _, v in await read_topic(settings, topics.ENRICHED, N, 180)]
        assert len(first) == N, log.read_text()[-2000:]
        requests_before = len(await read_topic(settings, topics.APPROVAL_REQUESTS, N, 5))
        for round_no in (1, 2):
            summary = await replay(settings, ReplayPlan(source=topics.SUBMISSIONS, end=originals_until))
            assert summary.sent == N
            answers = [decode(ProductEnriched, v) for _, v in
                       await read_topic(settings, topics.ENRICHED, N * (1 + round_no), 180)]
            assert len(answers) == N * (1 + round_no)
            for sid, same in Counter(a.submission_id for a in answers).items():
                assert same == 1 + round_no, sid
            by_id = {a.submission_id: a for a in first}
            assert all(a == by_id[a.submission_id] for a in answers)  # the very same answers
        assert len(await read_topic(settings, topics.APPROVAL_REQUESTS, N, 5)) == requests_before
        rows = await db.fetchval(
            "SELECT count(*) FROM classification WHERE submission_id = ANY($1)", ids)
        assert rows == N
    finally:
        stop(worker)

    # Backfill with a new model version: new results, old ones kept, and a diff report.
    model_path, version = second_version(tmp_path)
    old_version = first[0].classification.model.version if first[0].classification else "none"
    worker = spawn("enrich", worker_env(settings, tmp_path, HANGER_MODEL_PATH=str(model_path)), log)
    try:
        await replay(settings, ReplayPlan(source=topics.SUBMISSIONS, end=originals_until,
                                          filters={"portal": "tmon"}))
        loop = asyncio.get_running_loop()
        deadline, done = loop.time() + 180, 0
        while loop.time() < deadline and done < N:
            done = await db.fetchval(
                "SELECT count(*) FROM classification WHERE submission_id = ANY($1) AND model_version = $2",
                ids, version)
            await asyncio.sleep(0.2)
        assert done == N, log.read_text()[-2000:]
    finally:
        stop(worker)
    diff = await model_diff(db, old_version, version, ids)
    assert diff.compared == N and diff.changed == 0  # same weights under a new name: no change


async def test_poison_decision_redriven_after_the_fix_registers_once(
    settings: Settings, producer: EventProducer, tmp_path: Path, unique: str, db: asyncpg.Pool
) -> None:
    picture = tmp_path / "p.png"
    Image.new("RGB", (224, 224), (200, 60, 60)).save(picture)
    md = f"MD-{unique}"
    sub = product(tmp_path, Portal.WEMAKEPRICE, f"{unique}-poison", "T101", (picture.as_uri(),))
    sub = sub.model_copy(update={"seller_id": f"seller-{unique}"})
    await db.execute("INSERT INTO md (md_id, name) VALUES ($1, 'poison test MD')", md)
    await db.execute("INSERT INTO seller (portal, seller_id, md_id) VALUES ('wemakeprice', $1, $2)",
                     sub.seller_id, md)
    stop_event = asyncio.Event()
    reg = asyncio.create_task(registrar.run_worker(settings, stop_event))
    worker = None
    try:
        # The MD tool sends a decision before the submission exists: poison, dead-lettered.
        decision = build_decision(md_id=md, submission_id=sub.submission_id,
                                  kind=DecisionKind.OVERRIDE, taxonomy_id="T301", attributes={},
                                  reason="원피스가 맞음", taxonomy=load_taxonomy())
        await publish_decisions(settings, [decision])
        [(_, raw)] = await read_topic(settings, topics.DLQ, 1, 60)
        assert decode(DeadLetter, raw).code == "unknown_submission"

        # The fix: the submission arrives and is enriched (sent to an MD).
        await producer.send(topics.SUBMISSIONS, sub.submission_id, sub)
        worker = start_worker(settings, tmp_path, tmp_path / "w.log")
        [(_, raw)] = await read_topic(settings, topics.APPROVAL_REQUESTS, 1, 180)
        assert decode(ApprovalRequested, raw).md_id == md  # the seller's 담당MD

        letters = await read_dead_letters(settings, code="unknown_submission")
        assert await redrive(settings, letters) == 1
        assert await redrive(settings, letters) == 1  # an operator re-drives twice by mistake
        registered = [decode(ProductRegistered, v)
                      for _, v in await read_topic(settings, topics.REGISTERED, 1, 60)]
    finally:
        stop_event.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reg, 30)
        if worker is not None:
            stop(worker)
    assert Counter(r.submission_id for r in registered) == {sub.submission_id: 1}
    assert registered[0].taxonomy_id == "T301" and registered[0].decided_by == md
    assert await db.fetchval("SELECT count(*) FROM product WHERE submission_id = $1",
                             sub.submission_id) == 1
