"""Coupang on the real broker: native in → ProductSubmitted on hanger.submissions → enriched →
Coupang-native result on legacy.coupang_wings.enriched with every original field intact.
Also ``hanger ingest`` of a Wing workbook publishing to the real broker.

``bridge_round_trip`` is shared by the TMON and WeMakePrice integration tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import pytest

from adapters import cli
from adapters.bridge import SELLER_HEADER, run_bridge
from hanger import topics
from hanger.events import DeadLetter, Portal, ProductSubmitted
from hanger.kafka import EventProducer
from hanger.settings import Settings
from tests.conftest import read_topic
from tests.unit.adapters.adapter_helpers import EXTRACTED, FIXTURES, enriched

pytestmark = pytest.mark.integration


async def bridge_round_trip(settings: Settings, producer: EventProducer, tmp_path: Path,
                            portal: Portal, raw: bytes, key: str, seller: str | None,
                            taxonomy_id: str, encoding: str = "utf-8",
                            ) -> tuple[ProductSubmitted, dict[str, Any]]:
    """Send ``raw`` as the legacy backend would, run the bridge, play the enrich stage, and
    return the canonical submission and the native result the bridge published."""
    stop = asyncio.Event()
    worker = asyncio.create_task(run_bridge(settings, stop, portals=(portal,)))
    try:
        await producer.send(topics.legacy(portal, "submissions"), key, raw,  # as legacy sends it
                            headers=[(SELLER_HEADER, seller.encode())] if seller else None)
        (sub_key, sub_raw), = await read_topic(settings, topics.SUBMISSIONS, 1)
        submission = ProductSubmitted.model_validate_json(sub_raw)
        assert sub_key == submission.submission_id.encode()
        await producer.send(topics.ENRICHED, submission.submission_id,
                            enriched(submission, taxonomy_id, extracted=EXTRACTED))
        (out_key, out_raw), = await read_topic(settings, topics.legacy(portal, "enriched"), 1)
        assert out_key == submission.portal_product_id.encode()
        return submission, json.loads(out_raw.decode(encoding))  # answered as it was sent
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(worker, 30)


async def test_coupang_open_api_round_trip(settings: Settings, producer: EventProducer,
                                           tmp_path: Path) -> None:
    raw = (FIXTURES / "coupang_wings" / "seller_product.json").read_bytes()
    sent = json.loads(raw)
    submission, answer = await bridge_round_trip(settings, producer, tmp_path,
                                                 Portal.COUPANG_WINGS, raw, "DM-SH-501-SB", None,
                                                 "T103")
    assert submission.native["body"] == sent
    assert answer["code"] == "SUCCESS"
    data = answer["data"]
    for field, value in sent.items():
        if field != "items":
            assert data[field] == value, field
    for before, after in zip(sent["items"], data["items"], strict=True):
        assert {k: v for k, v in after.items() if k != "notices"} == \
            {k: v for k, v in before.items() if k != "notices"}


async def test_wing_workbook_ingest_publishes_to_broker(settings: Settings,
                                                        tmp_path: Path) -> None:
    source = tmp_path / "sellertool_upload.xlsx"
    source.write_bytes((FIXTURES / "coupang_wings" / "sellertool_upload.xlsx").read_bytes())
    args = argparse.Namespace(portal="coupang_wings", files=[source], seller="A00012345",
                              out=None, json=True, dry_run=False, settings=settings)
    assert await cli.run_ingest(args) == 1  # one row is rejected
    events = await read_topic(settings, topics.SUBMISSIONS, 4)
    assert len(events) == 4
    ids = {ProductSubmitted.model_validate_json(v).portal_product_id for _, v in events}
    assert ids == {"DM-TS-001-WH", "DM-LP-200-S", "DM-OP-300", "DM-CV-400"}
    (dlq_key, dlq_raw), = await read_topic(settings, topics.DLQ, 1)
    letter = DeadLetter.model_validate_json(dlq_raw)
    assert dlq_key == b"DM-LP-200-XL" and letter.code == "invalid_number"
    assert (tmp_path / "sellertool_upload.xlsx.result.xlsx").exists()
