"""``hanger md …`` on the real broker and PostgreSQL: the queue, one decision from the command
line, and the Excel round trip through the registrar (export → fill, some rows invalid → import →
valid rows published and registered, invalid ones reported with row numbers, exit 1)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import pytest
from openpyxl import load_workbook

from db.md_cli import COLUMNS
from hanger import topics
from hanger.cli import main
from hanger.events import ApprovalDecided, DecisionKind, ProductRegistered, decode
from hanger.settings import Settings
from tests.conftest import read_topic
from tests.integration.test_registrar import (  # noqa: F401 - fixtures, used by name
    eventually,
    migrated_dsn,
    pool,
    reg_settings,
    waiting_for_md,
    worker,
)
from tests.unit.db.factories import enriched

pytestmark = pytest.mark.integration

COL = {key: i + 1 for i, (key, _) in enumerate(COLUMNS)}


@pytest.fixture
def hanger(reg_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]  # noqa: F811
    """Run ``hanger …`` in-process (in a thread, as the CLI owns its event loop) against this
    test's topics and database; returns (exit code, stdout)."""
    monkeypatch.setenv("HANGER_TOPIC_PREFIX", reg_settings.topic_prefix)
    monkeypatch.setenv("HANGER_DATABASE_URL", reg_settings.database_url.get_secret_value())

    async def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        code = await asyncio.to_thread(main, list(argv))
        return code, capsys.readouterr().out

    return run


async def test_queue_shows_only_the_mds_undecided_requests(
    pool: asyncpg.Pool, hanger, unique: str  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    md, other = f"MD-{unique}", f"MD-{unique}-b"
    mine = [await waiting_for_md(pool, enriched(f"Q{i}-{unique}", predicted="T203", md_id=md), md)
            for i in range(2)]
    await waiting_for_md(pool, enriched(f"Q9-{unique}", md_id=other), other)
    await pool.execute("UPDATE approval_request SET status = 'decided' WHERE submission_id = $1",
                       mine[1].submission_id)

    code, out = await hanger("md", "queue", "--md", md, "--json")
    assert code == 0
    [row] = json.loads(out)
    assert row["submission_id"] == mine[0].submission_id
    assert (row["predicted_taxonomy"], row["declared_taxonomy"]) == ("T203", "T101")
    assert row["reasons"] == ["low_confidence"] and row["confidence"] == pytest.approx(0.62)
    code, out = await hanger("md", "queue", "--md", md)
    assert code == 0 and mine[0].submission_id in out


async def test_decide_publishes_a_checked_decision(
    reg_settings: Settings, pool: asyncpg.Pool, hanger, unique: str  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    md = f"MD-{unique}"
    sid = (await waiting_for_md(pool, enriched(f"D-{unique}", md_id=md), md)).submission_id

    code, _ = await hanger("md", "decide", sid, "--md", md, "reject")  # no reason
    assert code == 1
    code, _ = await hanger("md", "decide", sid, "--md", "MD-someone-else", "approve")
    assert code == 1
    code, out = await hanger("md", "decide", sid, "--md", md, "override", "--category", "T203",
                             "--attr", "소재=면 100%", "--json")
    assert code == 0
    [(key, raw)] = await read_topic(reg_settings, topics.APPROVAL_DECISIONS, 1, timeout_s=10)
    published = decode(ApprovalDecided, raw)
    assert key == sid.encode()
    assert (published.decision, published.taxonomy_id, published.attributes, published.md_id) == (
        DecisionKind.OVERRIDE, "T203", {"material": "면 100%"}, md)
    assert json.loads(out)["decision_id"] == published.decision_id


async def test_excel_round_trip_registers_the_good_rows_and_reports_the_bad(
    reg_settings: Settings, pool: asyncpg.Pool, hanger, worker: object,  # type: ignore[no-untyped-def]  # noqa: F811
    unique: str, tmp_path: Path,
) -> None:
    md, other = f"MD-{unique}", f"MD-{unique}-b"
    items = [await waiting_for_md(pool, enriched(f"X{i}-{unique}", predicted="T101", md_id=md), md)
             for i in range(5)]
    not_mine = await waiting_for_md(pool, enriched(f"Y-{unique}", md_id=other), other)
    sheet = tmp_path / "queue.xlsx"

    code, _ = await hanger("md", "export", "--md", md, str(sheet))
    assert code == 0
    wb = load_workbook(sheet)
    ws = wb["queue"]
    by_sid = {ws.cell(row=r, column=COL["submission_id"]).value: r for r in range(2, ws.max_row + 1)}
    assert set(by_sid) == {i.submission_id for i in items}
    row = [by_sid[i.submission_id] for i in items]
    fills: dict[int, dict[str, object]] = {
        row[0]: {"decision": "approve"},
        row[1]: {"decision": "override", "category": "T203", "attributes": "소재=린넨 100%"},
        row[2]: {"decision": "reject"},  # no reason
        row[3]: {"decision": "override", "category": "T999"},  # unknown category
        row[4]: {"decision": "approve", "md_id": other},  # wrong 사번
        ws.max_row + 1: {"submission_id": not_mine.submission_id, "md_id": md, "decision": "approve"},
    }
    for r, values in fills.items():
        for key, value in values.items():
            ws.cell(row=r, column=COL[key], value=value)
    wb.save(sheet)

    code, out = await hanger("md", "import", str(sheet), "--md", md, "--json")
    assert code == 1
    report = json.loads(out)
    assert sorted(p["row"] for p in report["published"]) == sorted([row[0], row[1]])
    assert sorted((e["row"], e["code"]) for e in report["errors"]) == sorted([
        (row[2], "reject_without_reason"), (row[3], "unknown_category"), (row[4], "wrong_md"),
        (max(fills), "not_owner")])

    registered = [decode(ProductRegistered, v) for _, v in
                  await read_topic(reg_settings, topics.REGISTERED, 2, timeout_s=30)]
    assert {(r.submission_id, r.taxonomy_id) for r in registered} == {
        (items[0].submission_id, "T101"), (items[1].submission_id, "T203")}
    assert await pool.fetchval("SELECT material FROM product WHERE submission_id = $1",
                               items[1].submission_id) == "린넨 100%"

    code, out = await hanger("md", "queue", "--md", md, "--json")
    assert {r["submission_id"] for r in json.loads(out)} == {i.submission_id for i in items[2:]}

    # Importing the same sheet again publishes the same decision ids: nothing new is registered.
    code, _ = await hanger("md", "import", str(sheet), "--md", md)
    assert code == 1
    decisions = [decode(ApprovalDecided, v) for _, v in
                 await read_topic(reg_settings, topics.APPROVAL_DECISIONS, 4, timeout_s=10)]
    assert len({d.decision_id for d in decisions}) == 2

    async def both_seen() -> bool:
        n = await pool.fetchval("SELECT count(*) FROM approval_decision WHERE md_id = $1", md)
        return bool(n == 2)

    assert await eventually(both_seen)
    assert await pool.fetchval(
        "SELECT count(*) FROM product WHERE submission_id = ANY($1::text[])",
        [i.submission_id for i in items]) == 2
