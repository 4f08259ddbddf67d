"""The approval and registration side of the domain: decision rules, product drafts, repositories
and the unit of work the registrar writes through.

Rules, as plain functions (unit-tested without a database):

- :func:`check_decision` — what makes an ``ApprovalDecided`` well-formed (reason for reject and
  request-change, a known leaf category for override, known attribute names, no changes smuggled
  into a plain approve). :func:`check_authority` — the submission exists, was sent to an MD, and
  the deciding MD owns the request (or the request sits on the shared fallback queue and the MD is
  an active one). Violations raise :class:`InvalidDecision` with a stable ``code``.
- :func:`resolve_conflict` — **the first final outcome wins.** approve, override and reject are
  final; an auto-approval is final too. request_change is not final: it is recorded and takes the
  item off the MD's queue, but a later approve/override/reject still applies. Any decision that
  arrives after a final outcome is recorded with status ``ignored`` and changes nothing. The same
  ``decision_id`` twice is a duplicate: not recorded again, and, if it registered the product and
  that ``ProductRegistered`` was never acknowledged by the broker (crash after the commit), the
  stored event is published again, so nothing is lost and nothing is announced twice.
- :func:`draft_product` — which value each product field gets and who supplied it: the MD's
  override first, then the seller's own non-empty value, then an extracted value (OCR / model).

Storage: :class:`PgRegistrationUnitOfWork` opens one transaction per message and serialises work
on one submission with a transaction-scoped advisory lock; the product, its audit rows, the
decision record and the ``registration`` dedupe row commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import asyncpg

from db.repository import FALLBACK_MD, insert_submission
from hanger.errors import InputError
from hanger.events import (
    ApprovalDecided,
    AttributeSource,
    DecisionKind,
    ProductEnriched,
    ProductRegistered,
    ProductSubmitted,
    utcnow,
)
from hanger.taxonomy import Taxonomy

log = logging.getLogger(__name__)

AUTO = "auto"  # decided_by / outcome of an auto-approved product
FINAL_DECISIONS = frozenset({DecisionKind.APPROVE, DecisionKind.OVERRIDE, DecisionKind.REJECT})
REGISTERING_DECISIONS = frozenset({DecisionKind.APPROVE, DecisionKind.OVERRIDE})
NEEDS_REASON = frozenset({DecisionKind.REJECT, DecisionKind.REQUEST_CHANGE})

# Product attribute columns, in the order of the clothing product-information notice (의류).
PRODUCT_ATTRIBUTES: tuple[str, ...] = (
    "material", "color", "size", "manufacturer", "country", "care", "manufactured",
    "quality_assurance", "after_service",
)
# Names people type (CLI, spreadsheets) for each attribute; compared without spaces, lower case.
_ATTRIBUTE_ALIASES: dict[str, tuple[str, ...]] = {
    "material": ("소재", "제품소재"),
    "color": ("색상", "컬러", "colour"),
    "size": ("치수", "사이즈"),
    "manufacturer": ("제조자", "제조자(수입자)", "수입자"),
    "country": ("제조국", "원산지"),
    "care": ("세탁방법", "세탁방법및취급시주의사항", "취급시주의사항"),
    "manufactured": ("제조연월",),
    "quality_assurance": ("품질보증기준",),
    "after_service": ("a/s", "a/s책임자와전화번호", "as"),
}
_ALIAS_TO_FIELD = {
    alias: name for name, aliases in _ATTRIBUTE_ALIASES.items() for alias in (name, *aliases)
}
_YEAR_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
MAX_ATTRIBUTE_LENGTH = 1000


class InvalidDecision(InputError):
    """A decision the registrar cannot apply; dead-lettered with its ``code``."""

    code = "invalid_decision"


def attribute_field(name: str) -> str | None:
    """The product attribute for a name an MD typed (``material``, ``소재``, ``제품 소재`` …)."""
    return _ALIAS_TO_FIELD.get(re.sub(r"\s+", "", name).lower())


def category_problem(taxonomy: Taxonomy, taxonomy_id: str | None) -> str | None:
    """Why ``taxonomy_id`` cannot be a product's category, or None when it can."""
    if not taxonomy_id:
        return "no category"
    node = taxonomy.nodes.get(taxonomy_id)
    if node is None or node.retired:
        return f"unknown category {taxonomy_id!r}"
    if not taxonomy.is_leaf(taxonomy_id):
        return f"{taxonomy_id} is a group, not a leaf category"
    return None


