"""The vertical slice on real parts: ProductSubmitted on the real broker → the enrich worker (a real
faust worker process with the committed ONNX model) → PostgreSQL rows → ProductEnriched /
ApprovalRequested / DeadLetter on their topics. Counts reconciled exactly, bad input included,
and a re-sent submission is answered again without a second MD request."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from PIL import Image

from hanger import topics
from hanger.events import (
    ApprovalRequested,
    DeadLetter,
    DeclaredCategory,
    ImageRef,
    Portal,
    ProductEnriched,
    ProductSubmitted,
    decode,
    encode,
    submission_id_for,
    utcnow,
)
from hanger.kafka import EventProducer
from hanger.settings import Settings
from tests.conftest import read_topic
from tests.workers import spawn, stop, worker_env

pytestmark = pytest.mark.e2e


@pytest.fixture
def enrich_worker(settings: Settings, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = spawn("enrich", worker_env(settings, tmp_path), tmp_path / "worker.log")
    yield proc
    stop(proc)
    print((tmp_path / "worker.log").read_text(errors="replace")[-3000:])


def product(tmp_path: Path, portal: Portal, pid: str, declared: str | None,
            images: tuple[str, ...]) -> ProductSubmitted:
    return ProductSubmitted(
        submission_id=submission_id_for(portal, pid), portal=portal, seller_id="e2e-seller",
        portal_product_id=pid, submitted_at=utcnow(), title=f"상품 {pid}",
        declared_category=DeclaredCategory(portal_code="X", taxonomy_id=declared),
        images=tuple(ImageRef(uri=u, role="main" if i == 0 else "detail", order=i)
                     for i, u in enumerate(images)),
        native={"id": pid, "keep": {"me": ["intact", 1]}},
    )


async def test_submissions_flow_through_the_worker_to_db_and_topics(
    settings: Settings, producer: EventProducer, tmp_path: Path, unique: str,
    db: asyncpg.Pool, enrich_worker: subprocess.Popen[bytes],
) -> None:
    picture = tmp_path / "garment.png"
    Image.new("RGB", (256, 256), (200, 30, 30)).save(picture)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    good = [
        product(tmp_path, portal, f"{unique}-{i}", "T101", (picture.as_uri(),))
        for i, portal in enumerate(Portal)
    ]
    troubled = [
        product(tmp_path, Portal.TMON, f"{unique}-broken", "T201", ((tmp_path / "broken.jpg").as_uri(),)),
        product(tmp_path, Portal.TMON, f"{unique}-escape", None, ("file:///etc/passwd",)),
    ]
    valid = good + troubled
    raw_good = encode(good[0])
    malformed = [b"not json", raw_good.replace(b'"schema_version":1', b'"schema_version":7'),
                 raw_good[:-1] + b',"unexpected":true}']
    for event in valid:
        await producer.send(topics.SUBMISSIONS, event.submission_id, event)
    for raw in malformed:
        await producer.send(topics.SUBMISSIONS, "bad", raw)
    await producer.send(topics.SUBMISSIONS, good[0].submission_id, good[0])  # portal re-sends

    enriched = [decode(ProductEnriched, v)
                for _, v in await read_topic(settings, topics.ENRICHED, len(valid) + 1, 180)]
    letters = [decode(DeadLetter, v) for _, v in await read_topic(settings, topics.DLQ, 3, 30)]
    requests = [decode(ApprovalRequested, v)
                for _, v in await read_topic(settings, topics.APPROVAL_REQUESTS, 1, 10)]

    # Every valid submission answered; the re-sent one answered again with the same result.
    by_id: dict[str, list[ProductEnriched]] = {}
    for e in enriched:
        by_id.setdefault(e.submission_id, []).append(e)
    assert set(by_id) == {e.submission_id for e in valid}
    assert len(enriched) == len(valid) + 1
    assert by_id[good[0].submission_id][0] == by_id[good[0].submission_id][1]
    for e in good:
        answer = by_id[e.submission_id][0]
        assert answer.submission.native == {"id": e.portal_product_id, "keep": {"me": ["intact", 1]}}
        assert answer.classification is not None
        assert answer.classification.model.sha256

    broken = by_id[troubled[0].submission_id][0]
    assert broken.classification is None and broken.route.kind == "needs_md"
    assert broken.flags.image_problems  # the undecodable image is named as the problem
    escape = by_id[troubled[1].submission_id][0]
    assert escape.flags.image_problems == ("image[0]: path_outside_root",)
    assert escape.flags.unmapped_declared_category

    # Exactly one MD request per submission that needs one, never two for the re-sent one.
    needs_md = {sid for sid, es in by_id.items() if es[0].route.kind == "needs_md"}
    assert sorted(r.submission_id for r in requests) == sorted(needs_md)

    # Bad input kept, with reasons, and the worker went on.
    assert sorted(letter.code for letter in letters) == ["invalid_event", "not_json", "wrong_schema_version"]

    # The database agrees with the topics.
    rows = await db.fetch(
        "SELECT submission_id, route FROM classification WHERE submission_id = ANY($1)",
        [e.submission_id for e in valid],
    )
    assert {r["submission_id"]: r["route"] for r in rows} == {
        sid: es[0].route.kind.value for sid, es in by_id.items()
    }
    assert await db.fetchval(
        "SELECT count(*) FROM approval_request WHERE submission_id = ANY($1) AND status = 'pending'",
        list(needs_md),
    ) == len(needs_md)
