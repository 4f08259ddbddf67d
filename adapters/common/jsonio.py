"""Parsing JSON payloads from portals: encoding, strictness, batches.

A payload is one object (one product) or an array of objects (a batch file). Each array element is
its own item, so one malformed element never rejects its neighbours. Duplicate keys inside an object
would silently lose a value, so they make that item an error; ``NaN``/``Infinity`` are not JSON and
make the whole payload invalid.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from adapters.common.encoding import decode_text, encode_text
from adapters.common.issues import Issue, error, warning
from adapters.common.pipeline import Item, Outcome, Parsed
from hanger.errors import InputError


@dataclass
class JsonItem:
    index: int | None  # position in a batch array; None for a single-object payload
    body: dict[str, Any] | None  # None when the element is not an object
    raw: bytes | Callable[[], bytes]  # the payload itself, or how to re-serialise the element
    issues: list[Issue]


@dataclass
class JsonPayload:
    items: list[JsonItem]
    issues: list[Issue]  # payload-level (empty, not JSON, encoding)
    encoding: str
    is_batch: bool


class _Object(dict[str, Any]):
    duplicate_keys: list[str]


def _marking_hook(marked: list[_Object]) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """An ``object_pairs_hook`` that builds plain dicts, and an :class:`_Object` listing its
    duplicate keys (also appended to ``marked``) when an object repeats a key."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj  # the common case: no duplicate keys, a plain dict
        duplicated = _Object()
        duplicated.duplicate_keys = []
        for key, value in pairs:
            if key in duplicated:
                duplicated.duplicate_keys.append(key)
            duplicated[key] = value
        marked.append(duplicated)
        return duplicated

    return hook


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _plain(value: Any, found: list[str], path: str) -> Any:
    """Plain dicts/lists again, collecting duplicate keys with their paths."""
    if isinstance(value, _Object):
        found.extend(f"{path}.{k}" if path else k for k in value.duplicate_keys)
        return {k: _plain(v, found, f"{path}.{k}" if path else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, found, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def parse_json_payload(raw: bytes) -> JsonPayload:
    document = _read_fast(raw)
    if document is not _UNREAD:
        return _payload(document, raw, [], "utf-8", any_duplicates=False)
    return parse_json_strictly(raw)


def parse_json_strictly(raw: bytes) -> JsonPayload:
    """The payload read by ``json`` with every check: encodings, constants, duplicate keys."""
    try:
        decoded = decode_text(raw)
    except InputError as exc:
        return JsonPayload([], [error(exc.code, exc.message)], "utf-8", False)
    notes: list[Issue] = []
    if decoded.is_legacy:
        notes.append(warning("legacy_encoding",
                             f"payload is {decoded.encoding.upper()}, not UTF-8; "
                             "answers are sent back in the same encoding"))
    if not decoded.text.strip():
        return JsonPayload([], [error("empty_file", "빈 요청입니다 (내용 없음)")],
                           decoded.encoding, False)
    marked: list[_Object] = []
    try:
        document = json.loads(decoded.text, object_pairs_hook=_marking_hook(marked),
                              parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        return JsonPayload([], [*notes, error("invalid_json", f"JSON 형식 오류: {exc}")],
                           decoded.encoding, False)
    return _payload(document, raw, notes, decoded.encoding, any_duplicates=bool(marked))


_UNREAD = object()
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")


def _read_fast(raw: bytes) -> Any:
    """The document by orjson (about twice as fast as ``json`` with the duplicate-key hook, and it
    decodes the bytes itself), or :data:`_UNREAD` when ``json`` must read it to be sure.

    Where orjson reads a document at all, it reads what ``json.loads`` reads, except for what is
    ruled out here: it keeps the last of duplicate keys silently (the document then has fewer
    keys; no ``:`` outside a string is lost, and a ``:`` inside one is never escaped by orjson
    nor, unless written ``\\u003a``, in the payload — so equal counts of ``:`` in the payload and
    in orjson's compact re-serialisation mean no key was lost), and it reads integers beyond 64
    bits as floats (a run of 19 digits sends the payload to ``json``). Everything else orjson
    refuses (BOMs, legacy encodings, NaN/Infinity, ``1e999``, lone surrogates, deep nesting,
    NUL) goes to the ``json`` path with its messages. ``tests/unit/adapters/test_json_parse.py``
    compares both paths on arbitrary and mutated payloads.
    """
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _UNREAD
    if not isinstance(document, dict | list):
        return _UNREAD
    if (b"0" * 19 in raw.translate(_DIGITS_TO_ZERO)
            or b"\\u003a" in raw or b"\\u003A" in raw):
        return _UNREAD
    if raw.count(b":") != orjson.dumps(document).count(b":"):
        return _UNREAD
    return document


def _payload(document: Any, raw: bytes, notes: list[Issue], encoding: str,
             any_duplicates: bool) -> JsonPayload:
    is_batch = isinstance(document, list)
    elements = document if is_batch else [document]
    if not is_batch and not isinstance(document, dict):
        return JsonPayload([], [*notes, error("invalid_json",
                                              "top level must be an object or an array of "
                                              "objects")], encoding, False)
    if is_batch and not elements:
        return JsonPayload([], [*notes, error("empty_file", "빈 배열입니다 (상품 없음)")],
                           encoding, True)
    items: list[JsonItem] = []
    for index, element in enumerate(elements):
        duplicates: list[str] = []
        body = _plain(element, duplicates, "") if any_duplicates else element
        item_raw = functools.partial(_element_bytes, body) if is_batch else raw
        issues = [error("duplicate_json_key",
                        f"key {path!r} appears more than once; its earlier value would be lost",
                        path) for path in duplicates]
        if not isinstance(body, dict):
            items.append(JsonItem(index if is_batch else None, None, item_raw,
                                  [error("invalid_json", "array element is not an object")]))
            continue
        items.append(JsonItem(index if is_batch else None, body, item_raw, issues))
    return JsonPayload(items, notes, encoding, is_batch)


def _element_bytes(element: Any) -> bytes:
    return json.dumps(element, ensure_ascii=False).encode("utf-8")


def dump_json(value: Any) -> str:
    """How we write JSON answers: UTF-8 text, Korean unescaped, stable key order as given."""
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def json_items(raw: bytes, fmt: str,
               product_id: Callable[[dict[str, Any]], str | None]) -> Parsed:
    """A JSON payload as pipeline items, each wrapped in the native envelope
    ``{"format", "encoding", "body"}`` (``body`` is the object exactly as sent)."""
    payload = parse_json_payload(raw)
    items = [
        Item(
            ref=f"[{j.index}]" if j.index is not None else "payload",
            native={"format": fmt, "encoding": payload.encoding, "body": j.body}
            if j.body is not None else {"format": fmt, "encoding": payload.encoding, "body": {}},
            source=j.raw,
            issues=j.issues,
            product_id=product_id(j.body) if j.body is not None else None,
        )
        for j in payload.items
    ]
    return Parsed(items, payload.issues, payload.encoding, payload.is_batch)


def json_answer(
    parsed: Parsed,
    outcomes: list[Outcome],
    accepted: Callable[[Outcome], dict[str, Any]],
    rejected: Callable[[list[Issue]], dict[str, Any]],
) -> bytes:
    """The portal's answer: one object per item (an array for a batch), or one error object
    for a payload that could not be read at all."""
    if not outcomes:
        answer: Any = rejected(parsed.issues or [error("empty_file", "상품이 없습니다")])
    else:
        answers = [accepted(o) if o.accepted else rejected(o.issues) for o in outcomes]
        answer = answers if parsed.batch else answers[0]
    return encode_text(dump_json(answer), parsed.encoding)