def leaf_categories(taxonomy: Taxonomy) -> list[str]:
    return [tid for tid, node in taxonomy.nodes.items() if not node.retired and taxonomy.is_leaf(tid)]


def check_decision(decision: ApprovalDecided, taxonomy: Taxonomy) -> None:
    """Checks that need nothing but the message and the taxonomy; raises :class:`InvalidDecision`."""
    kind = decision.decision
    if kind in NEEDS_REASON and not (decision.reason or "").strip():
        raise InvalidDecision(f"{kind.value}_without_reason",
                              f"a {kind.value} decision needs a reason for the seller")
    if kind == DecisionKind.APPROVE and (decision.taxonomy_id or decision.attributes):
        raise InvalidDecision("approve_with_changes",
                              "approve takes the suggestion as is; use override to change "
                              "the category or attributes")
    if kind in NEEDS_REASON and (decision.taxonomy_id or decision.attributes):
        raise InvalidDecision("changes_without_approval",
                              f"a {kind.value} decision cannot carry a category or attributes")
    if kind == DecisionKind.OVERRIDE:
        if not decision.taxonomy_id:
            raise InvalidDecision("override_without_category",
                                  "override needs taxonomy_id (the category the MD chose)")
        problem = category_problem(taxonomy, decision.taxonomy_id)
        if problem:
            raise InvalidDecision("unknown_category", problem)
    for name, value in decision.attributes.items():
        if name not in PRODUCT_ATTRIBUTES:
            raise InvalidDecision("unknown_attribute",
                                  f"unknown attribute {name!r}; known: {', '.join(PRODUCT_ATTRIBUTES)}")
        if not value.strip() or len(value) > MAX_ATTRIBUTE_LENGTH:
            raise InvalidDecision("invalid_attribute_value",
                                  f"{name}: value must be 1..{MAX_ATTRIBUTE_LENGTH} characters")
        if name == "manufactured" and not _YEAR_MONTH.match(value.strip()):
            raise InvalidDecision("invalid_attribute_value",
                                  f"manufactured must be YYYY-MM, got {value!r}")


@dataclass(frozen=True)
class OpenRequest:
    """An approval request as stored, with its outcome so far."""

    request_id: str
    submission_id: str
    md_id: str
    status: str  # unpublished | pending | decided
    outcome: str | None  # a DecisionKind value, or None while undecided
    decision_id: str | None


def check_authority(
    decision: ApprovalDecided,
    *,
    submission_known: bool,
    request: OpenRequest | None,
    md_active: bool,
) -> None:
    """The decision refers to a submission that was sent to an MD, and this MD may decide it."""
    sid = decision.submission_id
    if not submission_known:
        raise InvalidDecision("unknown_submission", f"no submission {sid}")
    if request is None:
        raise InvalidDecision("not_sent_to_md",
                              f"submission {sid} was never sent to an MD for approval")
    if request.md_id == FALLBACK_MD:
        if not md_active:
            raise InvalidDecision("unknown_md", f"{decision.md_id} is not an active MD")
    elif decision.md_id != request.md_id:
        raise InvalidDecision("not_owner",
                              f"submission {sid} is on {request.md_id}'s queue, not {decision.md_id}'s")


class Verdict(StrEnum):
    APPLY = "apply"  # record as applied and act on it
    IGNORE = "ignore"  # record as ignored: a final outcome already exists
    DUPLICATE = "duplicate"  # this decision_id was seen before: do nothing new


