"""The decision schema published for back-office tools matches the event the registrar accepts."""

from __future__ import annotations

import json
from pathlib import Path

from hanger.events import ApprovalDecided

DOCS = Path(__file__).resolve().parents[3] / "docs" / "md"


def test_published_decision_schema_matches_the_event() -> None:
    committed = json.loads((DOCS / "decision.schema.json").read_text(encoding="utf-8"))
    assert committed == ApprovalDecided.model_json_schema(), (
        "regenerate docs/md/decision.schema.json from hanger.events.ApprovalDecided")
