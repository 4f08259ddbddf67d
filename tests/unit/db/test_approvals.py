"""Decision rules without a database: validation, authority, the conflict rule, product drafts."""

from __future__ import annotations

import pytest

from db.approvals import (
    AUTO,
    InvalidDecision,
    OpenRequest,
    Verdict,
    attribute_field,
    check_authority,
    check_decision,
    draft_product,
    final_outcome_of,
    resolve_conflict,
)
from db.repository import FALLBACK_MD
from hanger.events import AttributeSource, DeclaredAttributes, ExtractedValue
from hanger.taxonomy import load_taxonomy
from tests.unit.db.factories import DECIDED_AT, decision, enriched

TAXONOMY = load_taxonomy()
SID = "sub-1"


@pytest.mark.parametrize(
    ("kind", "fields", "code"),
    [
        ("reject", {}, "reject_without_reason"),
        ("reject", {"reason": "   "}, "reject_without_reason"),
        ("request_change", {}, "request_change_without_reason"),
        ("override", {}, "override_without_category"),
        ("override", {"taxonomy_id": "T999"}, "unknown_category"),
        ("override", {"taxonomy_id": "T200"}, "unknown_category"),  # a group, not a leaf
        ("override", {"taxonomy_id": "T203", "attributes": {"fabric": "x"}}, "unknown_attribute"),
        ("override", {"taxonomy_id": "T203", "attributes": {"manufactured": "2024/05"}},
         "invalid_attribute_value"),
        ("override", {"taxonomy_id": "T203", "attributes": {"material": " "}}, "invalid_attribute_value"),
        ("approve", {"taxonomy_id": "T203"}, "approve_with_changes"),
        ("reject", {"reason": "x", "taxonomy_id": "T203"}, "changes_without_approval"),
    ],
)
def test_malformed_decisions_are_refused_with_a_code(kind: str, fields: dict[str, object], code: str) -> None:
    with pytest.raises(InvalidDecision) as err:
        check_decision(decision(SID, kind, **fields), TAXONOMY)
    assert err.value.code == code
    assert not err.value.retriable


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("approve", {}),
        ("override", {"taxonomy_id": "T203"}),
        ("override", {"taxonomy_id": "T203",
                      "attributes": {"material": "면 100%", "manufactured": "2025-03"}}),
        ("reject", {"reason": "의류가 아닙니다"}),
        ("request_change", {"reason": "소재를 적어 주세요"}),
    ],
)
def test_well_formed_decisions_pass(kind: str, fields: dict[str, object]) -> None:
    check_decision(decision(SID, kind, **fields), TAXONOMY)


def _request(md_id: str = "MD-1", outcome: str | None = None) -> OpenRequest:
    return OpenRequest("r", SID, md_id, "decided" if outcome else "pending", outcome, None)


@pytest.mark.parametrize(
    ("md", "known", "open_request", "active", "code"),
    [
        ("MD-1", False, None, True, "unknown_submission"),
        ("MD-1", True, None, True, "not_sent_to_md"),
        ("MD-2", True, _request("MD-1"), True, "not_owner"),
        ("MD-9", True, _request(FALLBACK_MD), False, "unknown_md"),
    ],
)
def test_authority(md: str, known: bool, open_request: OpenRequest | None, active: bool, code: str) -> None:
    with pytest.raises(InvalidDecision) as err:
        check_authority(decision(SID, md_id=md), submission_known=known, request=open_request,
                        md_active=active)
    assert err.value.code == code


def test_owner_and_any_active_md_on_the_fallback_queue_may_decide() -> None:
    check_authority(decision(SID, md_id="MD-1"), submission_known=True, request=_request(), md_active=True)
    check_authority(decision(SID, md_id="MD-7"), submission_known=True,
                    request=_request(FALLBACK_MD), md_active=True)