def resolve_conflict(*, seen_before: bool, final_outcome: str | None) -> Verdict:
    """First final outcome wins (see the module docstring). ``final_outcome`` is ``"auto"`` or a
    final DecisionKind value when one exists for the submission, else None."""
    if seen_before:
        return Verdict.DUPLICATE
    if final_outcome is not None:
        return Verdict.IGNORE
    return Verdict.APPLY


def final_outcome_of(request: OpenRequest | None, registered_by: str | None) -> str | None:
    """The submission's final outcome, if any: a registration, or a final MD decision."""
    if registered_by is not None:
        return registered_by
    if request is not None and request.outcome in {d.value for d in FINAL_DECISIONS}:
        return request.outcome
    return None


@dataclass(frozen=True)
class FieldValue:
    """One product field's value and who supplied it (one audit row)."""

    value: str | None
    source: AttributeSource
    actor: str
    at: dt.datetime


@dataclass(frozen=True)
class ProductDraft:
    submission: ProductSubmitted
    decided_by: str  # md_id or "auto"
    decision_id: str | None
    fields: dict[str, FieldValue] = field(default_factory=dict)  # taxonomy_id, title, attributes

    @property
    def taxonomy_id(self) -> str:
        value = self.fields["taxonomy_id"].value
        assert value is not None
        return value

    def value(self, name: str) -> str | None:
        return self.fields[name].value


def _model_actor(enriched: ProductEnriched | None) -> str:
    if enriched is None or enriched.classification is None:
        return "model"
    model = enriched.classification.model
    return f"{model.name}@{model.version}"


def draft_product(
    submission: ProductSubmitted,
    enriched: ProductEnriched | None,
    decision: ApprovalDecided | None,
    taxonomy: Taxonomy,
) -> ProductDraft:
    """The product to register and the provenance of each field.

    Category: the MD's override; else the model's prediction; else (approve only) the seller's
    declared category when it maps to a leaf. Attributes: the MD's override, else the seller's
    value, else an extracted one. ``decision`` None means auto-approved.
    Raises :class:`InvalidDecision` when no usable category exists.
    """
    seller = FieldValue(None, AttributeSource.SELLER, submission.seller_id, submission.submitted_at)
    model_actor = _model_actor(enriched)
    enriched_at = enriched.enriched_at if enriched else submission.submitted_at
    fields: dict[str, FieldValue] = {"title": _with(seller, submission.title)}

    predicted = enriched.classification if enriched else None
    if decision is not None and decision.decision == DecisionKind.OVERRIDE:
        category = FieldValue(decision.taxonomy_id, AttributeSource.MD, decision.md_id,
                              decision.decided_at)
    elif predicted is not None:
        category = FieldValue(predicted.taxonomy_id, AttributeSource.MODEL, model_actor, enriched_at)
    elif decision is not None and submission.declared_category.taxonomy_id:
        category = _with(seller, submission.declared_category.taxonomy_id)
    else:
        raise InvalidDecision("nothing_to_approve",
                              "no predicted or declared category to approve; use override with a "
                              "category")
    problem = category_problem(taxonomy, category.value)
    if problem:
        code = "unknown_category" if category.source != AttributeSource.SELLER else "nothing_to_approve"
        raise InvalidDecision(code, f"cannot register under {category.value}: {problem}")
    fields["taxonomy_id"] = category

    declared = submission.attributes.model_dump()
    extracted = enriched.attributes_extracted if enriched else {}
    overrides = decision.attributes if decision is not None else {}
    for name in PRODUCT_ATTRIBUTES:
        if name in overrides:
            assert decision is not None
            fields[name] = FieldValue(overrides[name].strip(), AttributeSource.MD, decision.md_id,
                                      decision.decided_at)
        elif isinstance(declared.get(name), str) and declared[name].strip():
            fields[name] = _with(seller, declared[name])
        elif name in extracted and extracted[name].value.strip():
            ev = extracted[name]
            actor = {AttributeSource.MODEL: model_actor, AttributeSource.OCR: "ocr"}.get(
                ev.source, submission.seller_id)
            fields[name] = FieldValue(ev.value, ev.source, actor, enriched_at)
        else:
            fields[name] = seller  # nobody supplied it: the seller left it empty
    decided_by = decision.md_id if decision is not None else AUTO
    return ProductDraft(submission, decided_by, decision.decision_id if decision else None, fields)


