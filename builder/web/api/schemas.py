"""JSON Schemas of one entity's records, built from each field type's `value_schema`.

The same schemas are published in OpenAPI and used to check request bodies, so the
API can never accept what its documentation says it refuses (and vice versa, as
far as types go: the record service still applies the blueprint's rules).
"""

from __future__ import annotations

import copy
from typing import Any

from builder.records.compiled import CompiledEntity, CompiledField
from engines.forms import ID_MAX, id_schema

NULL = {"type": "null"}
MAX_ID = ID_MAX  # ids are 64-bit (BIGINT) on every database
MAX_VERSION = 2**31 - 1  # the version column is a 32-bit integer
MAX_COMMENT = 2000  # a transition's comment, kept in the workflow history
RANGE_TYPES = ("integer", "decimal", "date", "datetime")
LOOSE_DROP = ("minimum", "maximum", "maxLength", "minLength", "pattern", "uniqueItems", "maxItems")
NOT_BLANK = r"\S"  # text is trimmed before it is stored: only spaces is no text at all


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, NULL]}


def has_default(field: CompiledField) -> bool:
    return field.default is not None or field.default_value is not None


def writable_fields(entity: CompiledEntity) -> dict[str, CompiledField]:
    """Fields some writer could set: every field that is not computed."""
    return {name: f for name, f in entity.fields.items() if f.compute is None}


def input_value_schema(field: CompiledField) -> dict[str, Any]:
    """What a writer may send for `field` (null clears an optional field)."""
    if field.children:
        return {
            "type": "array",
            "items": row_input_schema(field.children),
            "maxItems": field.kind.value_schema(field.spec)["maxItems"],
        }
    schema = copy.deepcopy(field.kind.value_schema(field.spec)) or {}
    if not field.spec.required:
        return nullable(schema)
    if schema.get("type") == "string" and "enum" not in schema:
        schema["minLength"] = max(schema.get("minLength", 0), 1)
        schema.setdefault("pattern", NOT_BLANK)
    return schema


def row_input_schema(children: dict[str, CompiledField]) -> dict[str, Any]:
    properties = {name: input_value_schema(f) for name, f in children.items() if f.compute is None}
    properties["id"] = id_schema()
    required = [name for name, f in children.items() if f.spec.required and not has_default(f) and f.compute is None]
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def create_schema(entity: CompiledEntity) -> dict[str, Any]:
    fields = writable_fields(entity)
    required = [
        name
        for name, f in fields.items()
        if f.spec.required and not has_default(f) and f.visible_if is None and not f.children
    ]
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {n: input_value_schema(f) for n, f in fields.items()},
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema


def patch_schema(entity: CompiledEntity) -> dict[str, Any]:
    properties = {n: input_value_schema(f) for n, f in writable_fields(entity).items()}
    properties["version"] = {
        "type": "integer",
        "format": "int32",
        "minimum": 1,
        "maximum": MAX_VERSION,
        "description": "The version you read; a stale one is refused with 409.",
    }
    return {"type": "object", "properties": properties, "required": ["version"], "additionalProperties": False}


def loose(schema: dict[str, Any]) -> dict[str, Any]:
    """A value schema for output: types and options only, not the input limits.

    Stored values may predate a tightened limit, and datetimes are local clock time
    without an offset, so read schemas keep what is always true.
    """
    out = {k: v for k, v in schema.items() if k not in LOOSE_DROP}
    if out.get("format") not in (None, "date"):
        out.pop("format")
    if isinstance(out.get("items"), dict):
        out["items"] = loose(out["items"])
    return out


def read_value_schema(field: CompiledField) -> dict[str, Any]:
    if field.children:
        return {"type": "array", "items": row_read_schema(field.children)}
    schema = loose(field.kind.value_schema(field.spec) or {})
    if field.spec.sensitive:  # roles without full access get masked text (138****5678)
        schema = (
            {"anyOf": [schema, {"type": "string"}]}
            if schema.get("type") != "string"
            else {k: v for k, v in schema.items() if k != "enum"}
        )
        schema["description"] = "Sensitive: masked for roles without full access."
    return nullable(schema)


def row_read_schema(children: dict[str, CompiledField]) -> dict[str, Any]:
    properties = {name: read_value_schema(f) for name, f in children.items()}
    properties["id"] = {"type": "integer", "format": "int64"}
    return {"type": "object", "properties": properties, "additionalProperties": False}


def read_schema(entity: CompiledEntity) -> dict[str, Any]:
    properties: dict[str, Any] = {"id": {"type": "integer", "format": "int64"}}
    for name, field in entity.fields.items():
        properties[name] = read_value_schema(field)
    properties.update(
        {
            "version": {"type": "integer"},
            "created_at": {"type": "string", "description": "Local time of the clinic."},
            "created_by": nullable({"type": "string"}),
            "updated_at": {"type": "string"},
            "updated_by": nullable({"type": "string"}),
        }
    )
    if any(f.compute is not None for f in entity.fields.values()):
        properties["_explain"] = {
            "type": "object",
            "additionalProperties": {"type": "object"},
            "description": "With `?explain=1`: for each computed field you may read, the values it read "
            "and, for decision tables, every row and which one matched.",
        }
    return {
        "type": "object",
        "properties": properties,
        "required": ["id", "version"],
        "additionalProperties": False,
        "description": "Only the fields your role may read are present; sensitive ones may be masked.",
    }


ERROR_SCHEMA = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "code", "message"],
                "properties": {"field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}},
            },
        }
    },
}
