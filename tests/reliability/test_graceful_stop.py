"""A graceful scale-down while both workers have a batch in flight, on the real broker and database:
the leaving worker finishes its batch (stores, publishes and commits it) before it gives its
partition up, and the survivor continues from there, so every submission is answered exactly once.

Every image sits on an HTTP host that answers after ``DELAY_S``, so the SIGTERM always lands
while the leaving worker's batch is being fetched. This is a regression check of the hand-over,
not a reproduction of the race fixed in 089fbf6: run against that stop code (the
``EnrichApp._on_partitions_revoked`` override and ``gate.settle`` removed) it passes too, 2 of 2
runs, and so did a variant that held the batch in its store (the classification table locked)
while a third worker joined. The old race needs a rebalance that moves the leaving worker's
partition away while it is stopping, which neither provoked; the unit test of the stop-time
revocation (tests/unit/test_enrich.py) is what fails without the fix.
"""

from __future__ import annotations

import asyncio
import struct
from collections import Counter
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CoordinatorLoadInProgressError, GroupCoordinatorNotAvailableError

from hanger import topics
from hanger.events import Portal, ProductEnriched, decode
from hanger.kafka import EventProducer
from hanger.settings import Settings
from tests.conftest import read_topic
from tests.e2e.test_enrich_slice import product
from tests.reliability.harness import _ImageHost, image_host, start_worker
from tests.workers import stop

pytestmark = pytest.mark.reliability

N = 32
DELAY_S = 2.0  # under the harness workers' image fetch timeout (3 s)


def _partitions(assignment: bytes) -> list[int]:
    """Partitions in a consumer-protocol member assignment (version, [topic, [partition]], …)."""
    offset, owned = 2, []
    (n_topics,) = struct.unpack_from(">i", assignment, offset)
    offset += 4
    for _ in range(n_topics):
        (name_len,) = struct.unpack_from(">h", assignment, offset)
        offset += 2 + name_len
        (n_partitions,) = struct.unpack_from(">i", assignment, offset)
        offset += 4
        owned += struct.unpack_from(f">{n_partitions}i", assignment, offset)
        offset += 4 * n_partitions
    return owned


async def each_member_owns_a_partition(settings: Settings, members: int, timeout_s: float) -> bool:
    """Wait until the enrich group is stable with ``members`` members, each owning a partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            try:
                [response] = await admin.describe_consumer_groups([settings.group("enrich")])
            except (GroupCoordinatorNotAvailableError, CoordinatorLoadInProgressError):
                await asyncio.sleep(0.5)  # a fresh broker: __consumer_offsets is still being made
                continue
            [group] = response.to_object()["groups"]
            owned = [_partitions(m["member_assignment"]) for m in group["members"]
                     if m["member_assignment"]]
            if group["state"] == "Stable" and len(owned) == members and all(owned):
                return True
            await asyncio.sleep(0.5)
        return False
    finally:
        await admin.close()


async def test_a_worker_stopped_mid_batch_hands_over_without_a_second_answer(
    settings: Settings, producer: EventProducer, tmp_path: Path, unique: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_ImageHost, "delay_s", DELAY_S)
    log = tmp_path / "workers.log"
    with image_host() as host:
        events = [product(tmp_path, list(Portal)[i % 3], f"{unique}-{i}", "T101",
                          (f"{host}/slow/{i}.png",)) for i in range(N)]
        leaver = start_worker(settings, tmp_path, log, "w1")
        survivor = start_worker(settings, tmp_path, log, "w2")
        try:
            assert await each_member_owns_a_partition(settings, 2, 120), log.read_text()[-3000:]
            await producer.send_many([(topics.SUBMISSIONS, e.submission_id, e) for e in events])
            first = await read_topic(settings, topics.ENRICHED, 1, timeout_s=120)
            assert first, f"no answer; {log.read_text()[-3000:]}"
            # Now a batch is in flight on each worker (every fetch takes DELAY_S): stop one.
            await asyncio.sleep(DELAY_S / 4)
            await asyncio.to_thread(stop, leaver, 60, must_exit=True)
            await read_topic(settings, topics.ENRICHED, N, timeout_s=120)
            # A second answer would come right at the hand-over; give it time to show.
            answers = await read_topic(settings, topics.ENRICHED, N + 1, timeout_s=10)
        finally:
            stop(leaver)
            stop(survivor)
    per = Counter(decode(ProductEnriched, v).submission_id for _, v in answers)
    twice = sorted(k for k, c in per.items() if c > 1)
    missing = {e.submission_id for e in events} - set(per)
    assert (len(twice), len(missing)) == (0, 0), (
        f"answered twice: {len(twice)}, missing: {len(missing)}; {log.read_text()[-4000:]}")
    assert leaver.returncode == 0, log.read_text()[-3000:]  # a graceful stop, not a crash
