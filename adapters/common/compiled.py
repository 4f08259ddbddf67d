"""A portal's field spec compiled into one pydantic-core validator, for speed.

:func:`adapters.common.validate.validate` walks a payload once per spec row in Python and names
every problem; on a valid product (the common case) that walk was most of the adapter's time.
:class:`CompiledSpec` first asks a validator built from the same rows, running in Rust, whether the
payload is clean; only when it is not does the Python walk run to produce the issues. So the issues
are always the walk's own, and the compiled check only has to be *at least as strict* as the walk:
where it cannot mirror a rule exactly (a list element that is not an object, a parent of the wrong
type) it refuses, and the walk decides. ``tests/unit/adapters/test_compiled_spec.py`` checks that
on real and mutated payloads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import SchemaValidator, ValidationError
from pydantic_core import core_schema as cs

from adapters.common.images import image_uri_problem
from adapters.common.issues import Issue
from adapters.common.validate import FieldSpec, Kind, validate


class CompiledSpec:
    """``validate(payload)`` with the issues of :func:`~adapters.common.validate.validate`."""

    def __init__(self, specs: Iterable[FieldSpec]) -> None:
        self.specs = tuple(specs)
        self._check = SchemaValidator(_fields(_trie(self.specs)))

    def is_clean(self, payload: dict[str, Any]) -> bool:
        """True only when the spec walk would find no issue (False may still mean none)."""
        try:
            self._check.validate_python(payload)
        except ValidationError:
            return False
        return True

    def validate(self, payload: dict[str, Any]) -> list[Issue]:
        return [] if self.is_clean(payload) else validate(payload, self.specs)


@dataclass
class _Node:
    """One path segment: ``name`` (the value) or ``name[]`` (each element of the list)."""

    spec: FieldSpec | None = None
    children: dict[str, _Node] = field(default_factory=dict)


def _trie(specs: tuple[FieldSpec, ...]) -> _Node:
    root = _Node()
    for spec in specs:
        node = root
        for part in spec.path.split("."):
            node = node.children.setdefault(part, _Node())
        if node.spec is not None:
            raise ValueError(f"two spec rows for {spec.path}")
        node.spec = spec
    return root


def _fields(node: _Node) -> cs.CoreSchema:
    """An object whose listed keys follow their rows; other keys are not looked at."""
    names = dict.fromkeys(part.removesuffix("[]") for part in node.children)
    fields: dict[str, cs.TypedDictField] = {}
    for name in names:
        value, elements = node.children.get(name), node.children.get(f"{name}[]")
        spec = value.spec if value else None
        schema = _value(spec, value.children if value else {}, elements)
        required = spec is not None and spec.required
        fields[name] = cs.typed_dict_field(schema if required else _optional(schema),
                                           required=required)
    return cs.typed_dict_schema(fields, strict=True, extra_behavior="ignore")


def _value(spec: FieldSpec | None, children: dict[str, _Node],
           elements: _Node | None) -> cs.CoreSchema:
    if elements is not None:
        if spec is not None and spec.kind is not Kind.LIST:
            raise ValueError(f"{spec.path}: elements listed under a {spec.kind.value}")
        item = _value(elements.spec, elements.children, None)
        if elements.spec is not None and not elements.spec.required:
            item = _optional(item)
        bounds = spec if spec is not None else FieldSpec("", Kind.LIST)
        return cs.list_schema(item, strict=True, min_length=bounds.min_len,
                              max_length=bounds.max_len)
    if children:
        if spec is not None and spec.kind is not Kind.OBJECT:
            raise ValueError(f"{spec.path}: fields listed under a {spec.kind.value}")
        return _fields(_Node(children=children))
    if spec is None:
        return cs.any_schema()
    return _kind(spec)


def _optional(schema: cs.CoreSchema) -> cs.CoreSchema:
    # The walk treats an absent key, null and "" alike: fine unless required. The value's own
    # schema is tried first: a union choice that fails costs an error object, and most values
    # are not "" (a union accepts what either choice accepts, whatever the order).
    return cs.nullable_schema(cs.union_schema([schema, cs.literal_schema([""])],
                                              mode="left_to_right"))


def _kind(spec: FieldSpec) -> cs.CoreSchema:
    kind = spec.kind
    schema: cs.CoreSchema
    if kind in (Kind.STR, Kind.IMAGE):
        schema = _text(spec)
    elif kind is Kind.INT:
        schema = _integer(spec)
    elif kind is Kind.NUMBER:
        low = None if spec.minimum is None else float(spec.minimum)
        high = None if spec.maximum is None else float(spec.maximum)
        schema = cs.union_schema([_integer(spec), cs.float_schema(strict=True, ge=low, le=high)],
                                 mode="left_to_right")
    elif kind is Kind.BOOL:
        schema = cs.bool_schema(strict=True)
    elif kind is Kind.LIST:
        schema = cs.list_schema(cs.any_schema(), strict=True, min_length=spec.min_len,
                                max_length=spec.max_len)
    elif kind is Kind.OBJECT:
        schema = cs.dict_schema(strict=True)
    else:  # STR_OR_INT
        schema = cs.union_schema([_text(spec), _integer(spec)], mode="left_to_right")
    if spec.choices and kind is not Kind.STR:
        schema = cs.no_info_after_validator_function(_member_of(spec.choices), schema)
    return schema


def _text(spec: FieldSpec) -> cs.CoreSchema:
    # "" is "missing" to the walk: a required text must have at least one character.
    shortest = max(spec.min_len or 0, 1 if spec.required else 0) or None
    pattern = None if spec.pattern is None else rf"\A(?:{spec.pattern})\Z"
    schema: cs.CoreSchema = cs.str_schema(strict=True, min_length=shortest,
                                          max_length=spec.max_len, pattern=pattern,
                                          regex_engine="python-re")
    if spec.kind is Kind.STR and spec.choices:
        schema = cs.chain_schema([schema, cs.literal_schema(list(spec.choices))])
    if spec.kind is Kind.IMAGE:
        schema = cs.no_info_after_validator_function(_acceptable_image, schema)
    return schema


def _integer(spec: FieldSpec) -> cs.CoreSchema:
    return cs.int_schema(strict=True,
                         ge=None if spec.minimum is None else math.ceil(spec.minimum),
                         le=None if spec.maximum is None else math.floor(spec.maximum))


def _acceptable_image(uri: str) -> str:
    if image_uri_problem(uri) is not None:
        raise ValueError("unacceptable image URI")
    return uri


def _member_of(choices: tuple[object, ...]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value not in choices:
            raise ValueError("not an allowed value")
        return value
    return check
