"""The demo's collector on the real broker: of the answers on the enriched topic, it keeps those of
the model the worker serves, so a second demo run with another model waits for its own answers
instead of printing the earlier model's."""

from __future__ import annotations

import pytest

from hanger import topics
from hanger.demo import _collect
from hanger.events import DeadLetter, ModelInfo, ProductEnriched, Route, utcnow
from hanger.kafka import EventProducer
from hanger.settings import Settings
from tests.unit.factories import classification, submission

pytestmark = pytest.mark.integration


def _answer(product_id: str, version: str) -> ProductEnriched:
    c = classification("T101").model_copy(update={"model": ModelInfo(name="m", version=version,
                                                                      sha256="0")})
    return ProductEnriched(submission=submission(product_id), classification=c,
                           route=Route(kind="needs_md"), enriched_at=utcnow())


async def test_only_the_served_models_answers_are_collected(
    settings: Settings, producer: EventProducer, unique: str
) -> None:
    earlier, served = _answer(f"{unique}-1", "1.3.0"), _answer(f"{unique}-1", "1.3.0+int8")
    other = _answer(f"{unique}-2", "1.3.0")
    letter = DeadLetter(stage="enrich", code="not_json", message="x", retriable=False,
                        original_key_b64="ZGVtby1tYWxmb3JtZWQ=", original_value_b64="",
                        original_sha256=DeadLetter.digest(b""), failed_at=utcnow())
    await producer.send_many([
        (topics.ENRICHED, earlier.submission.submission_id, earlier),
        (topics.ENRICHED, other.submission.submission_id, other),
        (topics.ENRICHED, served.submission.submission_id, served),
        (topics.DLQ, "demo-malformed", letter),
    ])
    ids = {earlier.submission.submission_id, other.submission.submission_id}

    found, letters = await _collect(settings, ids, timeout_s=5, model_version="1.3.0+int8")

    # the served model answered only the first product: the second is still awaited (timed out)
    assert set(found) == {served.submission.submission_id}
    assert found[served.submission.submission_id].classification == served.classification
    assert len(letters) == 1

    found, _ = await _collect(settings, ids, timeout_s=5, model_version="1.3.0")
    assert found[earlier.submission.submission_id].classification == earlier.classification
    assert set(found) == ids
