"""End to end: submissions/s through the whole stream (Kafka → faust worker → fetch → ONNX → PostgreSQL
→ transactional publish) vs the bare inference path (read + decode + preprocess + ORT of the same
images, one submission at a time, same thread settings, no Kafka/DB) in one run; raw ORT on
pre-decoded tensors for reference; end-to-end latency p50/p95/p99 at 50 %, 80 % and 100 % of the
sustained rate; and replay events/s vs a raw aiokafka consume+produce loop over the same range.

Images: the labelled photos in ../shared/data/clothing when present (read in place), else drawn.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.cpu import CpuMeter, everything_else_on, infra_pids
from hanger import topics
from hanger.events import (
    DeclaredCategory,
    ImageRef,
    Portal,
    ProductEnriched,
    ProductSubmitted,
    decode,
    submission_id_for,
    utcnow,
)
from hanger.kafka import EventProducer, create_topics, delete_topics_with_prefix
from hanger.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "clothing" / "images"
N_IMAGES = 64
N_THROUGHPUT = 600
N_ISOLATED = 300
N_REPLAY = 20_000
BARE_CPU_S: list[float] = []  # CPU seconds per submission of the bare path (all its threads)
THREADS = 2


def _images(scratch: Path) -> list[Path]:
    if SHARED.exists():
        return sorted(SHARED.glob("*.jpg"))[:N_IMAGES]
    from PIL import Image

    scratch.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(N_IMAGES):
        path = scratch / f"b{i}.jpg"
        Image.new("RGB", (800, 1000), (i * 3 % 255, 120, 200 - i)).save(path, quality=90)
        out.append(path)
    return out


def _submissions(images: list[Path], n: int, tag: str) -> list[ProductSubmitted]:
    return [
        ProductSubmitted(
            submission_id=submission_id_for(Portal.TMON, f"{tag}-{i}"), portal=Portal.TMON,
            seller_id="bench", portal_product_id=f"{tag}-{i}", submitted_at=utcnow(),
            title="bench", declared_category=DeclaredCategory(portal_code="X", taxonomy_id="T101"),
            images=(ImageRef(uri=images[i % len(images)].as_uri(), role="main", order=0),),
            native={},
        )
        for i in range(n)
    ]


def bare_path(images: list[Path], n: int) -> tuple[float, float, float]:
    """The same work as the worker without Kafka, JSON or the database: read + decode + preprocess
    + ORT per submission, with the worker's default thread settings (2 inference threads × 1 ORT
    thread, in parallel). Returns (that sub/s, one session × 2 ORT threads sub/s, raw ORT img/s)."""
    from concurrent.futures import ThreadPoolExecutor

    from inference import preprocess as pp
    from inference.classifier import Classifier

    defaults = Settings()
    blobs = [p.read_bytes() for p in images]
    # the model the worker serves (HANGER_MODEL_PATH or the committed one), on both sides
    one_thread = Classifier.load(defaults.model_path, intra_op_threads=defaults.inference_threads)
    one_thread.classify_images([blobs[0]])  # warm-up
    paths = [images[i % len(images)] for i in range(n)]
    with ThreadPoolExecutor(max_workers=defaults.inference_workers) as pool:
        start, cpu = time.perf_counter(), time.process_time()
        list(pool.map(lambda p: one_thread.classify_images([p.read_bytes()]), paths))
        bare = n / (time.perf_counter() - start)
        BARE_CPU_S.append((time.process_time() - cpu) / n)
    two_threads = Classifier.load(defaults.model_path, intra_op_threads=THREADS)
    two_threads.classify_images([blobs[0]])
    start = time.perf_counter()
    for p in paths:
        two_threads.classify_images([p.read_bytes()])
    single = n / (time.perf_counter() - start)
    tensors = pp.stack([two_threads.prepare(b) for b in blobs], two_threads.image_size)
    two_threads.run(tensors)
    start = time.perf_counter()
    for _ in range(3):
        two_threads.run(tensors)
    raw = 3 * len(tensors) / (time.perf_counter() - start)
    return bare, single, raw


def bare_one_core(images: list[Path], n: int, core: int, other: int) -> float:
    """The bare path on one core: this process pinned to ``core`` and every other thread of the
    machine moved to ``other``; one session × 1 ORT thread, one submission after another (what a
    worker with 1 inference thread × 1 ORT thread does)."""
    from inference.classifier import Classifier

    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        clf = Classifier.load(Settings().model_path, intra_op_threads=1)
        clf.classify_images([images[0].read_bytes()])  # warm-up
        paths = [images[i % len(images)] for i in range(n)]
        with everything_else_on({other}, keep=[os.getpid()]):
            start = time.perf_counter()
            for p in paths:
                clf.classify_images([p.read_bytes()])
            return n / (time.perf_counter() - start)
    finally:
        os.sched_setaffinity(0, before)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class _Worker:
    def __init__(self, settings: Settings, image_root: Path, log: Path, worker_id: str = "bench",
                 cpus: set[int] | None = None, **extra_env: str) -> None:
        """A worker with the deployment defaults unless ``extra_env`` overrides them; on ``cpus``
        only when given."""
        env = {**os.environ, "HANGER_TOPIC_PREFIX": settings.topic_prefix,
               "HANGER_IMAGE_ROOT": str(image_root), "HANGER_WORKER_ID": worker_id, **extra_env}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hanger.cli", "worker", "enrich"], env=env,
            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)


async def _await_results(settings: Settings, ids: set[str], sent_at: dict[str, float],
                         timeout_s: float = 600) -> dict[str, float]:
    """Arrival time of each submission's enriched event (read_committed)."""
    consumer = AIOKafkaConsumer(settings.topic(topics.ENRICHED), bootstrap_servers=settings.kafka_bootstrap,
                                group_id=None, auto_offset_reset="earliest",
                                isolation_level="read_committed")
    await consumer.start()
    arrived: dict[str, float] = {}
    try:
        deadline = time.monotonic() + timeout_s
        while not ids <= arrived.keys() and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.monotonic()
            for records in batch.values():
                for r in records:
                    sid = decode(ProductEnriched, r.value or b"").submission_id
                    if sid in ids and sid not in arrived:
                        arrived[sid] = now
    finally:
        await consumer.stop()
    return arrived


