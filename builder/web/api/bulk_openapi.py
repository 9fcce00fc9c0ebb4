"""The OpenAPI of `POST /api/{entity}/bulk-update`: one field set on selected records, each judged alone."""

from __future__ import annotations

from typing import Any

from builder.records.manual import MAX_BULK_IDS

REFUSAL_CODES = ["not_found", "conflict", "invalid", "failed"]


def bulk_update_body(fields: list[str], records: dict[str, Any]) -> dict[str, Any]:
    """The body: the field (one that may be set on many records), its value and the records with their versions."""
    return {
        "type": "object",
        "required": ["field", "value", "records"],
        "additionalProperties": False,
        "properties": {
            "field": {
                "type": "string",
                "enum": fields,
                "description": "A field your role may write that is not a workflow's state, computed, a table or "
                "unique (403 for one you may read but not write).",
            },
            "value": {"description": "The value, as in a PATCH of this field (null clears it)."},
            "records": records,
        },
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
        "required": ["field", "updated", "refused"],
        "additionalProperties": False,
        "properties": {
            "field": {"type": "string"},
            "updated": {"type": "array", "items": {"type": "integer"}, "description": "The records changed."},
            "refused": {"type": "array", "items": refusal},
        },
    }
    return {
        "post": {
            "operationId": operation,
            "tags": tags,
            "summary": f"Set one field on up to {MAX_BULK_IDS} selected records (send each `version` you read)",
            "description": "Each record is written alone, through every rule, permission and validation a PATCH "
            "has: one you cannot see (`not_found`), changed since you read it (`conflict`), whose rules refuse the "
            "value (`invalid`, with `errors`) or whose automations fail (`failed`) is reported in `refused` and "
            "left unchanged; the others change. One `bulk_update` audit entry per request, besides each "
            "record's own change entry.",
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
