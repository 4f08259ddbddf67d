"""``hanger demo``: the main job end to end on sample data, on the local Kafka + PostgreSQL.

Seeds MDs and sellers, publishes sample submissions from all three portals (plus one malformed
message, to show the dead-letter path), runs the enrich worker (a faust worker) and the registrar as
real separate processes, waits for every answer, lets the MDs decide what was sent to them
(override on a category mismatch, reject without a usable image, approve otherwise), waits for the
registrations, stops the workers and prints what happened.

Images come from ``--images`` (a folder of photos, e.g. ``../shared/data/clothing``); without
one, small pictures are drawn locally so the demo runs anywhere.

Running it twice is fine: submission ids are deterministic, so the second run is answered from the
dedupe records (same results, no new MD requests).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from hanger import topics
from hanger.events import (
    ApprovalDecided,
    DeadLetter,
    DeclaredAttributes,
    DeclaredCategory,
    ImageRef,
    Portal,
    ProductEnriched,
    ProductRegistered,
    ProductSubmitted,
    decode,
    submission_id_for,
)
from hanger.kafka import EventProducer, create_topics
from hanger.settings import Settings

SEED_DIR = Path(__file__).resolve().parent.parent / "samples" / "seed"

# (portal, seller, product id, title, declared taxonomy id, portal category code, wanted label)
SAMPLES: tuple[tuple[Portal, str, str, str, str, str, str], ...] = (
    (Portal.COUPANG_WINGS, "A00012345", "CW-90001", "여성 베이직 반팔 티셔츠", "T101", "69182", "T-Shirt"),
    (Portal.COUPANG_WINGS, "A00012345", "CW-90002", "여성 와이드 슬랙스", "T201", "69201", "Pants"),
    (Portal.COUPANG_WINGS, "A00012345", "CW-90003", "플라워 롱 원피스", "T301", "69301", "Dress"),
    (Portal.TMON, "TM-778812", "TM-50001", "여성 캐주얼 스니커즈", "T601", "TM-SH01", "Shoes"),
    (Portal.TMON, "TM-778812", "TM-50002", "오버핏 울 코트", "T401", "TM-OU01", "Outwear"),
    # The seller files shorts under skirts: the model should disagree and send it to an MD.
    (Portal.TMON, "TM-778812", "TM-50003", "여름 데님 반바지", "T203", "TM-SK01", "Shorts"),
    (Portal.WEMAKEPRICE, "WMP-55120", "WM-30001", "린넨 셔츠 블라우스", "T103", "WM-100311", "Shirt"),
    (Portal.WEMAKEPRICE, "WMP-55120", "WM-30002", "데일리 볼캡 모자", "T701", "WM-100711", "Hat"),
    (Portal.WEMAKEPRICE, "WMP-55120", "WM-30003", "기본 긴팔 티셔츠", "T102", "WM-100112", "Longsleeve"),
)


@dataclass(frozen=True)
class DemoResult:
    enriched: list[ProductEnriched]
    dead_letters: list[DeadLetter]
    elapsed_s: float
    decisions: dict[str, ApprovalDecided]
    registered: dict[str, ProductRegistered]


def pick_images(folder: Path | None, scratch: Path) -> dict[str, Path]:
    """One photo per wanted label: from a labelled folder (images.csv + images/), any folder of
    photos (in name order), or drawn locally."""
    wanted = [s[6] for s in SAMPLES]
    if folder is not None:
        index = folder / "images.csv"
        if index.exists():
            chosen: dict[str, Path] = {}
            with index.open(encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    path = folder / "images" / f"{row['image']}.jpg"
                    if row["label"] in wanted and row["label"] not in chosen and path.exists() \
                            and row.get("kids") != "True":
                        chosen[row["label"]] = path
            if len(chosen) == len(set(wanted)):
                return chosen
        photos = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if photos:
            return {label: photos[i % len(photos)] for i, label in enumerate(wanted)}
    return _draw_images(scratch, wanted)


# Flat-lay silhouettes (polygons on a 320×400 canvas) per wanted label, so a demo without photos
# still shows garments of different shapes rather than one picture nine times.
_SHAPES: dict[str, tuple[tuple[tuple[int, int], ...], ...]] = {
    "T-Shirt": (((110, 60), (210, 60), (290, 120), (255, 165), (225, 140), (225, 340), (95, 340),
                 (95, 140), (65, 165), (30, 120)),),
    "Longsleeve": (((110, 60), (210, 60), (300, 300), (265, 310), (225, 160), (225, 340),
                    (95, 340), (95, 160), (55, 310), (20, 300)),),
    "Shirt": (((120, 55), (160, 80), (200, 55), (290, 280), (260, 290), (225, 170), (225, 345),
               (95, 345), (95, 170), (60, 290), (30, 280)),),
    "Outwear": (((115, 40), (205, 40), (300, 320), (262, 330), (230, 170), (235, 385), (85, 385),
                 (90, 170), (58, 330), (20, 320)),),
    "Dress": (((125, 30), (195, 30), (205, 140), (270, 380), (50, 380), (115, 140)),),
    "Pants": (((90, 30), (230, 30), (250, 380), (180, 380), (160, 140), (140, 380), (70, 380)),),
    "Shorts": (((80, 120), (240, 120), (265, 290), (180, 300), (160, 200), (140, 300), (55, 290)),),
    "Shoes": (((40, 250), (150, 235), (200, 190), (250, 190), (285, 250), (285, 290), (40, 290)),),
    "Hat": (((90, 230), (100, 150), (160, 115), (220, 150), (230, 230)),
            ((60, 230), (300, 230), (300, 255), (60, 255))),
}


def _draw_images(scratch: Path, labels: list[str]) -> dict[str, Path]:
    from PIL import Image, ImageDraw

    scratch.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, label in enumerate(labels):
        img = Image.new("RGB", (320, 400), (245, 245, 240))
        draw = ImageDraw.Draw(img)
        colour = (40 + 20 * i, 90, 160 - 10 * i)
        for polygon in _SHAPES.get(label, _SHAPES["T-Shirt"]):
            draw.polygon(polygon, fill=colour)
        path = scratch / f"{label}.png"
        img.save(path)
        out[label] = path
    return out


def build_submissions(images: dict[str, Path]) -> list[ProductSubmitted]:
    events = []
    for portal, seller, pid, title, declared, code, label in SAMPLES:
        events.append(
            ProductSubmitted(
                submission_id=submission_id_for(portal, pid),
                portal=portal,
                seller_id=seller,
                portal_product_id=pid,
                submitted_at=dt.datetime.now(dt.UTC),
                title=title,
                declared_category=DeclaredCategory(portal_code=code, taxonomy_id=declared),
                images=(ImageRef(uri=images[label].resolve().as_uri(), role="main", order=0),),
                attributes=DeclaredAttributes(material="면 100%", size="FREE", country="대한민국"),
                native={"productId": pid, "categoryCode": code, "name": title},
            )
        )
    return events


async def _publish(settings: Settings, events: list[ProductSubmitted]) -> None:
    async with EventProducer(settings) as producer:
        for event in events:
            await producer.send(topics.SUBMISSIONS, event.submission_id, event)
        await producer.send(topics.SUBMISSIONS, "demo-malformed", b'{"schema_version": 1, "oops"')


def served_model_version(settings: Settings) -> str:
    """The version of the model the enrich worker will load (HANGER_MODEL_PATH or the committed
    one), read from its metadata: results of other models on the topic are not this run's."""
    from inference.classifier import default_model_path

    path = settings.model_path or default_model_path()
    return str(json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))["version"])


