"""TransactionalPublisher.settle: before a worker gives its partitions up, it waits until the group
coordinator hands out the offsets its transactions committed (the commit markers are written after
``commit_transaction`` returns; a new owner reading before that would answer the batch again)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiokafka import TopicPartition

from hanger.kafka import TransactionalPublisher
from hanger.settings import Settings

P0, P1 = TopicPartition("subs", 0), TopicPartition("subs", 1)


class Coordinator:
    """An in-memory group coordinator whose commit markers land after ``lag`` OffsetFetches."""

    def __init__(self, committed: dict[TopicPartition, int], lag: int) -> None:
        self.committed, self.lag, self.fetches = committed, lag, 0

    async def read(self, group_id: str, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        assert group_id == "g"
        self.fetches += 1
        await asyncio.sleep(0.01)  # a round trip: other tasks run meanwhile
        stale = self.fetches <= self.lag
        return {tp: (0 if stale else self.committed[tp]) for tp in partitions}


def publisher(coordinator: Coordinator) -> TransactionalPublisher:
    return TransactionalPublisher(Settings(kafka_bootstrap="127.0.0.1:1"), "tx",
                                  read_offsets=coordinator.read)


async def test_settle_waits_until_the_committed_offsets_are_handed_out() -> None:
    coordinator = Coordinator({P0: 12, P1: 7}, lag=3)
    pub = publisher(coordinator)
    pub._remember("g", {P0: 8, P1: 7})
    pub._remember("g", {P0: 12})  # the latest transaction of each partition is what counts
    assert await pub.settle(timeout_s=2) is True
    assert coordinator.fetches == 4  # three stale answers, then the markers were written
    assert await pub.settle(timeout_s=2) is True
    assert coordinator.fetches == 4  # nothing new committed: no round trip


async def test_two_drains_at_once_settle_together() -> None:
    """A stop drains on a rebalance and on faust's on_before_shutdown at the same time (this
    raised KeyError in the first version, which made the worker's stop fail)."""
    coordinator = Coordinator({P0: 12}, lag=0)
    pub = publisher(coordinator)
    pub._remember("g", {P0: 12})
    assert await asyncio.gather(pub.settle(timeout_s=2), pub.settle(timeout_s=2)) == [True, True]
    assert coordinator.fetches == 1  # the second waited for the first, then had nothing to check


async def test_settle_gives_up_with_a_warning_instead_of_holding_a_rebalance(
    caplog: pytest.LogCaptureFixture,
) -> None:
    coordinator = Coordinator({P0: 12}, lag=10**9)
    pub = publisher(coordinator)
    pub._remember("g", {P0: 12})
    with caplog.at_level(logging.WARNING, logger="hanger.kafka"):
        assert await pub.settle(timeout_s=0.2) is False
    assert "subs[0]" in caplog.text


async def test_settle_is_immediate_when_nothing_was_committed() -> None:
    coordinator = Coordinator({}, lag=0)
    assert await publisher(coordinator).settle(timeout_s=0.1) is True
    assert coordinator.fetches == 0
