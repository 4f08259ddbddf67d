"""Every case of the hostile-input corpus (tests/fixtures/hostile/cases.json) gets its specific
error code: messages are dead-lettered with the original bytes and the stage keeps going; bad
images and URIs become typed errors that flag the submission for an MD instead of crashing it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from db.fakes import FakeEnrichmentStore
from hanger import topics
from hanger.errors import ImageError
from hanger.events import DeadLetter
from hanger.kafka import DeadLetters, Original
from hanger.settings import Settings
from hanger.taxonomy import load_taxonomy
from streams.enrich import Enricher
from streams.fetch import ImageFetcher
from tests.unit.test_enrich import FakeClassifier, FakeFetcher

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"
CASES = json.loads((CORPUS / "cases.json").read_text())


def ids(kind: str) -> list[dict[str, str]]:
    return [c for c in CASES if c["kind"] == kind]


def test_the_corpus_is_big_enough_and_every_file_exists() -> None:
    assert len(CASES) >= 40
    for case in CASES:
        assert (CORPUS / case["file"]).exists(), case["file"]


@pytest.mark.parametrize("case", ids("message"), ids=lambda c: c["file"])
async def test_hostile_message_is_dead_lettered_with_its_code(case: dict[str, str]) -> None:
    raw = (CORPUS / case["file"]).read_bytes()
    store = FakeEnrichmentStore()
    enricher = Enricher(classifier=FakeClassifier(), fetcher=FakeFetcher({}), store=store,
                        taxonomy=load_taxonomy(), dead_letters=DeadLetters(None, "enrich"),
                        threshold=0.9)
    outcome = await enricher.handle(Original(raw, key=b"k", topic="hanger.submissions", partition=0,
                                             offset=1))
    assert [o.topic for o in outcome.outputs] == [topics.DLQ]
    letter = outcome.outputs[0].value
    assert isinstance(letter, DeadLetter)
    assert letter.code == case["expected"]
    assert letter.original_sha256 == DeadLetter.digest(raw)
    assert len(letter.message) <= 4000  # a 1 MB field is not echoed back whole
    assert store.submissions == {}


@pytest.mark.parametrize("case", ids("image"), ids=lambda c: c["file"])
def test_hostile_image_gives_its_typed_error(case: dict[str, str]) -> None:
    from inference.images import load_image

    with pytest.raises(ImageError) as info:
        load_image((CORPUS / case["file"]).read_bytes())
    assert info.value.code == case["expected"]
    assert not info.value.retriable


@pytest.mark.parametrize("case", ids("uri"), ids=lambda c: c["file"])
async def test_hostile_uri_is_refused_before_any_request(case: dict[str, str], tmp_path: Path) -> None:
    uri = (CORPUS / case["file"]).read_text().strip()
    fetcher = ImageFetcher(Settings(image_root=tmp_path / "img", image_fetch_timeout_s=2))
    with pytest.raises(ImageError) as info:
        await fetcher.fetch(uri)
    assert info.value.code == case["expected"]
    await fetcher.close()
