"""The canonical events of Clothes Hanger: the one language every stage speaks on Kafka.

Each event is a frozen pydantic model with ``extra="forbid"`` and a ``schema_version`` literal, so a
message from a newer or older producer, or one with a typo'd field, is rejected at the boundary
(and dead-lettered) instead of being half-understood. JSON on the wire: :func:`encode` /
:func:`decode`. ``hanger schema export`` writes the JSON Schema of each event under ``docs/schemas``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hanger.errors import InvalidMessage

SCHEMA_VERSION = 1

# A namespace of our own so submission ids are UUIDs that no other system mints by accident.
_SUBMISSION_NAMESPACE = uuid.UUID("6f1c2a4e-8a57-4c47-9d0e-3b1f0c6a9e21")

NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
YearMonth = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


class Portal(StrEnum):
    COUPANG_WINGS = "coupang_wings"
    TMON = "tmon"
    WEMAKEPRICE = "wemakeprice"


class ImageRole(StrEnum):
    MAIN = "main"
    DETAIL = "detail"
    LABEL = "label"


class AttributeSource(StrEnum):
    SELLER = "seller"
    MODEL = "model"
    OCR = "ocr"
    MD = "md"


class RouteKind(StrEnum):
    AUTO_APPROVED = "auto_approved"
    NEEDS_MD = "needs_md"


class DecisionKind(StrEnum):
    APPROVE = "approve"
    OVERRIDE = "override"  # approve with a different category and/or attributes
    REJECT = "reject"
    REQUEST_CHANGE = "request_change"  # back to the seller


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


def submission_id_for(portal: Portal | str, portal_product_id: str, revision: int | str = 0) -> str:
    """Deterministic id: the same portal product at the same revision is the same submission.

    A portal that re-sends a product (retry, lost answer) therefore produces the same id, which is
    what makes every downstream effect idempotent.
    """
    key = f"{Portal(portal).value}\x1f{portal_product_id}\x1f{revision}"
    return str(uuid.uuid5(_SUBMISSION_NAMESPACE, key))


class DeclaredCategory(_Event):
    """The seller's own classification: the portal's code as sent, and our taxonomy id if mapped."""

    portal_code: str
    portal_path: str | None = None
    taxonomy_id: str | None = None


class ImageRef(_Event):
    uri: NonEmpty
    role: ImageRole = ImageRole.DETAIL
    order: int = Field(ge=0)


class DeclaredAttributes(_Event):
    """Attributes as the seller typed them (clothing product-information notice, 의류)."""

    material: str | None = None  # 제품 소재
    color: str | None = None  # 색상
    size: str | None = None  # 치수
    manufacturer: str | None = None  # 제조자(수입자)
    country: str | None = None  # 제조국
    care: str | None = None  # 세탁방법 및 취급시 주의사항
    manufactured: YearMonth | None = None  # 제조연월, normalised YYYY-MM
    manufactured_raw: str | None = None  # as typed when it could not be normalised
    quality_assurance: str | None = None  # 품질보증기준
    after_service: str | None = None  # A/S 책임자와 전화번호


class ProductSubmitted(_Event):
    schema_version: Literal[1] = 1
    submission_id: str
    portal: Portal
    seller_id: NonEmpty
    portal_product_id: NonEmpty
    revision: int = Field(default=0, ge=0)
    submitted_at: dt.datetime
    title: NonEmpty
    declared_category: DeclaredCategory
    images: tuple[ImageRef, ...] = Field(min_length=1)
    attributes: DeclaredAttributes = DeclaredAttributes()
    native: dict[str, Any] = Field(
        description="The portal's original payload, kept losslessly for the return trip."
    )

    @property
    def main_image(self) -> ImageRef:
        mains = [i for i in self.images if i.role == ImageRole.MAIN]
        return min(mains or self.images, key=lambda i: i.order)


class ModelInfo(_Event):
    name: str
    version: str
    sha256: str


class ClassScore(_Event):
    taxonomy_id: str
    label_en: str
    label_ko: str
    confidence: float = Field(ge=0.0, le=1.0)


class Classification(_Event):
    taxonomy_id: str
    label_en: str
    label_ko: str
    confidence: float = Field(ge=0.0, le=1.0)
    top_k: tuple[ClassScore, ...]
    model: ModelInfo


Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in the image's pixels


class MaterialComponent(_Event):
    """One fiber of one part of a garment: 겉감 면 80 %."""

    part: str
    fiber: str
    percent: int = Field(ge=0, le=100)


class ExtractedValue(_Event):
    value: str
    source: AttributeSource
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    evidence: str | None = None  # e.g. the OCR text line it came from
    image_order: int | None = None  # the image it was read from (ImageRef.order)
    box: Box | None = None  # where in that image
    components: tuple[MaterialComponent, ...] = ()  # material only: the structured composition


class TextFinding(_Event):
    """Text found in an image that an MD must look at (a prohibited word), with where it is."""

    word: str  # the list entry it matched
    text: str  # the line as read
    image_order: int
    box: Box | None = None


class Flags(_Event):
    category_mismatch: bool = False
    low_confidence: bool = False
    unmapped_declared_category: bool = False
    prohibited_text: tuple[str, ...] = ()
    prohibited_found: tuple[TextFinding, ...] = ()  # each word with its image and box
    attribute_mismatches: tuple[str, ...] = ()  # e.g. "material: declared 면 100%, label 폴리에스터 100%"
    image_problems: tuple[str, ...] = ()


class Route(_Event):
    kind: RouteKind
    md_id: str | None = None
    reasons: tuple[str, ...] = ()


class ProductEnriched(_Event):
    schema_version: Literal[1] = 1
    submission: ProductSubmitted
    classification: Classification | None  # None when no image could be classified
    attributes_extracted: dict[str, ExtractedValue] = Field(default_factory=dict)
    keywords: tuple[str, ...] = ()  # searchable words read from the product's images
    flags: Flags = Flags()
    route: Route
    enriched_at: dt.datetime

    @property
    def submission_id(self) -> str:
        return self.submission.submission_id


class ApprovalRequested(_Event):
    schema_version: Literal[1] = 1
    request_id: str
    submission_id: str
    portal: Portal
    seller_id: str
    md_id: str
    reasons: tuple[str, ...]
    title: str
    image_uris: tuple[str, ...]
    declared_category: DeclaredCategory
    predicted: Classification | None
    attributes_extracted: dict[str, ExtractedValue] = Field(default_factory=dict)
    requested_at: dt.datetime


class ApprovalDecided(_Event):
    """An MD's decision. Existing back-office tools can publish this as plain JSON (see docs/schemas)."""

    schema_version: Literal[1] = 1
    decision_id: str
    submission_id: str
    md_id: NonEmpty
    decision: DecisionKind
    taxonomy_id: str | None = None  # with OVERRIDE: the category the MD chose
    attributes: dict[str, str] = Field(default_factory=dict)  # with OVERRIDE: corrected values
    reason: str | None = None  # required for REJECT and REQUEST_CHANGE by the registrar
    decided_at: dt.datetime


