"""A seller leaves the clothing notice empty or "상세페이지 참조" and puts a photo of the care label among
the detail images (what Korean sellers do): on real parts — Coupang Wing payload on its legacy
topic → adapter bridge → enrich worker with the real OCR stage → the enriched event carries the
notice fields sourced ``ocr`` and the portal's native answer carries them in its notice fields."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from adapters.bridge import SELLER_HEADER, run_bridge
from hanger import topics
from hanger.events import AttributeSource, Portal, ProductEnriched, decode
from hanger.kafka import EventProducer
from hanger.settings import Settings
from tests.conftest import REPO, read_topic
from tests.labelgen.generate import generate
from tests.workers import spawn, worker_env
from tests.workers import stop as stop_worker

pytestmark = pytest.mark.e2e

LABEL_SEED = 10000  # a held-out seed (tuning used 0-199)
OCR_FILLED = {"제품 소재": "material", "치수": "size", "제조국": "country", "제조연월": "manufactured"}


async def test_a_care_label_photo_fills_the_notice_in_the_portals_own_answer(
    settings: Settings, producer: EventProducer, tmp_path: Path, unique: str,
) -> None:
    sample = generate(LABEL_SEED, plant=False)
    (tmp_path / "label.jpg").write_bytes(sample.jpeg_bytes())
    shutil.copy(sorted((REPO / "tests" / "fixtures" / "images").glob("*.jpg"))[0], tmp_path / "main.jpg")
    body: dict[str, Any] = json.loads(
        (REPO / "tests/fixtures/coupang_wings/seller_product.json").read_text(encoding="utf-8"))
    body["sellerProductId"], body["vendorId"] = f"CP-{unique}", f"cp-{unique}"
    body["items"] = body["items"][:1]
    item = body["items"][0]
    item["images"] = [
        {"imageOrder": 0, "imageType": "REPRESENTATION", "vendorPath": (tmp_path / "main.jpg").as_uri()},
        {"imageOrder": 1, "imageType": "DETAIL", "vendorPath": (tmp_path / "label.jpg").as_uri()},
    ]
    for notice in item["notices"]:
        if notice["noticeCategoryDetailName"] in OCR_FILLED:
            notice["content"] = "상세페이지 참조" if notice["noticeCategoryDetailName"] == "제품 소재" else ""

    log = tmp_path / "enrich.log"
    enrich = spawn("enrich", worker_env(settings, tmp_path), log)
    stop = asyncio.Event()
    bridge = asyncio.create_task(run_bridge(settings, stop))
    try:
        await producer.send(topics.legacy(Portal.COUPANG_WINGS, "submissions"), body["sellerProductId"],
                            json.dumps(body, ensure_ascii=False).encode("utf-8"),
                            headers=[(SELLER_HEADER, body["vendorId"].encode())])
        [(_, raw)] = await read_topic(settings, topics.ENRICHED, 1, 240)
        [(_, native)] = await read_topic(settings, topics.legacy(Portal.COUPANG_WINGS, "enriched"), 1, 60)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(bridge, 30)
        stop_worker(enrich, must_exit=True)

    enriched = decode(ProductEnriched, raw)
    found = enriched.attributes_extracted
    truth = sample.truth
    assert {name: found[name].source for name in OCR_FILLED.values()} == dict.fromkeys(
        OCR_FILLED.values(), AttributeSource.OCR), log.read_text()[-2000:]
    assert [(c.part, c.fiber, c.percent) for c in found["material"].components] == list(truth.material)
    assert (found["size"].value, found["country"].value, found["manufactured"].value) == (
        truth.size, truth.country, truth.manufactured)
    assert found["material"].image_order == 1 and found["material"].box is not None
    assert enriched.keywords  # the label's words are searchable

    answer = json.loads(native)
    product = answer["data"] if "sellerProductName" in answer.get("data", {}) else answer
    notices = {n["noticeCategoryDetailName"]: n["content"] for n in product["items"][0]["notices"]}
    for section, name in OCR_FILLED.items():
        assert notices[section] == found[name].value, (section, notices)
    assert notices["색상"] == "스카이블루, 화이트"  # what the seller filled stays