def _with(base: FieldValue, value: str) -> FieldValue:
    return FieldValue(value, base.source, base.actor, base.at)


# --- repositories (asyncpg) -----------------------------------------------------------------------


@dataclass
class SubmissionRepository:
    conn: asyncpg.Connection

    async def get(self, submission_id: str) -> ProductSubmitted | None:
        raw = await self.conn.fetchval(
            "SELECT payload FROM submission WHERE submission_id = $1", submission_id)
        return None if raw is None else ProductSubmitted.model_validate_json(raw)

    async def add_if_missing(self, submission: ProductSubmitted) -> None:
        await insert_submission(self.conn, submission)

    async def routed_result(self, submission_id: str) -> ProductEnriched | None:
        """The enrichment result that routed the submission (newest non-shadow model version)."""
        raw = await self.conn.fetchval(
            """SELECT result FROM classification WHERE submission_id = $1 AND NOT shadow
               ORDER BY created_at DESC LIMIT 1""",
            submission_id,
        )
        return None if raw is None else ProductEnriched.model_validate_json(raw)


@dataclass
class ApprovalRequestRepository:
    conn: asyncpg.Connection

    async def get(self, submission_id: str) -> OpenRequest | None:
        row = await self.conn.fetchrow(
            """SELECT request_id, submission_id, md_id, status, outcome, decision_id
               FROM approval_request WHERE submission_id = $1""",
            submission_id,
        )
        return None if row is None else OpenRequest(**dict(row))

    async def close(self, decision: ApprovalDecided) -> None:
        """Take the request off the MD's queue with this decision as its outcome."""
        await self.conn.execute(
            """UPDATE approval_request SET status = 'decided', outcome = $2, decision_id = $3,
                   decided_at = $4
               WHERE submission_id = $1""",
            decision.submission_id, decision.decision.value, decision.decision_id,
            decision.decided_at,
        )


@dataclass
class DecisionRepository:
    conn: asyncpg.Connection

    async def seen(self, decision_id: str) -> bool:
        return bool(await self.conn.fetchval(
            "SELECT true FROM approval_decision WHERE decision_id = $1", decision_id))

    async def unannounced_rejection(self, decision_id: str) -> bool:
        """Whether this decision applied a reject / request_change whose ``ProductRejected`` the
        broker never acknowledged (a crash between the database and the Kafka commit)."""
        return bool(await self.conn.fetchval(
            """SELECT true FROM approval_decision
               WHERE decision_id = $1 AND status = 'applied'
                 AND decision IN ('reject', 'request_change') AND announced_at IS NULL""",
            decision_id))

    async def mark_announced(self, submission_id: str) -> None:
        """After the broker acknowledged the rejection(s) of ``submission_id``: every applied,
        unannounced reject / request_change of it was in that transaction (batches are handled
        one after another, and a decision is recorded before its batch commits)."""
        await self.conn.execute(
            """UPDATE approval_decision SET announced_at = now()
               WHERE submission_id = $1 AND status = 'applied'
                 AND decision IN ('reject', 'request_change') AND announced_at IS NULL""",
            submission_id)

    async def record(self, decision: ApprovalDecided, status: Verdict) -> None:
        await self.conn.execute(
            """INSERT INTO approval_decision (decision_id, submission_id, md_id, decision,
                   taxonomy_id, attributes, reason, decided_at, status)
               VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9)""",
            decision.decision_id, decision.submission_id, decision.md_id, decision.decision.value,
            decision.taxonomy_id, json.dumps(decision.attributes, ensure_ascii=False),
            decision.reason, decision.decided_at,
            "applied" if status == Verdict.APPLY else "ignored",
        )


@dataclass
class MdRepository:
    conn: asyncpg.Connection

    async def is_active(self, md_id: str) -> bool:
        return bool(await self.conn.fetchval(
            "SELECT active FROM md WHERE md_id = $1", md_id))