async def _send_paced(settings: Settings, events: list[ProductSubmitted], rate: float | None
                      ) -> dict[str, float]:
    sent_at: dict[str, float] = {}
    async with EventProducer(settings) as producer:
        start = time.monotonic()
        for i, e in enumerate(events):
            if rate:
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            sent_at[e.submission_id] = time.monotonic()
            await producer.send(topics.SUBMISSIONS, e.submission_id, e)
    return sent_at


async def _stream(settings: Settings, images: list[Path], scratch: Path) -> dict[str, Any]:
    root = Path(os.path.commonpath([str(p.parent) for p in images]))
    worker = _Worker(settings, root, scratch / "bench-worker.log")
    try:
        warm = _submissions(images, 4, f"warm{uuid.uuid4().hex[:6]}")
        await _send_paced(settings, warm, None)
        await _await_results(settings, {e.submission_id for e in warm}, {}, 180)

        await asyncio.sleep(2)
        rss_idle = _rss_mb(worker.proc.pid)
        peak = [rss_idle]

        async def sample() -> None:
            while True:
                peak[0] = max(peak[0], _rss_mb(worker.proc.pid))
                await asyncio.sleep(0.2)

        sampler = asyncio.create_task(sample())
        events = _submissions(images, N_THROUGHPUT, f"tp{uuid.uuid4().hex[:6]}")
        ids = {e.submission_id for e in events}
        results_task = asyncio.create_task(_await_results(settings, ids, {}))
        meter = CpuMeter({"worker": [worker.proc.pid], **infra_pids()})
        meter.start()
        start = time.monotonic()
        sent = await _send_paced(settings, events, None)  # all at once: a burst of ~10 s of work
        arrived = await results_task
        cores = meter.stop(max(arrived.values()) - start)
        cpu_per_sub = {k: v * (max(arrived.values()) - start) / len(arrived) for k, v in cores.items()}
        sampler.cancel()
        sustained = len(arrived) / (max(arrived.values()) - start)
        memory = {"idle_mb": round(rss_idle, 1), "burst_peak_mb": round(peak[0], 1),
                  "after_mb": round(_rss_mb(worker.proc.pid), 1)}

        latency: dict[str, Any] = {}
        for share in (0.5, 0.8, 1.0):
            n = max(50, int(sustained * 15))  # ~15 s of load per level
            batch = _submissions(images, n, f"lat{int(share * 100)}{uuid.uuid4().hex[:6]}")
            ids = {e.submission_id for e in batch}
            task = asyncio.create_task(_await_results(settings, ids, {}))
            sent = await _send_paced(settings, batch, sustained * share)
            got = await task
            ms = sorted((got[s] - sent[s]) * 1000 for s in got)
            q = statistics.quantiles(ms, n=100)
            latency[f"{int(share * 100)}%"] = {"rate": round(sustained * share, 1), "n": len(ms),
                                               "p50_ms": round(q[49]), "p95_ms": round(q[94]),
                                               "p99_ms": round(q[98])}
        return {"sustained": sustained, "latency": latency, "memory": memory, "cores": cores,
                "cpu_per_sub": cpu_per_sub}
    finally:
        worker.stop()


