"""In-memory stand-ins for the repositories, for unit tests (same contract as the asyncpg ones)."""

from __future__ import annotations

from dataclasses import dataclass, field

from db.repository import FALLBACK_MD
from hanger.events import ApprovalRequested, ProductEnriched, ProductSubmitted


@dataclass
class FakeEnrichmentStore:
    submissions: dict[str, ProductSubmitted] = field(default_factory=dict)
    results: dict[tuple[str, str], ProductEnriched] = field(default_factory=dict)
    approvals: dict[str, str] = field(default_factory=dict)  # submission_id -> status
    seller_md: dict[tuple[str, str], str] = field(default_factory=dict)
    category_md: dict[str, str] = field(default_factory=dict)

    async def record_submission(self, submission: ProductSubmitted) -> None:
        self.submissions.setdefault(submission.submission_id, submission)

    async def find_result(self, submission_id: str, model_version: str) -> ProductEnriched | None:
        return self.results.get((submission_id, model_version))

    async def save_result(self, enriched: ProductEnriched, *, shadow: bool = False) -> ProductEnriched:
        version = enriched.classification.model.version if enriched.classification else "none"
        return self.results.setdefault((enriched.submission_id, version), enriched)

    async def claim_approval_request(self, request: ApprovalRequested) -> bool:
        return self.approvals.setdefault(request.submission_id, "unpublished") == "unpublished"

    async def mark_approval_published(self, submission_id: str) -> None:
        if self.approvals.get(submission_id) == "unpublished":
            self.approvals[submission_id] = "pending"

    async def responsible_md(self, portal: str, seller_id: str, taxonomy_ids: list[str]) -> str:
        if (portal, seller_id) in self.seller_md:
            return self.seller_md[(portal, seller_id)]
        for tid in taxonomy_ids:
            if tid in self.category_md:
                return self.category_md[tid]
        return FALLBACK_MD