class ProductRegistered(_Event):
    """A product registered in the product DB. Carries its submission (with the portal's native
    payload) so the answer to the portal needs no other state: any bridge instance can render it."""

    schema_version: Literal[1] = 1
    product_id: int
    submission_id: str
    portal: Portal
    portal_product_id: str
    taxonomy_id: str
    decided_by: str  # md_id, or "auto" for auto-approved
    registered_at: dt.datetime
    submission: ProductSubmitted


class ProductRejected(_Event):
    """An MD turned a submission down (reject) or sent it back to the seller (request_change).
    Carries the submission so the portal can be answered in its own format."""

    schema_version: Literal[1] = 1
    submission_id: str
    decision: DecisionKind  # REJECT or REQUEST_CHANGE
    reason: str
    md_id: str
    decided_at: dt.datetime
    submission: ProductSubmitted


class DeadLetter(_Event):
    schema_version: Literal[1] = 1
    stage: str
    code: str
    message: str
    retriable: bool
    original_topic: str | None = None
    original_partition: int | None = None
    original_offset: int | None = None
    original_key_b64: str | None = None
    original_value_b64: str
    original_sha256: str
    failed_at: dt.datetime

    @staticmethod
    def digest(raw: bytes) -> str:
        return hashlib.sha256(raw).hexdigest()


# What the adapters turn back into a portal's native answer.
ResultEvent = ProductEnriched | ProductRegistered | ProductRejected

EVENT_TYPES: tuple[type[BaseModel], ...] = (
    ProductSubmitted,
    ProductEnriched,
    ApprovalRequested,
    ApprovalDecided,
    ProductRegistered,
    ProductRejected,
    DeadLetter,
)

E = TypeVar("E", bound=BaseModel)


def encode(event: BaseModel) -> bytes:
    return event.model_dump_json().encode("utf-8")


def decode(model: type[E], raw: bytes) -> E:
    """Parse one wire message; raises :class:`hanger.errors.InvalidMessage` on any defect."""
    try:
        event = model.model_validate_json(raw)  # bytes straight in: no decoded copy per message
    except ValueError as exc:
        raise _invalid(model, raw, exc) from exc
    # In code the version defaults; on the wire a versioned event must say which it is. (Checked
    # after parsing, from the fields pydantic saw, so it costs nothing per nested model.)
    versioned = _VERSIONED.get(model)
    if versioned is None:
        versioned = _VERSIONED[model] = "schema_version" in model.model_fields
    if versioned and "schema_version" not in event.model_fields_set:
        raise InvalidMessage("wrong_schema_version", f"{model.__name__}: schema_version is missing")
    return event


_VERSIONED: dict[type[BaseModel], bool] = {}  # model → has a schema_version field


def _invalid(model: type[BaseModel], raw: bytes, exc: ValueError) -> InvalidMessage:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as not_utf8:
        return InvalidMessage("not_utf8", f"message is not UTF-8: {not_utf8}")
    code = "wrong_schema_version" if "schema_version" in str(exc) else "invalid_event"
    if "Invalid JSON" in str(exc):
        code = "not_json"
    return InvalidMessage(code, f"{model.__name__}: {exc}")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