async def _isolated(settings: Settings, images: list[Path], scratch: Path, core: int, other: int
                    ) -> tuple[float, dict[str, float]]:
    """Sustained sub/s of one worker alone on ``core`` (1 inference thread × 1 ORT thread), with the
    broker, PostgreSQL, this benchmark's clients and whatever else runs moved to ``other``: the
    production topology (broker and database on their own machines) shrunk onto one box."""
    root = Path(os.path.commonpath([str(p.parent) for p in images]))
    infra = infra_pids()
    me = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {other})
    worker = _Worker(settings, root, scratch / "bench-worker-pinned.log", "bench-pinned", cpus={core},
                     HANGER_INFERENCE_THREADS="1", HANGER_INFERENCE_WORKERS="1")
    try:
        warm = _submissions(images, 4, f"warmp{uuid.uuid4().hex[:6]}")
        await _send_paced(settings, warm, None)
        await _await_results(settings, {e.submission_id for e in warm}, {}, 180)
        await asyncio.sleep(2)
        # Every other thread on the machine — broker, PostgreSQL, this benchmark, anything else
        # running — goes to the other core for the measurement.
        with everything_else_on({other}, keep=[worker.proc.pid]):
            events = _submissions(images, N_ISOLATED, f"tpp{uuid.uuid4().hex[:6]}")
            task = asyncio.create_task(_await_results(settings, {e.submission_id for e in events}, {}))
            meter = CpuMeter({"worker": [worker.proc.pid], **infra})
            meter.start()
            start = time.monotonic()
            await _send_paced(settings, events, None)
            arrived = await task
            elapsed = max(arrived.values()) - start
            return len(arrived) / elapsed, meter.stop(elapsed)
    finally:
        worker.stop()
        os.sched_setaffinity(0, me)


async def _two_workers(settings: Settings, images: list[Path], scratch: Path) -> float:
    """Sustained sub/s with two worker processes (1 inference thread each) in one consumer group."""
    root = Path(os.path.commonpath([str(p.parent) for p in images]))
    workers = [_Worker(settings, root, scratch / f"bench-worker-{w}.log", f"bench-{w}",
                       HANGER_INFERENCE_THREADS="1", HANGER_INFERENCE_WORKERS="1")
               for w in ("a", "b")]
    try:
        warm = _submissions(images, 8, f"warm2{uuid.uuid4().hex[:6]}")
        await _send_paced(settings, warm, None)
        await _await_results(settings, {e.submission_id for e in warm}, {}, 180)
        await asyncio.sleep(3)  # let the group settle on both members
        events = _submissions(images, N_THROUGHPUT, f"tp2{uuid.uuid4().hex[:6]}")
        task = asyncio.create_task(_await_results(settings, {e.submission_id for e in events}, {}))
        start = time.monotonic()
        await _send_paced(settings, events, None)
        arrived = await task
        return len(arrived) / (max(arrived.values()) - start)
    finally:
        for w in workers:
            w.stop()


