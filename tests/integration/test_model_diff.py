"""After a backfill with a new model, the diff report counts label and route changes per class."""

from __future__ import annotations

import asyncpg
import pytest

from db.repository import PgEnrichmentStore
from hanger.events import ModelInfo, ProductEnriched, Route, utcnow
from streams.ops import model_diff
from tests.unit.factories import classification, submission

pytestmark = pytest.mark.integration


def enriched(sub, tid: str, version: str, route: str) -> ProductEnriched:  # type: ignore[no-untyped-def]
    c = classification(tid).model_copy(update={"model": ModelInfo(name="m", version=version, sha256="0")})
    return ProductEnriched(submission=sub, classification=c, route=Route(kind=route), enriched_at=utcnow())


async def test_diff_counts_changes_per_class(db: asyncpg.Pool, unique: str) -> None:
    store = PgEnrichmentStore(db)
    old, new = f"old-{unique}", f"new-{unique}"
    cases = [("T101", "T101", "auto_approved", "auto_approved"),
             ("T203", "T202", "needs_md", "needs_md"),
             ("T203", "T202", "needs_md", "auto_approved"),
             ("T102", "T101", "needs_md", "needs_md")]
    for i, (a, b, ra, rb) in enumerate(cases):
        sub = submission(f"{unique}-{i}")
        await store.record_submission(sub)
        await store.save_result(enriched(sub, a, old, ra))
        await store.save_result(enriched(sub, b, new, rb))
    diff = await model_diff(db, old, new)
    assert (diff.compared, diff.changed) == (4, 3)
    assert diff.per_class == {"T203": {"T202": 2}, "T102": {"T101": 1}}
    assert diff.route_changes == {"needs_md->auto_approved": 1}
