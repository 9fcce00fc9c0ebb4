"""The OpenAPI of `POST /api/{entity}/bulk-update`: fields set on selected records, each record judged alone."""

from __future__ import annotations

from typing import Any

from builder.records.bulk_update import MAX_BULK_FIELDS
from builder.records.manual import MAX_BULK_IDS

REFUSAL_CODES = ["not_found", "conflict", "invalid", "failed"]


def bulk_update_body(fields: dict[str, Any], records: dict[str, Any]) -> dict[str, Any]:
    """The body: `values` (fields that may be set on many records, each typed as in a PATCH) and the records.

    The older one-field shape (`field` and `value`) is still accepted and described as a second choice.
    """
    writable = (
        "Fields your role may write that are not a workflow's state, computed, a table or unique (403 for one "
        "you may read but not write)."
    )
    return {
        "oneOf": [
            {
                "type": "object",
                "title": "Several fields",
                "required": ["values", "records"],
                "additionalProperties": False,
                "properties": {
                    "values": {
                        "type": "object",
                        "minProperties": 1,
                        "maxProperties": MAX_BULK_FIELDS,
                        "additionalProperties": False,
                        "properties": fields,
                        "description": f"{writable} Each value as in a PATCH of that field (null clears it); "
                        "all are set in one write per record.",
                    },
                    "records": records,
                },
            },
            {
                "type": "object",
                "title": "One field (the older shape)",
                "required": ["field", "value", "records"],
                "additionalProperties": False,
                "properties": {
                    "field": {"type": "string", "enum": list(fields), "description": writable},
                    "value": {"description": "The value, as in a PATCH of this field (null clears it)."},
                    "records": records,
                },
            },
        ]
    }


def bulk_update_path(ref: str, tags: list[str], operation: str, errors: dict[str, Any]) -> dict[str, Any]:
    """`POST /api/{entity}/bulk-update`, its body at `ref`."""
    error = {
        "type": "object",
        "required": ["field", "code", "message"],
        "properties": {"field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}},
    }
    refusal = {
        "type": "object",
        "required": ["id", "code", "message"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "code": {"type": "string", "enum": REFUSAL_CODES},
            "message": {"type": "string"},
            "errors": {"type": "array", "items": error, "description": "For `invalid`: each field's problem."},
        },
    }
    result = {
        "type": "object",
        "required": ["fields", "updated", "refused"],
        "additionalProperties": False,
        "properties": {
            "fields": {"type": "array", "items": {"type": "string"}, "description": "The fields set."},
            "field": {"type": "string", "description": "The field, when the request used the one-field shape."},
            "updated": {"type": "array", "items": {"type": "integer"}, "description": "The records changed."},
            "refused": {"type": "array", "items": refusal},
        },
    }
    return {
        "post": {
            "operationId": operation,
            "tags": tags,
            "summary": f"Set fields on up to {MAX_BULK_IDS} selected records (send each `version` you read)",
            "description": "Each record is written alone (all the fields in one write), through every rule, "
            "permission and validation a PATCH "
            "has: one you cannot see (`not_found`), changed since you read it (`conflict`), whose rules refuse the "
            "value (`invalid`, with `errors`) or whose automations fail (`failed`) is reported in `refused` and "
            "left unchanged; the others change. One `bulk_update` audit entry per request naming the "
            "fields (never the values), besides each record's own change entry. A field the whole request "
            "may not set is named in the error's `field`: `unknown_field` (422) alike for one that does not "
            "exist and one your role may not read, 403 for one it reads but may not write, `not_bulk` (422).",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": ref}}}},
            "responses": {
                "200": {
                    "description": "What changed, and what was refused and why.",
                    "content": {"application/json": {"schema": result}},
                },
                **errors,
            },
        },
    }
