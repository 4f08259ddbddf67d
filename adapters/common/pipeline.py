"""The portal-independent ingest pipeline and the contract every portal adapter fulfils.

``ingest(adapter, raw, source, ctx)`` is pure: bytes in, a report out (accepted
``ProductSubmitted`` events, rejected items with their issues, and the portal-native answer
bytes). The CLI and the bridge only add I/O around it, and the benchmark times exactly it.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from adapters.common.categories import category_warnings
from adapters.common.issues import Issue, error, has_errors
from hanger.events import Portal, ProductSubmitted, ResultEvent

Native = dict[str, Any]


@dataclass(frozen=True)
class Context:
    """What the transport knows that the payload may not: when, from whom, from where."""

    received_at: dt.datetime
    seller_id: str | None = None  # --seller / Kafka header; portals without it in the body need it
    source: str = ""  # file name or topic@offset, for messages


@dataclass
class Item:
    """One native unit (a product: a JSON object, or the workbook rows of one product)."""

    ref: str  # for people: "[3]", "기본!5-7"
    native: Native  # the envelope stored in ProductSubmitted.native
    # This item's bytes, or how to make them: re-serialising a batch element or workbook product
    # costs about as much as parsing it, and only a rejected item's dead letter needs them.
    source: bytes | Callable[[], bytes]
    issues: list[Issue] = field(default_factory=list)
    product_id: str | None = None  # the portal product id, when known before translating

    @property
    def raw(self) -> bytes:
        """This item's bytes, for its dead-letter record."""
        return self.source if isinstance(self.source, bytes) else self.source()


@dataclass
class Parsed:
    items: list[Item]
    issues: list[Issue]  # payload/file-level; errors here reject the whole payload
    encoding: str = "utf-8"
    batch: bool = False  # a JSON array: answer with an array in the same order
    container: str = "json"  # "json" or "workbook": the shape of the answer


@dataclass
class Outcome:
    item: Item
    event: ProductSubmitted | None
    issues: list[Issue]

    @property
    def accepted(self) -> bool:
        return self.event is not None

    @property
    def product_id(self) -> str | None:
        return self.event.portal_product_id if self.event else self.item.product_id


@dataclass
class IngestReport:
    source: str
    outcomes: list[Outcome]
    issues: list[Issue]  # payload-level
    answer: bytes  # the portal-native answer (workbook, JSON)
    answer_suffix: str  # ".result.xlsx", ".answer.json"

    @property
    def accepted(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.accepted]

    @property
    def rejected(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.accepted]

    @property
    def failed(self) -> bool:
        return bool(self.rejected) or has_errors(self.issues)


@dataclass(frozen=True)
class Accepted:
    """A translated product that raised warnings: they are answered to the portal with the
    acceptance (a name the portal will cut, a category we fill …), not dropped."""

    event: ProductSubmitted
    warnings: tuple[Issue, ...]


Translation = ProductSubmitted | Accepted | list[Issue]


class PortalAdapter(Protocol):
    """What each ``adapters/<portal>/io.py`` provides (``ADAPTER``)."""

    @property
    def portal(self) -> Portal: ...

    def parse(self, raw: bytes, source: str) -> Parsed:
        """Bytes of a file or message → native items with parse-level issues."""
        ...

    def to_canonical(self, native: Native, ctx: Context) -> Translation:
        """The event (with its warnings, if any), or the issues that reject the product."""
        ...

    def from_canonical(
        self, event: ResultEvent, original: Native
    ) -> Native: ...

    def answer_file(self, raw: bytes, parsed: Parsed, outcomes: list[Outcome]) -> tuple[str, bytes]:
        """The portal-native answer to a whole file or message: (file suffix, bytes)."""
        ...

    def encode_result(self, result: Native, original: Native) -> bytes:
        """A ``from_canonical`` result as the bytes for ``legacy.<portal>.enriched|registered``
        (JSON, in the encoding the original came in)."""
        ...


def ingest(adapter: PortalAdapter, raw: bytes, source: str, ctx: Context) -> IngestReport:
    parsed, outcomes = parse_and_translate(adapter, raw, source, ctx)
    reject_duplicate_ids(outcomes)
    suffix, answer = adapter.answer_file(raw, parsed, outcomes)
    return IngestReport(source, outcomes, parsed.issues, answer, suffix)


