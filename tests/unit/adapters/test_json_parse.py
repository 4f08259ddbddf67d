"""``parse_json_payload`` reads a payload with orjson where orjson provably reads what ``json``
reads, else with ``json`` and every check (:func:`parse_json_strictly`). The two must agree on
everything — items, bodies (types included: 1 is not 1.0), issues, encoding — on any payload:
arbitrary JSON written in different styles, duplicate keys (also behind an escaped colon), huge
integers, NaN and 1e999, BOMs and legacy encodings, lone surrogates, deep nesting, and real
payloads with bytes flipped, inserted or cut."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.common.jsonio import _UNREAD, JsonPayload, _read_fast, parse_json_payload, parse_json_strictly
from tests.unit.adapters.adapter_helpers import FIXTURES
from tests.unit.adapters.test_canonical_json import json_values as canonical_values


def summary(payload: JsonPayload) -> Any:
    return (repr([(i.index, i.body, [x.to_dict() for x in i.issues]) for i in payload.items]),
            [x.to_dict() for x in payload.issues], payload.encoding, payload.is_batch)


def agree(raw: bytes) -> None:
    assert summary(parse_json_payload(raw)) == summary(parse_json_strictly(raw))


def written(value: Any, style: int) -> bytes:
    try:
        text = json.dumps(value, ensure_ascii=style % 2 == 0, indent=None if style < 2 else 1,
                          separators=(",", ":") if style == 1 else None)
    except (ValueError, TypeError):
        text = "[]"
    return text.encode("utf-8", "surrogatepass")


documents = st.one_of(st.dictionaries(st.text(max_size=6), canonical_values, max_size=6),
                      st.lists(canonical_values, max_size=4))


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(documents, st.integers(0, 3))
def test_agree_on_arbitrary_json(value: Any, style: int) -> None:
    agree(written(value, style))


tricky = st.sampled_from([
    b'{"a":1,"a":2}', b'{"a":{"b":1,"b":1}}', b'[{"x":1},{"x":1,"x":1}]',
    b'{"a\\u003a":1,"a\\u003a":1}', b'{"u":"\\u003A","k":1,"k":2}', b'{"a":":","a":":"}',
    b'{"n":12345678901234567890}', b'{"n":-9223372036854775809}', b'{"n":18446744073709551615}',
    b'{"n":1e999}', b'{"n":NaN}', b'{"n":-Infinity}', b'{"s":"\\ud800"}', b'\xef\xbb\xbf{"a":1}',
    b'\xff\xfe{\x00}\x00', '{"제목":"니트"}'.encode("cp949"), b'{"a":"\x00"}', b'{"a":"\t"}',
    b"[" * 3000 + b"]" * 3000, b"", b"   ", b"[]", b"1", b'"x"', b"[1,2]", b"{} {}", b'{"a":1}x',
    b'{"a":"b:c","d":"https://e/f"}', b'{"a":1.0,"b":-0.0,"c":1E2,"d":0.1e-7}', b"[{}]\n",
])


@given(tricky)
def test_agree_on_tricky_payloads(raw: bytes) -> None:
    agree(raw)


@pytest.mark.parametrize("raw", [b'{"a":1,"a":2}', b'{"a\\u003a":1,"a\\u003a":1}',
                                 b'{"n":12345678901234567890}', b'{"n":NaN}'])
def test_what_orjson_would_misread_goes_to_json(raw: bytes) -> None:
    assert _read_fast(raw) is _UNREAD


FIXTURE_BYTES = [(FIXTURES / name).read_bytes() for name in (
    "tmon/deal.json", "tmon/deals_batch.json", "wemakeprice/set_product.json",
    "coupang_wings/seller_product.json")]


def test_real_payloads_take_the_fast_path() -> None:
    assert all(_read_fast(raw) is not _UNREAD for raw in FIXTURE_BYTES)


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(st.sampled_from(FIXTURE_BYTES), st.lists(st.tuples(st.integers(0, 10**6),
                                                          st.sampled_from([0, 1, 2]),
                                                          st.binary(min_size=1, max_size=3)),
                                                max_size=3))
def test_agree_on_mutated_real_payloads(raw: bytes, edits: list[tuple[int, int, bytes]]) -> None:
    data = bytearray(raw)
    for position, kind, chunk in edits:
        at = position % (len(data) + 1)
        if kind == 0:
            data[at:at + len(chunk)] = chunk  # overwrite
        elif kind == 1:
            data[at:at] = chunk  # insert
        else:
            del data[at:at + len(chunk)]  # cut
    agree(bytes(data))