@dataclass(frozen=True)
class StoredRegistration:
    event: ProductRegistered
    decision_id: str | None
    published: bool


@dataclass
class ProductRepository:
    """The product aggregate: the product row, its audit trail and its registration record."""

    conn: asyncpg.Connection

    async def registration(self, submission_id: str) -> StoredRegistration | None:
        row = await self.conn.fetchrow(
            """SELECT event, decision_id, published_at IS NOT NULL AS published
               FROM registration WHERE submission_id = $1""",
            submission_id,
        )
        if row is None:
            return None
        return StoredRegistration(ProductRegistered.model_validate_json(row["event"]),
                                  row["decision_id"], row["published"])

    async def mark_published(self, submission_id: str) -> None:
        await self.conn.execute(
            """UPDATE registration SET published_at = now()
               WHERE submission_id = $1 AND published_at IS NULL""",
            submission_id,
        )

    async def register(self, draft: ProductDraft) -> ProductRegistered | None:
        """Write the product, one audit row per field and the registration record.

        Returns the event to publish, or None when the portal product already holds a newer
        revision (an older submission never overwrites it).
        """
        s = draft.submission
        attrs = [draft.value(name) for name in PRODUCT_ATTRIBUTES]
        product_id = await self.conn.fetchval(
            f"""INSERT INTO product (submission_id, portal, portal_product_id, revision, seller_id,
                   title, taxonomy_id, {", ".join(PRODUCT_ATTRIBUTES)}, decided_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7, {", ".join(f"${i}" for i in range(8, 17))}, $17)
               ON CONFLICT (portal, portal_product_id) DO UPDATE SET
                   submission_id = EXCLUDED.submission_id, revision = EXCLUDED.revision,
                   seller_id = EXCLUDED.seller_id, title = EXCLUDED.title,
                   taxonomy_id = EXCLUDED.taxonomy_id,
                   {", ".join(f"{a} = EXCLUDED.{a}" for a in PRODUCT_ATTRIBUTES)},
                   decided_by = EXCLUDED.decided_by, registered_at = now()
               WHERE product.revision < EXCLUDED.revision
               RETURNING product_id""",
            s.submission_id, s.portal.value, s.portal_product_id, s.revision, s.seller_id,
            draft.value("title"), draft.taxonomy_id, *attrs, draft.decided_by,
        )
        if product_id is None:
            log.warning("portal product already registered from a newer revision; not overwritten",
                        extra={"submission_id": s.submission_id})
            return None
        await self.conn.executemany(
            """INSERT INTO audit_log (submission_id, product_id, field, value, source, actor, at)
               VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            [(s.submission_id, product_id, name, fv.value, fv.source.value, fv.actor, fv.at)
             for name, fv in draft.fields.items()],
        )
        event = ProductRegistered(
            product_id=product_id, submission_id=s.submission_id, portal=s.portal,
            portal_product_id=s.portal_product_id, taxonomy_id=draft.taxonomy_id,
            decided_by=draft.decided_by, registered_at=utcnow(), submission=s,
        )
        await self.conn.execute(
            """INSERT INTO registration (submission_id, product_id, decision_id, event, registered_at)
               VALUES ($1, $2, $3, $4::jsonb, $5)""",
            s.submission_id, product_id, draft.decision_id, event.model_dump_json(),
            event.registered_at,
        )
        return event

    async def audit_decision(self, decision: ApprovalDecided) -> None:
        """An audit row for a decision that registers nothing (reject, request change)."""
        await self.conn.execute(
            """INSERT INTO audit_log (submission_id, product_id, field, value, source, actor, at)
               VALUES ($1, NULL, 'decision', $2, 'md', $3, $4)""",
            decision.submission_id, f"{decision.decision.value}: {decision.reason or ''}".strip(),
            decision.md_id, decision.decided_at,
        )


class PgRegistrationUnitOfWork:
    """One transaction on one pooled connection; commit on success, roll back on any exception.

    ``async with PgRegistrationUnitOfWork(pool) as uow: await uow.lock(submission_id); …``
    """

    submissions: SubmissionRepository
    requests: ApprovalRequestRepository
    decisions: DecisionRepository
    mds: MdRepository
    products: ProductRepository

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: asyncpg.Connection | None = None
        self._tx: Any = None

    async def __aenter__(self) -> PgRegistrationUnitOfWork:
        conn = await self._pool.acquire()
        try:
            tx = conn.transaction()
            await tx.start()
        except BaseException:
            await self._pool.release(conn)
            raise
        self._conn, self._tx = conn, tx
        self.submissions = SubmissionRepository(conn)
        self.requests = ApprovalRequestRepository(conn)
        self.decisions = DecisionRepository(conn)
        self.mds = MdRepository(conn)
        self.products = ProductRepository(conn)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        assert self._conn is not None
        try:
            if exc_type is None:
                await self._tx.commit()
            else:
                await self._tx.rollback()
        finally:
            await self._pool.release(self._conn)
            self._conn = None

    async def lock(self, submission_id: str) -> None:
        """Serialise everything done to one submission until this transaction ends (two registrar
        instances overlapping during a rebalance cannot both register it)."""
        assert self._conn is not None
        await self._conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", submission_id)


# --- read side for the MD tools --------------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    """One pending approval request as an MD sees it."""

    submission_id: str
    request_id: str
    md_id: str
    portal: str
    seller_id: str
    title: str
    image_uris: tuple[str, ...]
    declared_code: str | None
    declared_taxonomy: str | None
    predicted_taxonomy: str | None
    confidence: float | None
    reasons: tuple[str, ...]
    attributes_extracted: dict[str, str]
    waiting_since: dt.datetime

    def as_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["image_uris"] = list(self.image_uris)
        data["reasons"] = list(self.reasons)
        data["waiting_since"] = self.waiting_since.isoformat()
        return data


async def pending_requests(pool: asyncpg.Pool, md_id: str) -> list[QueueItem]:
    """The MD's undecided requests, oldest first, with what the model and the seller said."""
    rows = await pool.fetch(
        """SELECT r.request_id, r.submission_id, r.md_id, r.reasons, r.created_at,
                  s.portal, s.seller_id, s.title, s.declared_code, s.declared_taxonomy, s.payload,
                  c.taxonomy_id AS predicted, c.confidence, c.result
           FROM approval_request r
           JOIN submission s ON s.submission_id = r.submission_id
           LEFT JOIN LATERAL (
               SELECT taxonomy_id, confidence, result FROM classification c
               WHERE c.submission_id = r.submission_id AND NOT c.shadow
               ORDER BY c.created_at DESC LIMIT 1) c ON true
           WHERE r.md_id = $1 AND r.status <> 'decided'
           ORDER BY r.created_at, r.submission_id""",
        md_id,
    )
    items = []
    for row in rows:
        submission = ProductSubmitted.model_validate_json(row["payload"])
        extracted: Mapping[str, Any] = (
            json.loads(row["result"]).get("attributes_extracted", {}) if row["result"] else {}
        )
        items.append(QueueItem(
            submission_id=row["submission_id"], request_id=row["request_id"], md_id=row["md_id"],
            portal=row["portal"], seller_id=row["seller_id"], title=row["title"],
            image_uris=tuple(i.uri for i in sorted(submission.images,
                                                    key=lambda i: (i.role != "main", i.order))),
            declared_code=row["declared_code"], declared_taxonomy=row["declared_taxonomy"],
            predicted_taxonomy=row["predicted"], confidence=row["confidence"],
            reasons=tuple(row["reasons"]),
            attributes_extracted={k: str(v.get("value", "")) for k, v in extracted.items()},
            waiting_since=row["created_at"],
        ))
    return items


async def request_owners(pool: asyncpg.Pool, submission_ids: list[str]) -> dict[str, str]:
    """submission_id → the MD whose queue its approval request is on."""
    rows = await pool.fetch(
        "SELECT submission_id, md_id FROM approval_request WHERE submission_id = ANY($1::text[])",
        submission_ids,
    )
    return {r["submission_id"]: r["md_id"] for r in rows}
