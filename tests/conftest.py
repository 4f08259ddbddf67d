"""Shared fixtures. Integration/e2e fixtures talk to the real Kafka broker and PostgreSQL server
that `hanger dev up` starts (scripts/test does it); when they are not running, those tests fail
with a message saying so — they never silently skip.

Isolation: each test gets a unique topic prefix (its own topics) and unique product ids.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from hanger.kafka import EventProducer, create_topics, delete_topics_with_prefix
from hanger.settings import Settings

REPO = Path(__file__).resolve().parent.parent


def _reachable(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    settings = Settings()
    missing = [
        name for name, port in (("Kafka", settings.kafka_port), ("PostgreSQL", settings.postgres_port))
        if not _reachable(port)
    ]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not running: start them with `hanger dev up`", False)
    return settings


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def settings(base_settings: Settings, unique: str) -> AsyncIterator[Settings]:
    """Settings with this test's own topic prefix, all registry topics created (2 partitions);
    the topics are deleted afterwards, so a long-lived dev broker does not pile up partitions."""
    settings = base_settings.model_copy(
        update={"topic_prefix": f"t{unique}.", "topic_partitions": 2, "image_root": REPO}
    )
    await create_topics(settings)
    yield settings
    await delete_topics_with_prefix(settings)


@pytest.fixture
async def producer(settings: Settings) -> AsyncIterator[EventProducer]:
    async with EventProducer(settings) as p:
        yield p


@pytest.fixture
async def db(base_settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(base_settings.database_url.get_secret_value(), min_size=1, max_size=4)
    assert pool is not None
    yield pool
    await pool.close()


@pytest.fixture
async def fresh_database(base_settings: Settings, unique: str) -> AsyncIterator[str]:
    """A new, empty database on the local server for this test (its DSN); dropped afterwards."""
    admin = await asyncpg.connect(base_settings.database_url.get_secret_value())
    name = f"test_{unique}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base_settings.database_url.get_secret_value().rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


ConsumeAll = Callable[..., "asyncio.Future[list[tuple[bytes | None, bytes]]]"]


async def read_topic(
    settings: Settings, topic: str, expected: int, timeout_s: float = 60.0
) -> list[tuple[bytes | None, bytes]]:
    """Read a topic from the start (read_committed) until `expected` messages or the timeout."""
    consumer = AIOKafkaConsumer(
        settings.topic(topic), bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest", enable_auto_commit=False,
        isolation_level="read_committed", group_id=None,
    )
    await consumer.start()
    out: list[tuple[bytes | None, bytes]] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(out) < expected and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                out.extend((r.key, r.value or b"") for r in records)
        # Linger briefly so duplicates beyond `expected` would be seen too.
        batch = await consumer.getmany(timeout_ms=500)
        for records in batch.values():
            out.extend((r.key, r.value or b"") for r in records)
    finally:
        await consumer.stop()
    return out
