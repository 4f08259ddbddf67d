"""Generated reference files are committed; these tests fail when they drift from the code."""

from __future__ import annotations

import json
from pathlib import Path

from hanger import topics
from hanger.events import EVENT_TYPES

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_committed_json_schemas_match_the_events() -> None:
    for model in EVENT_TYPES:
        committed = json.loads((DOCS / "schemas" / f"{model.__name__}.schema.json").read_text())
        assert committed == model.model_json_schema(), f"run `hanger schema export` ({model.__name__})"


def test_committed_topic_reference_matches_the_registry() -> None:
    assert (DOCS / "topics.md").read_text() == topics.render_markdown(), "run `hanger topics doc`"


def test_registry_names_are_unique_and_cover_every_portal() -> None:
    names = [t.name for t in topics.registry()]
    assert len(names) == len(set(names))
    assert {"legacy.tmon.enriched", "legacy.coupang_wings.registered", "hanger.dlq"} <= set(names)
