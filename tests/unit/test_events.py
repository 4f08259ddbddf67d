import json

import pytest
from pydantic import ValidationError

from hanger.errors import InvalidMessage
from hanger.events import (
    EVENT_TYPES,
    Portal,
    ProductSubmitted,
    decode,
    encode,
    submission_id_for,
)
from tests.unit.factories import submission


def test_submission_id_is_deterministic_per_portal_product_and_revision() -> None:
    a = submission_id_for(Portal.TMON, "123", 0)
    assert a == submission_id_for("tmon", "123", 0)
    assert a != submission_id_for(Portal.TMON, "123", 1)
    assert a != submission_id_for(Portal.WEMAKEPRICE, "123", 0)
    assert a != submission_id_for(Portal.TMON, "1230", 0)


def test_round_trip_on_the_wire_keeps_native_payload_losslessly() -> None:
    event = submission()
    back = decode(ProductSubmitted, encode(event))
    assert back == event
    assert back.native == {"dealNo": "P-1", "unknownField": [1, 2, {"x": "y"}]}


def test_events_are_frozen() -> None:
    event = submission()
    with pytest.raises(ValidationError):
        event.title = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"not json at all", "not_json"),
        (b"\xff\xfe\x00", "not_utf8"),
        (b"[]", "invalid_event"),
    ],
)
def test_garbage_is_an_input_error_with_a_code(raw: bytes, code: str) -> None:
    with pytest.raises(InvalidMessage) as info:
        decode(ProductSubmitted, raw)
    assert info.value.code == code
    assert not info.value.retriable


def test_invalid_utf8_inside_an_otherwise_valid_event_is_not_utf8() -> None:
    raw = encode(submission()).replace(b'"title":"', b'"title":"\xff\xfe', 1)
    with pytest.raises(InvalidMessage) as info:
        decode(ProductSubmitted, raw)
    assert info.value.code == "not_utf8"


def test_wrong_schema_version_and_extra_fields_are_refused() -> None:
    data = json.loads(encode(submission()))
    with pytest.raises(InvalidMessage) as info:
        decode(ProductSubmitted, json.dumps({**data, "schema_version": 2}).encode())
    assert info.value.code == "wrong_schema_version"
    with pytest.raises(InvalidMessage) as info:
        decode(ProductSubmitted, json.dumps({**data, "surprise": 1}).encode())
    assert "surprise" in info.value.message


def test_a_submission_needs_at_least_one_image() -> None:
    data = json.loads(encode(submission()))
    with pytest.raises(InvalidMessage):
        decode(ProductSubmitted, json.dumps({**data, "images": []}).encode())


def test_main_image_prefers_role_then_order() -> None:
    event = submission(images=("file:///a.jpg", "file:///b.jpg"))
    assert event.main_image.uri == "file:///a.jpg"


def test_every_event_has_a_json_schema_with_schema_version() -> None:
    for model in EVENT_TYPES:
        schema = model.model_json_schema()
        assert "schema_version" in schema["properties"], model.__name__
        assert schema.get("additionalProperties") is False, model.__name__
