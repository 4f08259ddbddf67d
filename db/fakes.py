"""In-memory stand-ins for the repositories, for unit tests (same contract as the asyncpg ones)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from db.repository import FALLBACK_MD, MdQuery, model_version_of
from hanger.events import ApprovalRequested, ProductEnriched, ProductSubmitted


@dataclass
class FakeEnrichmentStore:
    submissions: dict[str, ProductSubmitted] = field(default_factory=dict)
    results: dict[tuple[str, str], ProductEnriched] = field(default_factory=dict)
    approvals: dict[str, str] = field(default_factory=dict)  # submission_id -> status
    seller_md: dict[tuple[str, str], str] = field(default_factory=dict)
    category_md: dict[str, str] = field(default_factory=dict)
    round_trips: int = 0  # what a real database would have been asked, for batching tests
    resets: int = 0

    async def record_submissions(self, submissions: Sequence[ProductSubmitted]) -> None:
        self.round_trips += 1
        for submission in submissions:
            self.submissions.setdefault(submission.submission_id, submission)

    async def find_results(
        self, submission_ids: Sequence[str], model_version: str
    ) -> dict[str, ProductEnriched]:
        self.round_trips += 1
        return {
            sid: self.results[(sid, model_version)]
            for sid in submission_ids if (sid, model_version) in self.results
        }

    async def save_results(
        self, results: Sequence[ProductEnriched], *, shadow: bool = False
    ) -> dict[str, ProductEnriched]:
        self.round_trips += 1
        stored = {}
        for enriched in results:
            version = model_version_of(enriched)
            stored[enriched.submission_id] = self.results.setdefault(
                (enriched.submission_id, version), enriched)
        return stored

    async def claim_approval_requests(self, requests: Sequence[ApprovalRequested]) -> set[str]:
        self.round_trips += 1
        return {
            r.submission_id for r in requests
            if self.approvals.setdefault(r.submission_id, "unpublished") == "unpublished"
        }

    async def mark_approvals_published(self, submission_ids: Sequence[str]) -> None:
        self.round_trips += 1
        for sid in submission_ids:
            if self.approvals.get(sid) == "unpublished":
                self.approvals[sid] = "pending"

    async def mark_approval_published(self, submission_id: str) -> None:
        await self.mark_approvals_published([submission_id])

    async def responsible_mds(self, queries: Sequence[MdQuery]) -> list[str]:
        self.round_trips += 1
        return [self._md(q) for q in queries]

    async def reset(self) -> None:
        self.resets += 1

    def _md(self, q: MdQuery) -> str:
        if (q.portal, q.seller_id) in self.seller_md:
            return self.seller_md[(q.portal, q.seller_id)]
        for tid in q.taxonomy_ids:
            if tid in self.category_md:
                return self.category_md[tid]
        return FALLBACK_MD