async def _collect(settings: Settings, ids: set[str], timeout_s: float,
                   model_version: str | None = None) -> tuple[
        dict[str, ProductEnriched], list[DeadLetter]]:
    """The enriched answers to ``ids`` (of ``model_version``'s model, when given: a second run with
    another model must wait for its own answers, not show the earlier ones) and the dead letter of
    the malformed message."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        settings.topic(topics.ENRICHED), settings.topic(topics.DLQ),
        **settings.kafka_client_options(), group_id=None, auto_offset_reset="earliest",
        enable_auto_commit=False, isolation_level="read_committed",
    )
    await consumer.start()
    found: dict[str, ProductEnriched] = {}
    letters: list[DeadLetter] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not (ids <= found.keys() and letters):
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for r in records:
                    if r.topic == settings.topic(topics.DLQ):
                        letter = decode(DeadLetter, r.value or b"")
                        if letter.original_key_b64 == "ZGVtby1tYWxmb3JtZWQ=":  # b"demo-malformed"
                            letters = [letter]
                    else:
                        event = decode(ProductEnriched, r.value or b"")
                        model = event.classification.model if event.classification else None
                        if event.submission_id in ids and (
                                model is None or model_version in (None, model.version)):
                            found[event.submission_id] = event
    finally:
        await consumer.stop()
    return found, letters


async def _prepare(settings: Settings) -> None:
    from db.cli import migrate_database
    from db.seed import seed

    await create_topics(settings)
    await migrate_database(settings)
    root = SEED_DIR
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        await seed(conn, root / "mds.csv", root / "sellers.csv")
    finally:
        await conn.close()


def run_demo(settings: Settings, images_folder: Path | None, timeout_s: float = 180) -> DemoResult:
    started = time.monotonic()
    asyncio.run(_prepare(settings))
    images = pick_images(images_folder, settings.state_dir / "demo-images")
    events = build_submissions(images)
    common = os.path.commonpath([str(p.resolve().parent) for p in images.values()])
    env = {**os.environ, "HANGER_IMAGE_ROOT": common}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "hanger.cli", "worker", name], env=env,
            stdout=subprocess.DEVNULL,
            stderr=(settings.state_dir / f"demo-{name}.log").open("wb"),
            start_new_session=True,
        )
        for name in ("enrich", "registrar")
    ]
    try:
        asyncio.run(_publish(settings, events))
        found, letters = asyncio.run(
            _collect(settings, {e.submission_id for e in events}, timeout_s,
                     served_model_version(settings))
        )
        ordered = [found[e.submission_id] for e in events if e.submission_id in found]
        decisions = md_decisions(ordered)
        asyncio.run(_decide(settings, decisions))
        expected = {e.submission_id for e in ordered if e.route.kind.value == "auto_approved"} | {
            d.submission_id for d in decisions if d.decision.value in ("approve", "override")}
        registered = asyncio.run(_registered(settings, expected, timeout_s))
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
    return DemoResult(ordered, letters, time.monotonic() - started,
                      {d.submission_id: d for d in decisions}, registered)


def md_decisions(enriched: list[ProductEnriched]) -> list[ApprovalDecided]:
    """What the demo's MDs decide: agree with the model on a category mismatch (override to the
    prediction when it is confident, else keep the seller's), reject what has no usable image,
    approve the rest."""
    from db.md_cli import build_decision
    from hanger.events import DecisionKind
    from hanger.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    decisions = []
    for e in enriched:
        if e.route.kind.value != "needs_md" or not e.route.md_id:
            continue
        c = e.classification
        if c is None:
            kind, tid, reason = DecisionKind.REJECT, None, "상품 이미지를 확인할 수 없습니다"
        elif "category_mismatch" in e.route.reasons and c.confidence >= 0.9:
            kind, tid, reason = DecisionKind.OVERRIDE, c.taxonomy_id, "모델 분류가 맞음"
        elif "category_mismatch" in e.route.reasons and e.submission.declared_category.taxonomy_id:
            # The model was unsure and disagrees: the MD looks and keeps the seller's category.
            kind, tid, reason = (DecisionKind.OVERRIDE, e.submission.declared_category.taxonomy_id,
                                 "판매자 분류가 맞음")
        else:
            kind, tid, reason = DecisionKind.APPROVE, None, None
        decisions.append(build_decision(
            md_id=e.route.md_id if e.route.md_id != "MD-QUEUE" else "MD-1001",
            submission_id=e.submission_id, kind=kind, taxonomy_id=tid, attributes={},
            reason=reason, taxonomy=taxonomy,
        ))
    return decisions


async def _decide(settings: Settings, decisions: list[ApprovalDecided]) -> None:
    from db.md_cli import publish_decisions

    await publish_decisions(settings, decisions)


async def _registered(
    settings: Settings, ids: set[str], timeout_s: float
) -> dict[str, ProductRegistered]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        settings.topic(topics.REGISTERED), **settings.kafka_client_options(), group_id=None,
        auto_offset_reset="earliest", enable_auto_commit=False, isolation_level="read_committed",
    )
    await consumer.start()
    found: dict[str, ProductRegistered] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not ids <= found.keys():
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for r in records:
                    event = decode(ProductRegistered, r.value or b"")
                    if event.submission_id in ids:
                        found[event.submission_id] = event
    finally:
        await consumer.stop()
    return found


def print_result(result: DemoResult, expected: int) -> None:
    from hanger.cli import _table
    from hanger.taxonomy import load_taxonomy

    tax = load_taxonomy()
    rows = []
    for e in result.enriched:
        s, c = e.submission, e.classification
        declared = s.declared_category.taxonomy_id
        rows.append((
            s.portal.value, s.portal_product_id, s.title,
            f"{declared} {tax.node(declared).ko}" if declared else s.declared_category.portal_code,
            f"{c.taxonomy_id} {c.label_ko} ({c.confidence:.0%})" if c else "—",
            e.route.kind.value,
            (e.route.md_id or "") + (f" [{', '.join(e.route.reasons)}]" if e.route.reasons else ""),
            _decision_text(result.decisions.get(s.submission_id)),
            _registered_text(result.registered.get(s.submission_id), tax),
        ))
    _table("Clothes Hanger demo: submission → predicted vs declared → route → registered",
           ("portal", "product", "title", "declared", "predicted", "route", "MD [reasons]",
            "MD decision", "registered"), rows)
    for letter in result.dead_letters:
        print(f"dead-lettered: stage={letter.stage} code={letter.code} — {letter.message[:120]}")
    auto = sum(e.route.kind.value == "auto_approved" for e in result.enriched)
    print(f"{len(result.enriched)}/{expected} submissions enriched ({auto} auto-approved, "
          f"{len(result.enriched) - auto} sent to MDs), {len(result.decisions)} MD decisions, "
          f"{len(result.registered)} registered in PostgreSQL, {len(result.dead_letters)} "
          f"dead-lettered, in {result.elapsed_s:.1f}s")


def _decision_text(decision: ApprovalDecided | None) -> str:
    if decision is None:
        return ""
    extra = f" → {decision.taxonomy_id}" if decision.taxonomy_id else ""
    return f"{decision.md_id}: {decision.decision.value}{extra}"


def _registered_text(event: ProductRegistered | None, tax: object) -> str:
    if event is None:
        return "—"
    return f"#{event.product_id} {event.taxonomy_id} by {event.decided_by}"


def cmd_demo(args: object) -> int:
    settings: Settings = args.settings  # type: ignore[attr-defined]
    folder = Path(args.images) if args.images else None  # type: ignore[attr-defined]
    if folder is None:
        default = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "clothing"
        folder = default if default.exists() else None
    result = run_demo(settings, folder)
    print_result(result, len(SAMPLES))
    expected_registered = sum(e.route.kind.value == "auto_approved" for e in result.enriched) + sum(
        d.decision.value in ("approve", "override") for d in result.decisions.values())
    complete = (len(result.enriched) == len(SAMPLES) and bool(result.dead_letters)
                and len(result.registered) == expected_registered)
    return 0 if complete else 1
