"""Which filter parameters a list accepts, and what each one's value looks like.

One table drives both the server and its OpenAPI document: `parse_list_params`
refuses a key that is not here (400 `unknown_field`, like a field that does not
exist), and the document lists exactly these keys, typed from each field's own
value schema. Which of them a given role may use is still the record service's
decision (hidden fields, masked values).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from builder.records.compiled import CompiledEntity, CompiledField
from builder.records.querying import RANGE_OPERATORS, SYSTEM_MOMENTS, SYSTEM_SORTS

from .schemas import loose

TEXT_TYPES = ("text", "long_text", "phone", "email", "cn_resident_id")
ORDERED_TYPES = ("integer", "decimal", "date", "datetime", *TEXT_TYPES)
MAX_PARAM_LENGTH = 1000
ID_SCHEMA = {"type": "integer", "format": "int64"}
MOMENT_SCHEMA = {"type": "string", "format": "date-time", "maxLength": 40}


@dataclass(frozen=True)
class FilterKey:
    key: str
    field: str  # the field's name, or `id`
    op: str  # eq, ne, gt, gte, lt, lte, in, contains
    schema: dict[str, Any]
    description: str


def operators(field: CompiledField) -> tuple[str, ...]:
    """The operators a field may be filtered with (by its type)."""
    kind = field.spec.type
    if kind == "multi_select":
        return ("eq",)  # has this option
    if kind == "boolean":
        return ("eq", "ne")
    ops: tuple[str, ...] = ("eq", "ne", "in")
    if field.spec.encrypted:
        return ops  # exact matches only, through the keyed hash
    if kind in ORDERED_TYPES:
        ops += ("gt", "gte", "lt", "lte")
    if kind in TEXT_TYPES:
        ops += ("contains",)
    return ops


def _value_schema(field: CompiledField) -> dict[str, Any]:
    schema = copy.deepcopy(loose(field.kind.value_schema(field.spec) or {}))
    if field.spec.type == "multi_select":
        schema = copy.deepcopy(schema.get("items") or {"type": "string"})
    if schema.get("type") == "string" and "enum" not in schema:
        schema["maxLength"] = MAX_PARAM_LENGTH
    if schema.get("type") == "integer":
        schema.setdefault("format", "int64")
    return schema


WORDS = {
    "eq": "equal to",
    "ne": "not equal to",
    "gt": "greater than",
    "gte": "at least",
    "lt": "less than",
    "lte": "at most",
    "in": "one of these (comma-separated)",
    "contains": "containing this text (any case)",
}


def _key(name: str, op: str, value: dict[str, Any], multi: bool = False) -> FilterKey:
    key = name if op == "eq" else f"{name}__{op}"
    schema = (
        {"type": "array", "items": value}
        if op == "in"
        else ({"type": "string", "maxLength": MAX_PARAM_LENGTH} if op == "contains" else value)
    )
    text = (
        f"Only records whose `{name}` has this option."
        if multi
        else f"Only records whose `{name}` is {WORDS[op]} this value."
    )
    return FilterKey(key, name, op, schema, text)


def filter_keys(entity: CompiledEntity) -> list[FilterKey]:
    """Every filter parameter of `entity`'s list, in field order (`id` first)."""
    keys = [_key("id", op, dict(ID_SCHEMA)) for op in ("eq", "ne", "in", "gt", "gte", "lt", "lte")]
    for stamp in SYSTEM_MOMENTS:  # when records were created or changed: ranges only (a report's drill-down)
        if stamp not in entity.fields:
            keys += [_key(stamp, op, dict(MOMENT_SCHEMA)) for op in RANGE_OPERATORS]
    for name, field in entity.fields.items():
        if not field.kind.stored or field.children:
            continue
        value = _value_schema(field)
        keys += [_key(name, op, value, field.spec.type == "multi_select") for op in operators(field)]
    return keys


def accepted_keys(entity: CompiledEntity) -> frozenset[str]:
    """The filter parameters `entity`'s list takes; worked out once per entity, not per request."""
    known = entity.derived.get("filter_keys")
    if known is None:
        known = entity.derived["filter_keys"] = frozenset(k.key for k in filter_keys(entity))
    return known


ID_MAX = 2**63 - 1  # ids are 64-bit on every database


def sort_keys(entity: CompiledEntity) -> list[str]:
    """What `sort` may name, both ways (`name`, `-name`): stored fields that are neither secret nor masked."""
    names = [
        *SYSTEM_SORTS,
        *(
            n
            for n, f in entity.fields.items()
            if f.kind.stored and not f.children and not f.spec.encrypted and not f.spec.sensitive
        ),
    ]
    return [key for name in names for key in (name, f"-{name}")]