async def _replay(settings: Settings) -> dict[str, float]:
    """Replay N_REPLAY submissions vs a raw aiokafka consume+produce loop over the same range, each
    timed from before its clients start to the last acknowledgement (a replay command's wall time):
    onto another topic (bytes as they are) and back into the pipeline (each event validated and
    re-keyed by its submission id, which is what skips invalid ones)."""
    from streams.replay import ReplayPlan, replay
    from tests.unit.factories import submission

    source = "bench.replay.source"
    await create_topics(settings, [source, "bench.replay.ours", "bench.replay.raw"])
    events = [submission(f"R-{i}") for i in range(N_REPLAY)]
    async with EventProducer(settings) as producer:
        for i in range(0, len(events), 1000):
            await producer.send_many([(source, e.submission_id, e) for e in events[i:i + 1000]])
    rates: dict[str, float] = {}
    ours = await replay(settings, ReplayPlan(source=source, target="bench.replay.ours"))
    rates["ours"] = ours.sent / ours.elapsed_s
    # Into the pipeline: hanger.submissions of this run's prefix (its worker has stopped by now).
    pipeline = await replay(settings, ReplayPlan(source=source, target=None))
    rates["pipeline"] = pipeline.sent / pipeline.elapsed_s
    start = time.monotonic()
    consumer = AIOKafkaConsumer(settings.topic(source), bootstrap_servers=settings.kafka_bootstrap,
                                group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
                                isolation_level="read_committed")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=True,
                                acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    try:
        seen = 0
        while seen < N_REPLAY:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            futures = []
            for records in batch.values():
                for r in records:
                    futures.append(await producer.send(settings.topic("bench.replay.raw"), r.value, key=r.key))
                    seen += 1
            await asyncio.gather(*futures)
    finally:
        await consumer.stop()
        await producer.stop()
    rates["raw"] = seen / (time.monotonic() - start)
    return rates


