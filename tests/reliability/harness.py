"""The fault-injection harness: a burst of submissions through supervised enrich workers on the
real broker and database, faults injected at chosen points of the run, and a reconciliation from
the source (what was sent), PostgreSQL (what was stored) and the output topics (what was
answered). Used by the CI fault tests (one fault each, a few hundred submissions) and by the soak
mode (``pytest tests/reliability --soak``: ≥ 10,000 submissions, every fault, a figures table).

The burst is not all clean: every tenth submission has a poisoned (truncated) image, one in ten
has its image on a slow HTTP host, one in ten a second image on a host that is down. Each of those
must still be answered exactly once, flagged with its image problem.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import asyncpg
from PIL import Image

from hanger import devinfra, topics
from hanger.events import ApprovalRequested, Portal, ProductEnriched, ProductSubmitted, decode
from hanger.kafka import EventProducer
from hanger.settings import Settings
from tests.conftest import read_topic
from tests.e2e.test_enrich_slice import product
from tests.workers import kill, spawn, stop, worker_env

FAULTS = ("sigkill_worker", "restart_broker", "restart_postgres", "add_worker", "remove_worker")


class _ImageHost(BaseHTTPRequestHandler):
    """/slow/<n>.png: a PNG after a delay; /down/<n>.png: 503, always."""

    png = b""
    delay_s = 0.3

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/slow/"):
            time.sleep(self.delay_s)
            status, body, ctype = 200, self.png, "image/png"
        else:
            status, body, ctype = 503, b"", "text/plain"
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


@contextmanager
def image_host() -> Iterator[str]:
    buffer = io.BytesIO()
    Image.new("RGB", (224, 224), (30, 160, 90)).save(buffer, "PNG")
    _ImageHost.png = buffer.getvalue()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _ImageHost)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


def start_worker(
    settings: Settings, root: Path, log: Path, worker_id: str = "e2e"
) -> subprocess.Popen[bytes]:
    return spawn("enrich", worker_env(
        settings, root, HANGER_WORKER_ID=worker_id, HANGER_STATE_DIR=str(root / f"state-{worker_id}"),
        HANGER_MAX_IN_FLIGHT="8", HANGER_RETRY_ATTEMPTS="30", HANGER_RETRY_MAX_S="2",
        HANGER_IMAGE_ALLOW_PRIVATE_HOSTS="true", HANGER_IMAGE_FETCH_TIMEOUT_S="3",
        HANGER_IMAGE_FETCH_RETRY_S="0.05", HANGER_BATCH_TIMEOUT_S="20"), log)


class Fleet:
    """Enrich worker processes in one consumer group, each restarted whenever it exits, as systemd
    or Kubernetes would: the worker fail-stops on errors it cannot classify, and recovery relies on
    that restart."""

    def __init__(self, settings: Settings, root: Path, log: Path) -> None:
        self.settings, self.root, self.log = settings, root, log
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.restarts = 0

    def add(self) -> None:
        worker_id = f"w{len(self.procs) + self.restarts + 1}"
        while worker_id in self.procs:
            worker_id += "x"
        self.procs[worker_id] = start_worker(self.settings, self.root, self.log, worker_id)

    def remove(self) -> None:
        worker_id = sorted(self.procs)[-1]
        stop(self.procs.pop(worker_id))

    def kill_one(self) -> None:
        kill(self.procs[sorted(self.procs)[0]])

    def check(self) -> None:
        for worker_id, proc in list(self.procs.items()):
            if proc.poll() is not None:
                self.restarts += 1
                self.procs[worker_id] = start_worker(self.settings, self.root, self.log, worker_id)

    def stop(self) -> None:
        for proc in self.procs.values():
            stop(proc)


@dataclass
class Figures:
    scenario: str
    sent: int
    enriched: int = 0
    lost: int = 0
    duplicated: int = 0
    md_requests: int = 0
    md_duplicated: int = 0
    image_problems: int = 0
    image_problems_expected: int = 0
    seconds: float = 0.0
    recovery_s: dict[str, float] = field(default_factory=dict)
    worker_restarts: int = 0

    def row(self) -> str:
        recovery = ", ".join(f"{k} {v:.1f}s" for k, v in self.recovery_s.items()) or "-"
        return (f"| {self.scenario} | {self.sent} | {self.enriched} | {self.lost} | {self.duplicated} "
                f"| {self.md_requests} | {self.md_duplicated} | {self.image_problems}/"
                f"{self.image_problems_expected} | {recovery} | {self.worker_restarts} "
                f"| {self.sent / self.seconds:.0f}/s |")

    HEADER = ("| scenario | sent | enriched | lost | duplicated | MD requests | MD duplicated "
              "| image problems (found/planted) | recovery after fault | worker restarts | rate |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|")


async def stored(dsn: str, ids: list[str]) -> int:
    try:
        conn = await asyncpg.connect(dsn, timeout=2)
        try:
            return int(await conn.fetchval(  # a timeout: a server going down never hangs the poll
                "SELECT count(*) FROM classification WHERE submission_id = ANY($1)", ids, timeout=5))
        finally:
            await conn.close()
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError):
        return -1  # the server is down (a fault in progress)


def burst(root: Path, unique: str, n: int, host: str) -> tuple[list[ProductSubmitted], set[str]]:
    """n submissions across the portals; returns them and the ids planted with image problems."""
    pictures = []
    for i in range(6):
        path = root / f"p{i}.png"
        Image.new("RGB", (224, 224), (40 * i, 90, 200 - 30 * i)).save(path)
        pictures.append(path.as_uri())
    poisoned = root / "poisoned.jpg"
    poisoned.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64)  # truncated JPEG
    events, troubled = [], set()
    for i in range(n):
        images: tuple[str, ...] = (pictures[i % len(pictures)],)
        if i % 10 == 3:
            images = (poisoned.as_uri(),)
        elif i % 10 == 5:
            images = (f"{host}/slow/{i}.png",)
        elif i % 10 == 7:
            images = (pictures[i % len(pictures)], f"{host}/down/{i}.png")
        event = product(root, list(Portal)[i % 3], f"{unique}-{i}", ("T101", None)[i % 2], images)
        events.append(event)
        if i % 10 in (3, 7):
            troubled.add(event.submission_id)
    return events, troubled


async def inject(fault: str, fleet: Fleet, base_settings: Settings) -> None:
    if fault == "sigkill_worker":
        fleet.kill_one()
    elif fault == "restart_broker":
        kafka = devinfra.LocalKafka(base_settings)
        kafka.kill()
        await asyncio.sleep(2)
        await asyncio.to_thread(kafka.up)
    elif fault == "restart_postgres":
        postgres = devinfra.LocalPostgres(base_settings)
        postgres.kill()
        await asyncio.sleep(2)
        await asyncio.to_thread(postgres.up)
    elif fault == "add_worker":
        fleet.add()
    elif fault == "remove_worker":
        fleet.remove()
    else:
        raise ValueError(fault)


async def run(
    settings: Settings, base_settings: Settings, root: Path, unique: str, *, n: int,
    faults: list[tuple[float, str]], workers: int = 1, timeout_s: float = 600,
) -> Figures:
    """Send ``n`` submissions, start ``workers`` workers, inject each fault when that fraction of
    the burst is stored, wait for all, reconcile."""
    name = "+".join(f for _, f in faults) or "none"
    with image_host() as host:
        events, troubled = burst(root, unique, n, host)
        ids = [e.submission_id for e in events]
        async with EventProducer(settings) as producer:
            for start in range(0, n, 1000):
                await producer.send_many(
                    [(topics.SUBMISSIONS, e.submission_id, e) for e in events[start:start + 1000]])
        dsn = settings.database_url.get_secret_value()
        log = root / "workers.log"
        fleet = Fleet(settings, root, log)
        figures = Figures(name, n, image_problems_expected=len(troubled))
        started = time.monotonic()
        try:
            for _ in range(workers):
                fleet.add()
            pending = sorted(faults)
            count, deadline = 0, started + timeout_s
            fault_at: tuple[str, float, int] | None = None
            while count < n and time.monotonic() < deadline:
                fleet.check()
                count = await stored(dsn, ids)
                if fault_at is not None and count >= fault_at[2] + 8:  # a batch after the fault
                    figures.recovery_s[fault_at[0]] = time.monotonic() - fault_at[1]
                    fault_at = None
                if pending and fault_at is None and count >= pending[0][0] * n:
                    fraction, fault = pending.pop(0)
                    fault_at = (f"{fault}@{fraction:.0%}", time.monotonic(), max(count, 0))
                    await inject(fault, fleet, base_settings)
                await asyncio.sleep(0.1)
            assert count == n, (f"{name}: only {count}/{n} stored after {timeout_s:.0f} s; "
                                f"workers' log:\n{log.read_text()[-6000:]}")
            if fault_at is not None:
                figures.recovery_s[fault_at[0]] = time.monotonic() - fault_at[1]
            figures.seconds = time.monotonic() - started
            fleet.check()  # a worker that exited after storing still has answers to publish
            answers = [decode(ProductEnriched, v) for _, v in
                       await read_topic(settings, topics.ENRICHED, n, timeout_s=240)]
        finally:
            fleet.stop()
    per = Counter(e.submission_id for e in answers)
    figures.enriched = len(per)
    figures.lost = len(set(ids) - set(per))
    figures.duplicated = sum(1 for c in per.values() if c > 1)
    requests = Counter(decode(ApprovalRequested, v).submission_id
                       for _, v in await read_topic(settings, topics.APPROVAL_REQUESTS, n, timeout_s=10))
    figures.md_requests = len(requests)
    figures.md_duplicated = sum(1 for c in requests.values() if c > 1)
    flagged = {a.submission_id for a in answers if a.flags.image_problems}
    figures.image_problems = len(flagged & troubled)
    assert flagged == troubled, f"image problems flagged on {len(flagged)}, planted {len(troubled)}"
    figures.worker_restarts = fleet.restarts
    return figures
