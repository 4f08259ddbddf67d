"""SIGKILL the adapter bridge (`hanger worker bridge`) in the middle of a burst of native TMON deals,
restart it, and reconcile from what was sent: every valid deal became exactly one ProductSubmitted,
every invalid one exactly one dead letter and one native rejection (Kafka transactions)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from adapters.bridge import SELLER_HEADER
from hanger import topics
from hanger.events import Portal, ProductSubmitted, decode
from hanger.kafka import EventProducer, end_offsets
from hanger.settings import Settings
from tests.conftest import REPO, read_topic
from tests.workers import kill, spawn, stop

pytestmark = pytest.mark.reliability

N = 3000
INVALID_EVERY = 10


def start_bridge(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    return spawn("bridge", {**os.environ, "HANGER_TOPIC_PREFIX": settings.topic_prefix,
                            "HANGER_WORKER_ID": "bridge-1"}, log)


async def test_sigkill_bridge_loses_and_duplicates_nothing(
    settings: Settings, producer: EventProducer, tmp_path: Path, unique: str,
) -> None:
    template: dict[str, Any] = json.loads((REPO / "tests/fixtures/tmon/deal.json").read_text("utf-8"))
    invalid = 0
    batch = []
    for i in range(N):
        deal = {**template, "vendorDealNo": f"DK-{unique}-{i}"}
        if i % INVALID_EVERY == 0:
            deal.pop("title")  # rejected: answered natively, dead-lettered
            invalid += 1
        batch.append((topics.legacy(Portal.TMON, "submissions"), deal["vendorDealNo"],
                      json.dumps(deal, ensure_ascii=False).encode("utf-8")))
    valid = N - invalid
    batch.append((topics.legacy(Portal.TMON, "submissions"), "not-a-deal", b"{}"))  # one more bad one
    seller = [(SELLER_HEADER, f"seller-{unique}".encode())]
    for start in range(0, len(batch), 500):
        chunk = batch[start:start + 500]
        await asyncio.gather(*(producer.send(t, k, v, headers=seller) for t, k, v in chunk))

    log = tmp_path / "bridge.log"
    bridge = start_bridge(settings, log)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # kill once a fifth of the answers were written
            written = sum((await end_offsets(settings, topics.SUBMISSIONS)).values())
            if written >= valid // 5:
                break
            await asyncio.sleep(0.02)
        kill(bridge)
        assert written < valid, "the bridge finished before the kill; raise N"
        killed_at = written
        bridge = start_bridge(settings, log)
        submitted = await read_topic(settings, topics.SUBMISSIONS, valid, 180)
        native = await read_topic(settings, topics.legacy(Portal.TMON, "enriched"), invalid + 1, 60)
        letters = await read_topic(settings, topics.DLQ, invalid + 1, 30)
    finally:
        stop(bridge)

    per = Counter(decode(ProductSubmitted, v).portal_product_id for _, v in submitted)
    answered = Counter(k for k, _ in native)
    lost = valid - len(per)
    duplicated = sum(1 for c in per.values() if c > 1) + sum(1 for c in answered.values() if c > 1)
    print(f"\nFAULT sigkill_bridge: deals {N} ({invalid} invalid), killed after {killed_at} written, "
          f"submissions {len(per)}, native rejections {len(answered)}, dead letters {len(letters)}, "
          f"lost {lost}, duplicated {duplicated}")
    assert (lost, duplicated) == (0, 0), log.read_text()[-2000:]
    assert len(answered) == invalid + 1 and len(letters) == invalid + 1