def run() -> dict[str, Any]:
    scratch = REPO / ".hanger" / "bench"
    scratch.mkdir(parents=True, exist_ok=True)
    images = _images(scratch)
    bare, single_session, raw_ort = bare_path(images, 200)
    settings = Settings().model_copy(update={"topic_prefix": f"bench{uuid.uuid4().hex[:8]}.",
                                             "topic_partitions": 6})
    asyncio.run(create_topics(settings))
    stream = asyncio.run(_stream(settings, images, scratch))
    replayed = asyncio.run(_replay(settings))
    cpus = sorted(os.sched_getaffinity(0))
    core, other = cpus[0], cpus[-1]
    one_core = bare_one_core(images, 150, core, other)
    iso_settings = settings.model_copy(update={"topic_prefix": settings.topic_prefix + "iso."})
    asyncio.run(create_topics(iso_settings))
    isolated, iso_cores = asyncio.run(_isolated(iso_settings, images, scratch, core, other))
    two_settings = settings.model_copy(update={"topic_prefix": settings.topic_prefix + "w2."})
    asyncio.run(create_topics(two_settings))
    two = asyncio.run(_two_workers(two_settings, images, scratch))
    asyncio.run(delete_topics_with_prefix(settings))  # this run's topics, the iso./w2. ones too
    rows = [
        {"case": "stream: submissions/s (1 worker)", "value": round(stream["sustained"], 1),
         "unit": "sub/s", "baseline": f"{bare:.1f} sub/s bare inference path",
         "ratio": stream["sustained"] / bare, "goal": "≥ 0.90×"},
        {"case": "CPU per submission: bare path vs the worker process (CPU time, all threads; holds"
                 " when other processes share the cores)",
         "value": f"{stream['cpu_per_sub']['worker'] * 1000:.1f}", "unit": "ms",
         "baseline": f"{BARE_CPU_S[-1] * 1000:.1f} ms bare path",
         "ratio": BARE_CPU_S[-1] / stream["cpu_per_sub"]["worker"], "goal": ""},
        {"case": "same, the worker + broker + PostgreSQL together",
         "value": f"{sum(stream['cpu_per_sub'][k] for k in ('worker', 'broker', 'postgres')) * 1000:.1f}",
         "unit": "ms", "baseline": f"{BARE_CPU_S[-1] * 1000:.1f} ms bare path",
         "ratio": BARE_CPU_S[-1] / sum(stream["cpu_per_sub"][k] for k in ("worker", "broker", "postgres")),
         "goal": ""},
        {"case": "stream, isolated: 1 worker alone on one core (1 inference × 1 ORT thread); every"
                 " other thread of the machine (broker, PostgreSQL, bench clients, …) on the other",
         "value": round(isolated, 1), "unit": "sub/s",
         "baseline": f"{one_core:.1f} sub/s bare path alone on the same core (1 ORT thread)",
         "ratio": isolated / one_core, "goal": "≥ 0.90×"},
        {"case": "reference: bare path, one session × 2 ORT threads, sequential", "value": round(single_session, 1),
         "unit": "sub/s", "baseline": "", "ratio": None, "goal": ""},
        {"case": "reference: raw ORT on pre-decoded tensors (batch 16)", "value": round(raw_ort, 1),
         "unit": "img/s", "baseline": "", "ratio": None, "goal": ""},
        {"case": f"replay {N_REPLAY} submissions → another topic (bytes as they are)",
         "value": round(replayed["ours"]), "unit": "events/s",
         "baseline": f"{replayed['raw']:.0f} events/s raw aiokafka consume+produce",
         "ratio": replayed["ours"] / replayed["raw"], "goal": "≥ 0.90×"},
        {"case": "replay → the pipeline (each event validated, re-keyed by submission id)",
         "value": round(replayed["pipeline"]), "unit": "events/s",
         "baseline": f"{replayed['raw']:.0f} events/s raw aiokafka consume+produce",
         "ratio": replayed["pipeline"] / replayed["raw"], "goal": ""},
    ]
    rows.append({"case": "scaling: 2 worker processes × 1 inference thread, one consumer group", "value": round(two, 1),
                 "unit": "sub/s", "baseline": f"{stream['sustained']:.1f} sub/s 1 worker process (defaults)",
                 "ratio": two / stream["sustained"], "goal": ""})
    m = stream["memory"]
    rows.append({"case": f"worker RSS idle / peak during a burst of {N_THROUGHPUT} / after",
                 "value": f"{m['idle_mb']} / {m['burst_peak_mb']} / {m['after_mb']}", "unit": "MB",
                 "baseline": "", "ratio": None, "goal": "flat (bounded in-flight)"})
    for level, figures in stream["latency"].items():
        rows.append({"case": f"latency at {level} of sustained ({figures['rate']} sub/s, n={figures['n']})",
                     "value": f"p50 {figures['p50_ms']} / p95 {figures['p95_ms']} / p99 {figures['p99_ms']}",
                     "unit": "ms", "baseline": "", "ratio": None,
                     "goal": "p99 < 1000 ms at 80 %" if level == "80%" else ""})
    return {
        "name": "stream end to end vs bare inference path",
        "rows": rows,
        "notes": [f"{N_THROUGHPUT} submissions, one photo each ({'shared clothing photos' if SHARED.exists() else 'drawn 800×1000 JPEGs'}),"
                  " bare path and worker with the same thread settings (deployment defaults: 2 inference threads × 1 ORT"
                  " thread); worker max_in_flight 16; 6 partitions.",
                  "Replays and their raw baseline are timed from before their clients start to the"
                  " last acknowledgement (what an ops replay command takes).",
                  "Cores used during the burst (1.0 = one core busy all the time), shared run: "
                  + ", ".join(f"{k} {v}" for k, v in stream["cores"].items())
                  + "; isolated run: " + ", ".join(f"{k} {v}" for k, v in iso_cores.items())
                  + " (others = processes outside this benchmark)."],
    }
