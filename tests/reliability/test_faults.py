"""Fault injection on real Kafka + PostgreSQL: while enrich workers process a burst (with poisoned
images, a slow image host and a dead one mixed in), inject a fault, recover, and reconcile from the
source topic, the database and the output topics (see :mod:`tests.reliability.harness`).

Figures per fault (printed, and asserted): sent, enriched, lost (must be 0), duplicated (must be
0), MD requests duplicated (must be 0), image problems flagged exactly where planted, recovery
time. CI runs these; ``pytest tests/reliability --soak`` runs ≥ 10,000 submissions through every
fault in one run and prints the figures table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hanger.settings import Settings
from tests.reliability.harness import Figures, run

pytestmark = pytest.mark.reliability

N = 300


@pytest.mark.parametrize(("fault", "workers"), [
    ("sigkill_worker", 1), ("restart_broker", 1), ("restart_postgres", 1),
    ("add_worker", 1),  # a partition rebalance: a second worker joins the group mid-run
    ("remove_worker", 2),  # and one leaves it
])
@pytest.mark.timeout(600)  # above the harness's own deadline, so a stall fails with the workers' log
async def test_fault_loses_and_duplicates_nothing(
    fault: str, workers: int, settings: Settings, base_settings: Settings, tmp_path: Path,
    unique: str, soak: int,
) -> None:
    if soak:
        pytest.skip("the soak run covers every fault")
    figures = await run(settings, base_settings, tmp_path, unique, n=N, faults=[(0.2, fault)],
                        workers=workers, timeout_s=240)
    print(f"\n{Figures.HEADER}\n{figures.row()}")
    assert (figures.lost, figures.duplicated, figures.md_duplicated) == (0, 0, 0)


@pytest.mark.timeout(7200)
async def test_soak_every_fault_in_one_long_run(
    settings: Settings, base_settings: Settings, tmp_path: Path, unique: str, soak: int,
) -> None:
    if not soak:
        pytest.skip("soak mode only: pytest tests/reliability --soak [--soak-n 10000]")
    faults = [(0.1, "sigkill_worker"), (0.25, "add_worker"), (0.4, "restart_broker"),
              (0.55, "restart_postgres"), (0.7, "remove_worker"), (0.85, "sigkill_worker")]
    figures = await run(settings, base_settings, tmp_path, unique, n=soak, faults=faults,
                        timeout_s=3600)
    print(f"\n{Figures.HEADER}\n{figures.row()}")
    assert (figures.lost, figures.duplicated, figures.md_duplicated) == (0, 0, 0)