def parse_and_translate(adapter: PortalAdapter, raw: bytes, source: str,
                        ctx: Context) -> tuple[Parsed, list[Outcome]]:
    """The payload's items and what each became (the part of :func:`ingest` the benchmark times).

    The cycle collector is paused meanwhile: a payload parses into trees (JSON objects, rows of
    cells) and the events built from them, none of which can form a cycle, so on a batch of
    thousands of products the collector only re-walked the growing heap of live items — a third
    of the time. Reference counting still frees everything; the collector runs again after.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        parsed = adapter.parse(raw, source)
        return parsed, [translate_item(adapter, item, ctx) for item in parsed.items]
    finally:
        if was_enabled:
            gc.enable()


def translate_item(adapter: PortalAdapter, item: Item, ctx: Context) -> Outcome:
    if has_errors(item.issues):
        return Outcome(item, None, list(item.issues))
    try:
        result = adapter.to_canonical(item.native, ctx)
    except (TypeError, AttributeError, KeyError, IndexError, ValueError) as exc:
        # Validation should have caught it; a shape it did not foresee must still become an
        # answer for this item, never a crashed worker re-reading the same message forever.
        return Outcome(item, None, [*item.issues, error(
            "malformed_payload", f"값의 형식이 올바르지 않습니다 ({type(exc).__name__}: {exc})"[:300])])
    if isinstance(result, list):
        return Outcome(item, None, [*item.issues, *result])
    event, warnings = (result.event, result.warnings) if isinstance(result, Accepted) else (result, ())
    row = item.native["rows"][0]["row"] if item.native.get("rows") else None
    return Outcome(item, event, [*item.issues, *warnings,
                                 *category_warnings(event.declared_category, row)])


def reject_duplicate_ids(outcomes: list[Outcome]) -> None:
    """The first item with a portal product id wins; later ones in the same payload are rejected
    (the portal would refuse to register one id twice, and the answer must be unambiguous)."""
    first: dict[str, str] = {}
    for outcome in outcomes:
        pid = outcome.product_id
        if not outcome.accepted or pid is None:
            continue
        if pid in first:
            outcome.issues.append(error(
                "duplicate_product_id",
                f"상품 ID {pid}가 중복되었습니다 (먼저 나온 {first[pid]}만 접수)"))
            outcome.event = None
        else:
            first[pid] = outcome.item.ref


def copy_native(value: Any) -> Any:
    """A deep copy of native data, to change for an answer without touching the event's.

    Natives are JSON-shaped (dicts, lists, strings, numbers, booleans, None; workbook dates are
    ISO text), so only dicts and lists are copied and the immutable leaves are shared: several
    times faster than :func:`copy.deepcopy`, which also tracks cycles natives cannot have.
    """
    if isinstance(value, dict):
        return {key: copy_native(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_native(item) for item in value]
    return value


def content_revision(content: Any) -> int:
    """A revision number derived from the product's content: the same bytes re-sent give the same
    submission id (idempotent), a changed product gives a new one. 31 bits of SHA-256 of the
    content as sorted, compact JSON (:func:`canonical_json`)."""
    return int.from_bytes(hashlib.sha256(canonical_json(content)).digest()[:4], "big") & 0x7FFF_FFFF


def canonical_json(content: Any) -> bytes:
    """``json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    default=str)`` as UTF-8 — the bytes every submission id so far was made from, so they must
    never change — made by orjson (~5× faster) wherever orjson's bytes are provably the same.

    ``content`` is JSON data (what ``json.loads`` returns, or workbook cells: str, int, float,
    bool, None). On that, orjson with sorted keys writes the same bytes as ``json``, except:

    - floats below 1e-4: ``json`` writes ``1e-05``, orjson ``0.00001`` (1e-5 to 1e-4) or ``1e-7``
      (a one-digit exponent, 1e-9 to 1e-5). Every such orjson token contains ``0.0000`` or ends
      in ``e-<digit>``; when the bytes contain either (even inside a string), ``json`` writes
      them. Every other finite float orjson writes as ``repr`` does (``1e+16``, ``1e-10``, ``0.1``).
    - infinities and NaN: orjson writes ``null``, ``json`` ``Infinity``/``NaN`` (``json.loads``
      reads ``1e999`` as infinity): when the bytes contain ``null``, the content is searched for
      one.
    - what orjson refuses (integers beyond 64 bits, non-str keys, str/dict/list subclasses, lone
      surrogates, and any type ``json`` would send to ``default=str``, through :func:`_refuse`):
      ``json`` decides, as before.

    A plain ``Enum`` member would differ (orjson writes its value, ``json`` its ``str``): the
    reason the content must be JSON data. ``tests/unit/adapters/test_canonical_json.py`` checks
    all this against ``json.dumps`` on arbitrary JSON values.
    """
    try:
        fast = orjson.dumps(content, default=_refuse, option=_ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        fast = None
    if (fast is not None and b"0.0000" not in fast and not _ONE_DIGIT_EXPONENT.search(fast)
            and (b"null" not in fast or not _has_non_finite(content))):
        return fast
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      default=str).encode("utf-8")


_ORJSON_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS
                   | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS)
# The end of a float token with a one-digit negative exponent (orjson's 1e-7; json's is 1e-07).
_ONE_DIGIT_EXPONENT = re.compile(rb"e-[0-9](?:[,\]}]|\Z)")


def _has_non_finite(content: Any) -> bool:
    """Whether a float infinity or NaN is anywhere in ``content`` (exact dicts, lists and tuples:
    orjson refused their subclasses already)."""
    stack = [content]
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is dict:
            stack.extend(value.values())
        elif kind is list or kind is tuple:
            stack.extend(value)
        elif kind is float and not math.isfinite(value):
            return True
    return False


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is left to json.dumps")
