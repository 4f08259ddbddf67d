"""A worker that cannot start must say so by exiting, on the real broker: faust alone would log the
agent's crash and restart it in the same process every few seconds, for good, so the supervisor saw
a live process that never took a record."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hanger.settings import Settings
from tests.workers import kill, spawn, worker_env

pytestmark = pytest.mark.reliability


def test_a_worker_that_cannot_reach_postgres_exits_for_a_restart(
    settings: Settings, tmp_path: Path,
) -> None:
    log = tmp_path / "worker.log"
    proc = spawn("enrich", worker_env(
        settings, tmp_path,
        HANGER_DATABASE_URL="postgresql://hanger@127.0.0.1:1/hanger",  # nothing listens on port 1
        HANGER_RETRY_ATTEMPTS="2", HANGER_RETRY_INITIAL_S="0.1", HANGER_RETRY_MAX_S="0.2"), log)
    try:
        code = proc.wait(90)
    except subprocess.TimeoutExpired:
        kill(proc)
        raise AssertionError(f"still running 90 s on: {log.read_text()[-2000:]}") from None
    text = log.read_text()
    assert code == 75, text[-2000:]
    assert "cannot reach PostgreSQL" in text
    assert text.count("transient failure, retrying") >= 2  # it waited for the database first
