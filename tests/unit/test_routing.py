from hanger.events import RouteKind
from hanger.taxonomy import load_taxonomy
from streams.routing import agrees, candidate_categories, decide
from tests.unit.factories import classification, submission

TAX = load_taxonomy()


def test_confident_agreeing_prediction_is_auto_approved() -> None:
    d = decide(submission(declared="T101"), classification("T101", 0.995), taxonomy=TAX,
               threshold=0.9)
    assert d.route_kind == RouteKind.AUTO_APPROVED
    assert d.reasons == ()


def test_declared_parent_category_agrees_with_the_leaf() -> None:
    assert agrees(TAX, "T101", "T100")
    assert not agrees(TAX, "T101", "T200")
    assert not agrees(TAX, "T101", None)


def test_low_confidence_goes_to_an_md() -> None:
    d = decide(submission(declared="T101"), classification("T101", 0.5), taxonomy=TAX,
               threshold=0.9)
    assert d.route_kind == RouteKind.NEEDS_MD
    assert d.reasons == ("low_confidence",)
    assert d.flags.low_confidence and not d.flags.category_mismatch


def test_threshold_one_approves_nothing_not_even_a_saturated_confidence() -> None:
    # training writes 1.0 when no confidence reaches 99 % precision; float32 softmax says 1.0
    d = decide(submission(declared="T101"), classification("T101", 1.0), taxonomy=TAX,
               threshold=1.0)
    assert d.route_kind == RouteKind.NEEDS_MD
    assert d.reasons == ("low_confidence",)


def test_mismatch_with_the_seller_goes_to_an_md_even_when_confident() -> None:
    d = decide(submission(declared="T203"), classification("T202", 0.999), taxonomy=TAX,
               threshold=0.9)
    assert d.route_kind == RouteKind.NEEDS_MD
    assert "category_mismatch" in d.reasons and d.flags.category_mismatch


def test_unmapped_declared_category_is_flagged_not_dropped() -> None:
    d = decide(submission(declared=None), classification("T101", 0.999), taxonomy=TAX,
               threshold=0.9)
    assert d.flags.unmapped_declared_category
    assert d.reasons == ("unmapped_declared_category",)


def test_no_usable_image_and_image_problems_are_reasons() -> None:
    d = decide(submission(), None, taxonomy=TAX, threshold=0.9,
               image_problems=("image[0]: not_an_image",))
    assert d.route_kind == RouteKind.NEEDS_MD
    assert d.reasons == ("no_usable_image", "image_problems")


def test_md_lookup_candidates_are_declared_then_predicted_then_parents() -> None:
    ids = candidate_categories(TAX, submission(declared="T203"), classification("T202"))
    assert ids == ["T203", "T202", "T200"]