def test_first_final_outcome_wins() -> None:
    assert resolve_conflict(seen_before=False, final_outcome=None) == Verdict.APPLY
    assert resolve_conflict(seen_before=False, final_outcome="approve") == Verdict.IGNORE
    assert resolve_conflict(seen_before=False, final_outcome=AUTO) == Verdict.IGNORE
    assert resolve_conflict(seen_before=True, final_outcome=None) == Verdict.DUPLICATE
    assert resolve_conflict(seen_before=True, final_outcome="reject") == Verdict.DUPLICATE


def test_request_change_is_not_final_but_approve_reject_and_registration_are() -> None:
    assert final_outcome_of(_request(outcome="request_change"), None) is None
    assert final_outcome_of(_request(), None) is None
    assert final_outcome_of(None, None) is None
    for outcome in ("approve", "override", "reject"):
        assert final_outcome_of(_request(outcome=outcome), None) == outcome
    assert final_outcome_of(None, AUTO) == AUTO
    assert final_outcome_of(_request(outcome="request_change"), "MD-1") == "MD-1"


def test_draft_takes_md_then_seller_then_extracted_values_with_their_sources() -> None:
    event = enriched(
        predicted="T101",
        attributes=DeclaredAttributes(material="폴리 100%", color="검정"),
        extracted={"material": ExtractedValue(value="면", source="ocr"),
                   "country": ExtractedValue(value="베트남", source="ocr"),
                   "size": ExtractedValue(value="M", source="model")},
    )
    d = decision(event.submission_id, "override", md_id="MD-1", taxonomy_id="T203",
                 attributes={"color": "네이비"})
    draft = draft_product(event.submission, event, d, TAXONOMY)
    f = draft.fields
    assert draft.taxonomy_id == "T203" and draft.decided_by == "MD-1" and draft.decision_id == d.decision_id
    assert (f["taxonomy_id"].source, f["taxonomy_id"].actor, f["taxonomy_id"].at) == (
        AttributeSource.MD, "MD-1", DECIDED_AT)
    assert (f["color"].value, f["color"].source) == ("네이비", AttributeSource.MD)
    assert (f["material"].value, f["material"].source, f["material"].actor) == (
        "폴리 100%", AttributeSource.SELLER, "seller-1")
    assert (f["country"].value, f["country"].source, f["country"].actor) == (
        "베트남", AttributeSource.OCR, "ocr")
    assert (f["size"].source, f["size"].actor) == (AttributeSource.MODEL, "test-model@t1")
    assert (f["care"].value, f["care"].source) == (None, AttributeSource.SELLER)
    assert set(f) == {"taxonomy_id", "title", "material", "color", "size", "manufacturer", "country",
                      "care", "manufactured", "quality_assurance", "after_service"}


def test_auto_approval_registers_the_prediction_by_the_model() -> None:
    event = enriched(predicted="T301", md_id=None)
    draft = draft_product(event.submission, event, None, TAXONOMY)
    assert (draft.taxonomy_id, draft.decided_by, draft.decision_id) == ("T301", AUTO, None)
    assert draft.fields["taxonomy_id"].source == AttributeSource.MODEL


def test_approve_without_a_prediction_falls_back_to_the_sellers_leaf_or_refuses() -> None:
    leaf = enriched(predicted=None, declared="T202")
    draft = draft_product(leaf.submission, leaf, decision(leaf.submission_id), TAXONOMY)
    assert (draft.taxonomy_id, draft.fields["taxonomy_id"].source) == ("T202", AttributeSource.SELLER)
    for declared in (None, "T200"):
        nothing = enriched(predicted=None, declared=declared)
        with pytest.raises(InvalidDecision, match="nothing_to_approve"):
            draft_product(nothing.submission, nothing, decision(nothing.submission_id), TAXONOMY)


def test_attribute_names_people_type() -> None:
    assert attribute_field("소재") == "material"
    assert attribute_field("제품 소재") == "material"
    assert attribute_field("Material") == "material"
    assert attribute_field("A/S 책임자와 전화번호") == "after_service"
    assert attribute_field("fabric") is None
