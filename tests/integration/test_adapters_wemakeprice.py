"""WeMakePrice on the real broker: setProduct JSON in → canonical → ``{resultCode, data}`` out,
with the product as sent except the fields we own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hanger.events import Portal
from hanger.kafka import EventProducer
from hanger.settings import Settings
from tests.integration.test_adapters_coupang_wings import bridge_round_trip
from tests.unit.adapters.adapter_helpers import FIXTURES

pytestmark = pytest.mark.integration


async def test_wemakeprice_round_trip(settings: Settings, producer: EventProducer,
                                      tmp_path: Path) -> None:
    raw = (FIXTURES / "wemakeprice" / "set_product.json").read_bytes()
    sent = json.loads(raw)
    submission, answer = await bridge_round_trip(settings, producer, tmp_path,
                                                 Portal.WEMAKEPRICE, raw, "DM-CT-800", "W-5521",
                                                 "T402")
    assert submission.native["body"] == sent
    assert answer["resultCode"] == 200
    product = answer["data"]["product"]
    assert product["basic"]["dcateCode"] == "1001402"  # reclassified as a blazer
    for section in ("sale", "detail", "option", "etc"):
        assert product[section] == sent[section], section
    assert {k: v for k, v in product["basic"].items() if k != "dcateCode"} == \
        {k: v for k, v in sent["basic"].items() if k != "dcateCode"}
