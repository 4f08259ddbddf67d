"""The care-label stage of the stream: combining OCR readings into notice fields, keywords, prohibited
text and declared-vs-label mismatches, and how the enricher routes on them (fakes, no OCR engine)."""

from __future__ import annotations

from collections.abc import Sequence

from hanger.events import ImageRef, ImageRole, ProductEnriched, ProductSubmitted, RouteKind, encode
from hanger.kafka import Original
from inference.ocr import Field, LabelReading, MaterialPart, ProhibitedHit, TextBox
from streams.attributes import Findings, combine
from tests.unit.factories import submission
from tests.unit.test_enrich import make


def field(value: str, confidence: float, y: int = 10) -> Field:
    return Field(value, confidence, TextBox(f"line {value}", confidence, (5, y, 200, y + 30)))


def reading(*, is_label: bool = True, material: str | None = None, parts: tuple[MaterialPart, ...] = (),
            size: Field | None = None, country: Field | None = None, keywords: tuple[str, ...] = (),
            prohibited: tuple[ProhibitedHit, ...] = (), confidence: float = 0.9) -> LabelReading:
    return LabelReading(
        lines=(), is_label=is_label, material=parts,
        material_text=field(material, confidence) if material else None,
        manufactured=field("2024-03", confidence), size=size, country=country, care=None,
        prohibited=prohibited, keywords=keywords, timed_out=False,
    )


def ref(order: int, role: ImageRole) -> ImageRef:
    return ImageRef(uri=f"file:///img/{order}.jpg", role=role, order=order)


COTTON = (MaterialPart("겉감", "면", 100),)
POLY = (MaterialPart("겉감", "폴리에스터", 100),)


def test_notice_fields_come_from_label_readings_with_source_box_and_composition() -> None:
    sub = submission()
    found = combine(sub, [
        (ref(1, ImageRole.LABEL), reading(material="겉감: 면 100%", parts=COTTON,
                                          size=field("M(95)", 0.7), country=field("대한민국", 0.8))),
        (ref(2, ImageRole.LABEL), reading(size=field("L", 0.95), confidence=0.5)),  # a second tag
    ])
    material = found.attributes["material"]
    assert (material.value, material.source.value, material.image_order) == ("겉감: 면 100%", "ocr", 1)
    assert [(c.part, c.fiber, c.percent) for c in material.components] == [("겉감", "면", 100)]
    assert material.box == (5, 10, 200, 40) and material.evidence == "line 겉감: 면 100%"
    assert found.attributes["size"].value == "L"  # the more confident reading wins, per field
    assert found.attributes["manufactured"].value == "2024-03"
    assert found.attributes["manufactured"].image_order == 1  # 0.9 beats the second tag's 0.5
    assert "care" not in found.attributes


def test_a_detail_image_gives_keywords_and_screening_but_no_notice_fields() -> None:
    hit = ProhibitedHit("레플리카", "명품 레 플 리 카", (1, 2, 3, 4))
    found = combine(submission(), [(ref(3, ImageRole.DETAIL), reading(
        is_label=False, material="면 100%", parts=COTTON, keywords=("린넨", "여름", "린넨"),
        prohibited=(hit,)))])
    assert found.attributes == {}
    assert found.keywords == ("린넨", "여름")
    assert [(p.word, p.image_order, p.box) for p in found.prohibited] == [("레플리카", 3, (1, 2, 3, 4))]


def test_declared_attributes_that_the_label_contradicts_are_mismatches() -> None:
    sub = submission()
    declared = sub.attributes.model_copy(update={"material": "면 100%", "size": "M"})
    sub = sub.model_copy(update={"attributes": declared})
    found = combine(sub, [(ref(1, ImageRole.LABEL),
                           reading(material="겉감: 폴리에스터 100%", parts=POLY, size=field("M(95)", 0.9)))])
    assert len(found.mismatches) == 1 and found.mismatches[0].startswith("material: declared 면 100%")
    agreeing = combine(sub, [(ref(1, ImageRole.LABEL), reading(material="면 100%", parts=COTTON))])
    assert agreeing.mismatches == ()


class FakeStage:
    def __init__(self, findings: Findings) -> None:
        self.findings = findings
        self.seen: list[list[ImageRole]] = []

    def choose(self, images: Sequence[ImageRef]) -> list[ImageRef]:
        return list(images)

    async def read(self, sub: ProductSubmitted, images: Sequence[tuple[ImageRef, bytes]]) -> Findings:
        self.seen.append([r.role for r, _ in images])
        return self.findings


async def test_the_enricher_fills_attributes_routes_mismatches_and_keeps_labels_from_the_classifier() -> None:
    files: dict[str, bytes | Exception] = {"file:///img/main.jpg": b"T101:0.99",
                                           "file:///img/label.jpg": b"not a garment"}
    enricher, _, clf = make(files)
    hit = combine(submission(), [(ref(1, ImageRole.LABEL), reading(
        material="면 100%", parts=COTTON, prohibited=(ProhibitedHit("짝퉁", "짝 퉁", (0, 0, 9, 9)),)))])
    stage = FakeStage(Findings(attributes=hit.attributes, keywords=("면",), prohibited=hit.prohibited,
                               mismatches=("size: declared S, label L",)))
    enricher.attributes = stage
    seen_by_classifier: list[list[bytes]] = []
    classify = clf.classify_images

    async def spy(images: Sequence[bytes]) -> object:
        seen_by_classifier.append(list(images))
        return await classify(images)

    clf.classify_images = spy  # type: ignore[method-assign,assignment]
    sub = submission(declared="T101")
    sub = sub.model_copy(update={"images": (
        ImageRef(uri="file:///img/main.jpg", role=ImageRole.MAIN, order=0),
        ImageRef(uri="file:///img/label.jpg", role=ImageRole.LABEL, order=1))})
    outcome = await enricher.handle(Original(encode(sub)))
    enriched = outcome.outputs[0].value
    assert isinstance(enriched, ProductEnriched)
    assert stage.seen == [[ImageRole.MAIN, ImageRole.LABEL]]
    assert seen_by_classifier == [[b"T101:0.99"]]  # the care label is not a garment photo
    assert enriched.attributes_extracted["material"].value == "면 100%"
    assert enriched.keywords == ("면",)
    assert enriched.flags.prohibited_text == ("짝퉁",)
    assert enriched.flags.attribute_mismatches == ("size: declared S, label L",)
    assert enriched.route.kind == RouteKind.NEEDS_MD
    assert set(enriched.route.reasons) == {"prohibited_text", "attribute_mismatch"}


async def test_the_stage_reads_label_photos_first_and_at_most_max_images() -> None:
    from streams.attributes import AttributeStage

    read_roles: list[str] = []

    class Reader:
        def read(self, image: object, *, role: str = "label") -> LabelReading:
            read_roles.append(role)
            return reading(is_label=role == "label")

    import io

    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (32, 32), "white").save(png, "PNG")
    images = [(ref(i, ImageRole.DETAIL), png.getvalue()) for i in range(1, 8)]
    images.append((ref(9, ImageRole.LABEL), png.getvalue()))
    images.insert(0, (ref(0, ImageRole.MAIN), png.getvalue()))
    stage = AttributeStage(Reader(), roles=["label", "detail"], max_images=3)  # type: ignore[arg-type]
    try:
        found = await stage.read(submission(), images)
    finally:
        stage.close()
    assert read_roles == ["label", "detail", "detail"]  # the label first; main photos not read
    assert found.attributes["manufactured"].image_order == 9
