"""Profile the enrich worker under load with py-spy (``pip install py-spy``; not a dependency).

``python -m bench.profile_stream [seconds]``: starts a worker with the deployment defaults, sends a
burst of submissions (the shared clothing photos), records the worker's threads with py-spy for
``seconds`` and prints where the samples went: by thread role (event loop, inference threads,
others) and the top functions of the event-loop thread (its work is what competes with inference
for the two cores). Speedscope JSON of the run is written next to the worker log.
"""

from __future__ import annotations

import asyncio
import collections
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from bench.bench_stream import _images, _send_paced, _submissions, _Worker
from hanger.kafka import create_topics
from hanger.settings import Settings


def _summarise(raw: Path) -> None:
    by_thread: collections.Counter[str] = collections.Counter()
    loop_leaf: collections.Counter[str] = collections.Counter()
    loop_self: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = stack.split(";")
        thread = frames[0]
        total += count
        role = ("inference" if "classify" in stack and "run_in_executor" not in stack
                else "event loop" if "run_forever" in stack or "asyncio" in stack else "other")
        by_thread[role] += count
        if role == "event loop":
            ours = [f for f in frames if "/work/" in f and ".venv" not in f]
            loop_leaf[ours[-1] if ours else frames[-1]] += count
            loop_self[frames[-1]] += count
        del thread
    print(f"samples: {total}")
    for role, n in by_thread.most_common():
        print(f"  {role:12s} {n / total:6.1%}")
    print("event loop, by innermost project frame:")
    for name, n in loop_leaf.most_common(15):
        print(f"  {n / total:6.1%}  {name[:150]}")
    print("event loop, by innermost frame:")
    for name, n in loop_self.most_common(15):
        print(f"  {n / total:6.1%}  {name[:150]}")


async def _main(seconds: int) -> None:
    base = Settings()
    settings = base.model_copy(update={"topic_prefix": f"prof{uuid.uuid4().hex[:8]}.",
                                       "topic_partitions": 6})
    await create_topics(settings)
    scratch = Path(tempfile.mkdtemp(prefix="hanger-profile-"))
    images = _images(scratch)
    import os

    root = Path(os.path.commonpath([str(p.parent) for p in images]))
    worker = _Worker(settings, root, scratch / "worker.log")
    try:
        await _send_paced(settings, _submissions(images, 4, "warm"), None)
        await asyncio.sleep(8)  # model loaded, group joined
        burst = asyncio.create_task(_send_paced(settings, _submissions(images, 3000, "prof"), None))
        await asyncio.sleep(2)
        raw = scratch / "profile.txt"
        await asyncio.to_thread(subprocess.run, [
            str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(worker.proc.pid),
            "-d", str(seconds), "-r", "100", "-f", "raw", "-o", str(raw), "--threads", "--subprocesses",
        ], check=True, capture_output=True)
        burst.cancel()
        _summarise(raw)
        print(f"raw profile: {raw}")
    finally:
        worker.stop()


if __name__ == "__main__":
    asyncio.run(_main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
