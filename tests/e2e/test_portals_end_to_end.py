"""The whole system on real parts, portal to portal: each portal's native payload on
``legacy.<portal>.submissions`` → adapter bridge → enrich worker (faust, committed ONNX model) →
approval request to the seller's MD → MD decision → registrar (PostgreSQL) → native results on
``legacy.<portal>.enriched`` and ``legacy.<portal>.registered`` with every field the portal sent
intact. Counts reconciled exactly."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from adapters.bridge import SELLER_HEADER, run_bridge
from db import registrar
from db.md_cli import build_decision, publish_decisions
from hanger import topics
from hanger.events import ApprovalRequested, DecisionKind, Portal, ProductRegistered, decode
from hanger.kafka import EventProducer
from hanger.settings import Settings
from hanger.taxonomy import load_taxonomy
from tests.conftest import REPO, read_topic
from tests.workers import spawn, worker_env
from tests.workers import stop as stop_worker

pytestmark = pytest.mark.e2e

FIXTURES = REPO / "tests" / "fixtures"
IMAGES = FIXTURES / "images"


def _with_local_images(node: Any, pictures: list[str], counter: list[int]) -> Any:
    """Point every image URL of a fixture at a local photo (the fixtures' hosts do not exist here)."""
    if isinstance(node, dict):
        return {k: _with_local_images(v, pictures, counter) for k, v in node.items()}
    if isinstance(node, list):
        return [_with_local_images(v, pictures, counter) for v in node]
    if isinstance(node, str) and node.startswith("https://img.example-seller.co.kr/"):
        counter[0] += 1
        return pictures[counter[0] % len(pictures)]
    return node


def payloads(unique: str) -> dict[Portal, tuple[str, str, dict[str, Any]]]:
    """portal -> (legacy key, seller id, native body) with unique product ids."""
    pictures = [p.resolve().as_uri() for p in sorted(IMAGES.glob("*")) if p.suffix in (".jpg", ".png")]
    counter = [0]

    def load(path: str) -> dict[str, Any]:
        body = json.loads((FIXTURES / path).read_text(encoding="utf-8"))
        return dict(_with_local_images(body, pictures, counter))

    tmon = load("tmon/deal.json")
    tmon["vendorDealNo"] = f"DM-{unique}"
    wmp = load("wemakeprice/set_product.json")
    wmp["etc"]["sellerProdCode"] = f"WM-{unique}"
    coupang = load("coupang_wings/seller_product.json")
    coupang["sellerProductId"] = f"CP-{unique}"
    coupang["vendorId"] = f"cp-{unique}"  # Coupang names its seller in the body
    return {
        Portal.TMON: (tmon["vendorDealNo"], f"tm-{unique}", tmon),
        Portal.WEMAKEPRICE: (wmp["etc"]["sellerProdCode"], f"wm-{unique}", wmp),
        Portal.COUPANG_WINGS: (coupang["sellerProductId"], coupang["vendorId"], coupang),
    }


async def test_native_in_native_out_through_every_stage(
    settings: Settings, producer: EventProducer, db: asyncpg.Pool, tmp_path: Path, unique: str,
) -> None:
    sent = payloads(unique)
    md_of = {portal: f"MD-{unique}-{i}" for i, portal in enumerate(Portal)}
    for portal, (_, seller, _) in sent.items():  # each seller has its own 담당MD
        await db.execute("INSERT INTO md (md_id, name, categories) VALUES ($1, $2, '{}')",
                         md_of[portal], f"MD {portal.value}")
        await db.execute("INSERT INTO seller (portal, seller_id, md_id) VALUES ($1, $2, $3)",
                         portal.value, seller, md_of[portal])

    log = tmp_path / "enrich.log"
    enrich = spawn("enrich", worker_env(settings, REPO, HANGER_AUTO_APPROVE_THRESHOLD="1.0"), log)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(run_bridge(settings, stop)),
             asyncio.create_task(registrar.run_worker(settings, stop))]
    try:
        for portal, (key, seller, body) in sent.items():
            await producer.send(topics.legacy(portal, "submissions"), key,
                                json.dumps(body, ensure_ascii=False).encode("utf-8"),
                                headers=[(SELLER_HEADER, seller.encode())])

        # Threshold 1.0: every product goes to its seller's MD, who approves it.
        requests = [decode(ApprovalRequested, v)
                    for _, v in await read_topic(settings, topics.APPROVAL_REQUESTS, 3, 180)]
        assert sorted((r.portal, r.md_id) for r in requests) == sorted(md_of.items()), \
            log.read_text()[-2000:]
        taxonomy = load_taxonomy()
        await publish_decisions(settings, [
            build_decision(md_id=r.md_id, submission_id=r.submission_id, kind=DecisionKind.APPROVE,
                           taxonomy_id=None, attributes={}, reason=None, taxonomy=taxonomy)
            for r in requests
        ])
        registered = [decode(ProductRegistered, v)
                      for _, v in await read_topic(settings, topics.REGISTERED, 3, 120)]
        native_enriched = {portal: await read_topic(settings, topics.legacy(portal, "enriched"), 1, 60)
                           for portal in Portal}
        native_registered = {portal: await read_topic(settings, topics.legacy(portal, "registered"),
                                                      1, 60) for portal in Portal}
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 30)
        stop_worker(enrich)

    # Exactly one of everything per product.
    assert sorted(r.portal for r in registered) == sorted(Portal)
    assert {r.decided_by for r in registered} == set(md_of.values())
    for portal, (key, _, body) in sent.items():
        [(out_key, out_enriched)] = native_enriched[portal]
        [(reg_key, _)] = native_registered[portal]
        assert out_key == reg_key == key.encode()
        answer = json.loads(out_enriched)
        product = {Portal.WEMAKEPRICE: lambda a: a["data"]["product"]}.get(portal, _product)(answer)
        # Every field the portal sent comes back (values we own may be filled or changed).
        assert _paths(body) <= _paths(product), (portal, json.dumps(answer, ensure_ascii=False)[:800])

    rows = await db.fetch(
        "SELECT portal, taxonomy_id, decided_by FROM product WHERE portal_product_id = ANY($1)",
        [key for key, _, _ in sent.values()])
    assert sorted(r["portal"] for r in rows) == sorted(p.value for p in Portal)


def _product(answer: dict[str, Any]) -> dict[str, Any]:
    """The product inside a portal's answer (TMON answers with the deal itself; Coupang's
    seller-product answer carries it under ``data`` when wrapped)."""
    data = answer.get("data")
    return data if isinstance(data, dict) and "sellerProductName" in data else answer


def _paths(node: Any, prefix: str = "") -> set[str]:
    """Every key path of a JSON document (list positions included)."""
    out: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            out.add(f"{prefix}/{k}")
            out |= _paths(v, f"{prefix}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out |= _paths(v, f"{prefix}/{i}")
    return out
