"""The :class:`~adapters.common.pipeline.PortalAdapter` for portals that speak JSON, assembled from
a portal's pure functions (TMON, WeMakePrice, and Coupang's Open API half)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adapters.common.encoding import encode_text
from adapters.common.issues import Issue
from adapters.common.jsonio import dump_json, json_answer, json_items
from adapters.common.pipeline import Context, Native, Outcome, Parsed, Translation
from hanger.events import Portal, ProductSubmitted, ResultEvent


@dataclass(frozen=True)
class JsonAdapter:
    portal: Portal
    format: str
    product_id: Callable[[dict[str, Any]], str | None]
    to_canonical_fn: Callable[[Native, Context], Translation]
    from_canonical_fn: Callable[[ResultEvent, Native], Native]
    accepted_answer: Callable[[ProductSubmitted, list[Issue]], dict[str, Any]]
    rejected_answer: Callable[[list[Issue]], dict[str, Any]]

    def parse(self, raw: bytes, source: str) -> Parsed:
        return json_items(raw, self.format, self.product_id)

    def to_canonical(self, native: Native, ctx: Context) -> Translation:
        return self.to_canonical_fn(native, ctx)

    def from_canonical(self, event: ResultEvent,
                       original: Native) -> Native:
        return self.from_canonical_fn(event, original)

    def answer_file(self, raw: bytes, parsed: Parsed, outcomes: list[Outcome]) -> tuple[str, bytes]:
        return ".answer.json", json_answer(parsed, outcomes, self._accepted, self.rejected_answer)

    def encode_result(self, result: Native, original: Native) -> bytes:
        return encode_text(dump_json(result), str(original.get("encoding", "utf-8")))

    def _accepted(self, outcome: Outcome) -> dict[str, Any]:
        assert outcome.event is not None
        return self.accepted_answer(outcome.event, outcome.issues)
