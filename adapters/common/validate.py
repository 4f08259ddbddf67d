"""Validation of JSON payloads against a declarative field spec, and shared value parsers.

A portal's ``native.py`` lists its fields as :class:`FieldSpec` rows (path, type, required, limits,
allowed values, and how sure we are of the fact). :func:`validate` walks a payload against them
and returns :class:`Issue`\\ s naming the exact path (``items[2].salePrice``). Fields the spec does
not list are never touched — they are kept and returned as sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from adapters.common.images import check_image_uri
from adapters.common.issues import Issue, error


class Fact(StrEnum):
    """How sure we are of a format fact (see ../shared/PORTAL-FORMATS.md)."""

    CONFIRMED = "confirmed"
    SECONDARY = "secondary"
    INFERRED = "inferred"
    DECIDED = "decided"  # public facts stop here; we decided as the portal would


class Kind(StrEnum):
    STR = "str"
    INT = "int"
    NUMBER = "number"
    BOOL = "bool"
    LIST = "list"
    OBJECT = "object"
    IMAGE = "image"  # a string that must be an acceptable image URI
    STR_OR_INT = "str_or_int"


@dataclass(frozen=True)
class FieldSpec:
    path: str  # "items[].images[].vendorPath"; "[]" walks every element of a list
    kind: Kind
    required: bool = False
    max_len: int | None = None  # characters for strings, elements for lists
    min_len: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[object, ...] = ()
    pattern: str | None = None
    fact: Fact = Fact.SECONDARY
    note: str = ""
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    _parts: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.pattern is not None:
            object.__setattr__(self, "_regex", re.compile(self.pattern))
        object.__setattr__(self, "_parts", tuple(self.path.split(".")))


_MISSING = object()
_TYPES: dict[Kind, type | tuple[type, ...]] = {
    Kind.STR: str, Kind.IMAGE: str, Kind.INT: int, Kind.NUMBER: (int, float), Kind.BOOL: bool,
    Kind.LIST: list, Kind.OBJECT: dict, Kind.STR_OR_INT: (str, int),
}


def _walk(node: Any, parts: tuple[str, ...], prefix: str) -> Iterator[tuple[str, Any]]:
    """Yield (concrete path, value or _MISSING) for a spec path; stops below absent parents."""
    if not parts:
        yield prefix, node
        return
    head, rest = parts[0], parts[1:]
    many = head.endswith("[]")
    name = head[:-2] if many else head
    if not isinstance(node, dict):
        return
    value = node.get(name, _MISSING)
    path = f"{prefix}.{name}" if prefix else name
    if not many:
        if value is _MISSING or value is None:
            if not rest:
                yield path, _MISSING
            return
        yield from _walk(value, rest, path)
        return
    if not isinstance(value, list):
        return  # the list itself is checked by its own spec row
    for index, element in enumerate(value):
        yield from _walk(element, rest, f"{path}[{index}]")


def validate(payload: dict[str, Any], specs: Iterable[FieldSpec]) -> list[Issue]:
    issues: list[Issue] = []
    for spec in specs:
        for path, value in _walk(payload, spec._parts, ""):
            issues.extend(check_value(spec, path, value))
    return issues


def check_value(spec: FieldSpec, path: str, value: Any) -> list[Issue]:
    if value is _MISSING or value is None or value == "":
        return [error("missing_required", f"필수 항목이 비어 있습니다: {path}", path)] \
            if spec.required else []
    kind_ok = isinstance(value, _TYPES[spec.kind]) and not (
        isinstance(value, bool) and spec.kind not in (Kind.BOOL,))
    if not kind_ok:
        return [error("wrong_type", f"{path}: expected {spec.kind.value}, "
                                    f"got {type(value).__name__}", path)]
    out: list[Issue] = []
    if spec.kind is Kind.IMAGE:
        problem = check_image_uri(value, path)
        if problem:
            out.append(problem)
    if isinstance(value, str | list):
        if spec.max_len is not None and len(value) > spec.max_len:
            out.append(error("too_long", f"{path}: {len(value)} > {spec.max_len}", path))
        if spec.min_len is not None and len(value) < spec.min_len:
            out.append(error("too_short", f"{path}: {len(value)} < {spec.min_len}", path))
    if isinstance(value, int | float) and not isinstance(value, bool):
        if spec.minimum is not None and value < spec.minimum:
            out.append(error("out_of_range", f"{path}: {value} < {spec.minimum}", path))
        if spec.maximum is not None and value > spec.maximum:
            out.append(error("out_of_range", f"{path}: {value} > {spec.maximum}", path))
    if spec.choices and value not in spec.choices:
        allowed = ", ".join(map(str, spec.choices))
        out.append(error("invalid_value", f"{path}: {value!r} is not one of {allowed}", path))
    if spec._regex is not None and isinstance(value, str) and not spec._regex.fullmatch(value):
        out.append(error("invalid_format", f"{path}: {value!r} does not match {spec.pattern}",
                         path))
    return out


_KRW = re.compile(r"^\s*([0-9][0-9,]*)\s*(원|KRW)?\s*$", re.IGNORECASE)


def parse_krw(value: object) -> int | None:
    """A KRW amount from a cell: 39900, 39900.0, "39,900", "39,900원"; None if not a whole amount."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        match = _KRW.match(value)
        if match:
            return int(match.group(1).replace(",", ""))
    return None


def parse_int(value: object) -> int | None:
    return parse_krw(value)


def duplicates(values: Iterable[str | None]) -> dict[str, int]:
    """{value: how many times} for every non-empty value that occurs more than once."""
    seen: dict[str, int] = {}
    for v in values:
        if v:
            seen[v] = seen.get(v, 0) + 1
    return {v: n for v, n in seen.items() if n > 1}


def list_at(obj: dict[str, Any], key: str) -> list[Any]:
    """``obj[key]`` when it is a list, else an empty list (for checks after :func:`validate`)."""
    value = obj.get(key)
    return value if isinstance(value, list) else []
