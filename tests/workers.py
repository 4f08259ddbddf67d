"""Worker processes for e2e and reliability tests: the real `hanger worker …` command line, in its
own process group (so a SIGKILL takes its threads and children with it), on the test's topics.

One place for how a test starts, kills and stops a worker, so every test runs workers the way
production does (a supervisor sends SIGTERM, waits, then SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from hanger.settings import Settings


def worker_env(settings: Settings, image_root: Path, **overrides: str) -> dict[str, str]:
    """The environment of a worker on this test's topics, reading images under ``image_root``."""
    return {
        **os.environ,
        "HANGER_TOPIC_PREFIX": settings.topic_prefix,
        "HANGER_IMAGE_ROOT": str(image_root),
        "HANGER_WORKER_ID": "e2e",
        "HANGER_STATE_DIR": str(image_root / "state"),
        **overrides,
    }


def spawn(kind: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``hanger worker <kind>``; its output is appended to ``log``."""
    return subprocess.Popen(
        [sys.executable, "-m", "hanger.cli", "worker", kind],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker's whole process group (a crash) and reap it."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)


def stop(proc: subprocess.Popen[bytes], grace_s: float = 30, *, must_exit: bool = False) -> None:
    """Stop as a supervisor would: SIGTERM, then SIGKILL after ``grace_s``. With ``must_exit``,
    a worker that ignores SIGTERM for ``grace_s`` fails the test (after being killed)."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired as exc:
        kill(proc)
        if must_exit:
            raise AssertionError(f"worker {proc.pid} did not exit within {grace_s} s of SIGTERM") from exc
