"""TMON on the real broker: deal JSON in → canonical → TMON-native deal out, fields intact;
a broken deal is dead-lettered and answered with TMON's error shape."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import pytest

from adapters.bridge import SELLER_HEADER, run_bridge
from hanger import topics
from hanger.events import DeadLetter, Portal
from hanger.kafka import EventProducer
from hanger.settings import Settings
from tests.conftest import read_topic
from tests.integration.test_adapters_coupang_wings import bridge_round_trip
from tests.unit.adapters.adapter_helpers import FIXTURES

pytestmark = pytest.mark.integration


async def test_tmon_deal_round_trip(settings: Settings, producer: EventProducer,
                                    tmp_path: Path) -> None:
    raw = (FIXTURES / "tmon" / "deal_cp949.json").read_bytes()  # a legacy EUC-KR backend
    sent = json.loads(raw.decode("cp949"))
    submission, deal = await bridge_round_trip(settings, producer, tmp_path, Portal.TMON, raw,
                                               "DM-KN-710", "P-7731", "T102", "cp949")
    assert submission.seller_id == "P-7731" and submission.native["body"] == sent
    owned = {"categoryNo", "productInfos", "status", "salesStatus"}
    assert {k: v for k, v in deal.items() if k not in owned} == \
        {k: v for k, v in sent.items() if k not in owned}
    assert deal["salesStatus"] == "READY"


async def test_tmon_rejected_deal_goes_to_dlq_and_back_natively(
        settings: Settings, producer: EventProducer, tmp_path: Path) -> None:
    stop = asyncio.Event()
    worker = asyncio.create_task(run_bridge(settings, stop, portals=(Portal.TMON,)))
    try:
        await producer.send(topics.legacy(Portal.TMON, "submissions"), "DM-BROKEN",
                            b'{"vendorDealNo": ', headers=[(SELLER_HEADER, b"P-7731")])
        (key, raw), = await read_topic(settings, topics.DLQ, 1)
        letter = DeadLetter.model_validate_json(raw)
        assert key == b"DM-BROKEN" and letter.code == "invalid_json"
        (key, answer), = await read_topic(settings, topics.legacy(Portal.TMON, "enriched"), 1)
        assert key == b"DM-BROKEN" and "invalid_json" in json.loads(answer)["error"]
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(worker, 30)
