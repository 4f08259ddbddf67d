"""The I/O shells with a hand-written fake producer: ``hanger ingest`` and the bridge handlers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
from aiokafka import ConsumerRecord

from adapters import cli
from adapters.bridge import Bridge
from adapters.common.pipeline import ingest
from adapters.registry import adapter_for
from hanger import topics
from hanger.errors import InputError
from hanger.events import DeadLetter, ProductSubmitted, encode
from hanger.kafka import DeadLetters
from hanger.settings import Settings
from tests.unit.adapters.adapter_helpers import FIXTURES, ctx, enriched, registered


class FakeProducer:
    def __init__(self, settings: Settings | None = None) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.started = self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, topic: str, key: Any, value: Any, headers: Any = None) -> tuple[int, int]:
        raw_key = key.encode() if isinstance(key, str) else key
        self.sent.append((topic, raw_key, value if isinstance(value, bytes) else encode(value)))
        return 0, len(self.sent)

    def on(self, topic: str) -> list[tuple[bytes | None, bytes]]:
        return [(k, v) for t, k, v in self.sent if t == topic]


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hanger")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    args.settings = Settings(topic_prefix="t.")
    return args


def test_ingest_publishes_accepted_dead_letters_rejected_and_writes_answer(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "deals.json"
    source.write_bytes((FIXTURES / "tmon" / "deals_batch.json").read_bytes())
    producer = FakeProducer()
    args = _parse(["ingest", "tmon", str(source), "--seller", "P-7731", "--json"])
    code = cli.ingest_command(args, lambda s: producer)  # type: ignore[arg-type,return-value]
    assert code == 1  # something was rejected
    accepted = producer.on(topics.SUBMISSIONS)
    assert len(accepted) == 2
    for key, value in accepted:
        event = ProductSubmitted.model_validate_json(value)
        assert key == event.submission_id.encode()
    letters = [DeadLetter.model_validate_json(v) for _, v in producer.on(topics.DLQ)]
    assert {d.code for d in letters} == {"duplicate_product_id", "invalid_value"}
    assert all(d.stage == cli.STAGE for d in letters)
    answer = json.loads((tmp_path / "deals.json.answer.json").read_text("utf-8"))
    assert [("error" in a) for a in answer] == [False, False, True, True]
    summary = json.loads(capsys.readouterr().out)
    assert summary["accepted"] == 2 and summary["rejected"] == 2
    assert producer.started and producer.stopped


def test_ingest_dry_run_publishes_and_writes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "deal.json"
    source.write_bytes((FIXTURES / "tmon" / "deal.json").read_bytes())
    producer = FakeProducer()
    args = _parse(["ingest", "tmon", str(source), "--seller", "P", "--dry-run"])
    assert cli.ingest_command(args, lambda s: producer) == 0  # type: ignore[arg-type,return-value]
    assert producer.sent == [] and list(tmp_path.iterdir()) == [source]


def test_ingest_workbook_answer_and_missing_file(tmp_path: Path) -> None:
    source = tmp_path / "sellertool_upload.xlsx"
    source.write_bytes((FIXTURES / "coupang_wings" / "sellertool_upload.xlsx").read_bytes())
    producer = FakeProducer()
    args = _parse(["ingest", "coupang_wings", str(source), "--seller", "A1", "--out",
                   str(tmp_path / "out")])
    assert cli.ingest_command(args, lambda s: producer) == 1  # type: ignore[arg-type,return-value]
    assert (tmp_path / "out" / "sellertool_upload.xlsx.result.xlsx").exists()
    assert len(producer.on(topics.SUBMISSIONS)) == 4 and len(producer.on(topics.DLQ)) == 1
    args = _parse(["ingest", "tmon", str(tmp_path / "nope.json")])
    assert cli.ingest_command(args) == 2


def _record(topic: str, value: bytes, key: bytes | None = None,
            headers: tuple[tuple[str, bytes], ...] = ()) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic=topic, partition=0, offset=7, timestamp=0, timestamp_type=0,
                          key=key, value=value, checksum=None, serialized_key_size=0,
                          serialized_value_size=len(value), headers=headers)


def _bridge(tmp_path: Path) -> tuple[Bridge, FakeProducer, Settings]:
    settings = Settings(topic_prefix="t.")
    producer = FakeProducer()
    dead = DeadLetters(producer, "adapters.bridge")  # type: ignore[arg-type]
    return Bridge(settings, producer, dead), producer, settings  # type: ignore[arg-type]


async def test_bridge_submission_in_and_rejection_out(tmp_path: Path) -> None:
    bridge, producer, settings = _bridge(tmp_path)
    raw = (FIXTURES / "wemakeprice" / "set_product_batch.json").read_bytes()
    topic = settings.topic(topics.legacy("wemakeprice", "submissions"))
    await bridge.handle_submission(_record(topic, raw, b"batch-1", (("seller_id", b"W-5521"),)))
    assert len(producer.on(topics.SUBMISSIONS)) == 3
    letters = [DeadLetter.model_validate_json(v) for _, v in producer.on(topics.DLQ)]
    assert len(letters) == 1 and letters[0].original_offset == 7
    answers = producer.on(topics.legacy("wemakeprice", "enriched"))
    assert answers[0][0] == b"batch-1"
    assert json.loads(answers[0][1])[3]["resultCode"] == 400


async def test_bridge_results_out_in_native_format(tmp_path: Path) -> None:
    bridge, producer, settings = _bridge(tmp_path)
    raw = (FIXTURES / "tmon" / "deal.json").read_bytes()
    sub = ingest(adapter_for("tmon"), raw, "d", ctx("P-7731")).accepted[0].event
    assert sub is not None
    await bridge.handle_result(_record(settings.topic(topics.ENRICHED), encode(enriched(sub))))
    await bridge.handle_result(_record(settings.topic(topics.REGISTERED),
                                       encode(registered(sub))))
    (key, deal), = producer.on(topics.legacy("tmon", "enriched"))
    assert key == b"DM-KN-710"
    deal_json = json.loads(deal)
    assert deal_json["categoryNo"] == 46030100 and deal_json["dealOptions"] == json.loads(
        raw)["dealOptions"]
    (key, created), = producer.on(topics.legacy("tmon", "registered"))
    assert json.loads(created)["dealNo"] == {"DM-KN-710": 900001}
    # A registration is answered on its own (another bridge instance may have seen the enriched
    # event): it carries its submission and native payload.
    alone, alone_producer, _ = _bridge(tmp_path)
    await alone.handle_result(_record(settings.topic(topics.REGISTERED), encode(registered(sub))))
    assert alone_producer.on(topics.legacy("tmon", "registered")) == producer.on(
        topics.legacy("tmon", "registered"))
    with pytest.raises(InputError):
        await bridge.handle_result(_record(settings.topic(topics.ENRICHED), b"not json"))


async def test_an_md_rejection_is_answered_natively_with_the_reason(tmp_path: Path) -> None:
    from hanger.events import DecisionKind, ProductRejected, utcnow

    bridge, producer, settings = _bridge(tmp_path)
    raw = (FIXTURES / "tmon" / "deal.json").read_bytes()
    sub = ingest(adapter_for("tmon"), raw, "d", ctx("P-7731")).accepted[0].event
    assert sub is not None
    rejected = ProductRejected(submission_id=sub.submission_id, decision=DecisionKind.REJECT,
                               reason="의류가 아닌 상품", md_id="MD-7", decided_at=utcnow(),
                               submission=sub)
    await bridge.handle_result(_record(settings.topic(topics.REJECTED), encode(rejected)))
    (key, answer), = producer.on(topics.legacy("tmon", "registered"))
    deal = json.loads(answer)
    assert key == b"DM-KN-710" and deal["status"] == "반려"
    original = json.loads(raw)
    assert {k: v for k, v in deal.items() if k not in {"status", "salesStatus", "productInfos"}} == \
        {k: v for k, v in original.items() if k not in {"status", "salesStatus", "productInfos"}}
