"""Options of the fault suite: ``--soak`` runs the long mode (``--soak-n`` submissions)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hanger reliability")
    group.addoption("--soak", action="store_true", help="run the long soak (every fault, one run)")
    group.addoption("--soak-n", type=int, default=10_000, help="submissions in the soak run")


@pytest.fixture
def soak(request: pytest.FixtureRequest) -> int:
    """0 normally; the number of soak submissions with --soak."""
    return int(request.config.getoption("--soak-n")) if request.config.getoption("--soak") else 0
