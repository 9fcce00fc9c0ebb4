"""Reading request bodies: one JSON object, its allowed keys, and the selected records of a bulk request.

Every endpoint that takes a body reads it here, so malformed JSON, a non-object,
NaN or an unknown key get the same clear error everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request

from builder.records.bulk_update import MAX_BULK_FIELDS
from builder.records.manual import MAX_BULK_IDS

from .errors import one
from .schemas import MAX_ID, MAX_VERSION


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


async def json_object(request: Request, keys: Sequence[str] | None = None, *, empty: bool = True) -> dict[str, Any]:
    """The body as a JSON object (400 otherwise); `empty` reads no body as `{}`; other `keys` are a 422."""
    raw = await request.body()  # its size is capped while it streams in (security.BodyLimitMiddleware)
    try:
        body = json.loads(raw or (b"{}" if empty else raw), parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise one(400, "malformed_json", "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise one(400, "malformed_json", "the request body must be a JSON object")
    unknown = sorted(set(body) - set(keys)) if keys is not None else []
    if keys is not None and unknown:
        wanted = ", ".join(keys[:-1]) + " and " + keys[-1] if len(keys) > 1 else keys[0]
        raise one(422, "unknown_field", f"unknown key `{unknown[0]}`: send {wanted}", unknown[0])
    return body


def _is_int(value: Any, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= high


def selected_ids(body: dict[str, Any]) -> list[int]:
    """`ids`: 1 to MAX_BULK_IDS record ids (422 otherwise)."""
    ids = body.get("ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_BULK_IDS or not all(_is_int(i, MAX_ID) for i in ids):
        raise one(422, "invalid", f"`ids` is a list of 1 to {MAX_BULK_IDS} record ids", "ids")
    return ids


def selected_records(body: dict[str, Any]) -> list[tuple[int, int]]:
    """`records`: 1 to MAX_BULK_IDS objects `{id, version}`, the version each record was read at (422 otherwise)."""
    records = body.get("records")
    text = f"`records` is a list of 1 to {MAX_BULK_IDS} objects {{id, version}}"
    if not isinstance(records, list) or not 1 <= len(records) <= MAX_BULK_IDS:
        raise one(422, "invalid", text, "records")
    pairs = []
    for item in records:
        if not isinstance(item, dict) or set(item) != {"id", "version"}:
            raise one(422, "invalid", text, "records")
        if not (_is_int(item["id"], MAX_ID) and _is_int(item["version"], MAX_VERSION)):
            raise one(422, "invalid", text, "records")
        pairs.append((item["id"], item["version"]))
    return pairs


def bulk_values(body: dict[str, Any]) -> dict[str, Any]:
    """The fields a bulk update sets: `values` ({field: value}, 1 to MAX_BULK_FIELDS), or older `field` and `value`."""
    if "values" in body:
        values = body["values"]
        if "field" in body or "value" in body:
            raise one(422, "invalid", "send either `values` or `field` and `value`, not both", "values")
        if not isinstance(values, dict) or not 1 <= len(values) <= MAX_BULK_FIELDS:
            wanted = f"`values` is an object of 1 to {MAX_BULK_FIELDS} fields and their values"
            raise one(422, "invalid", wanted, "values")
        return values
    field = body.get("field")
    if not isinstance(field, str) or "value" not in body:
        raise one(422, "required", "send `values`: the fields to set and their values", "values")
    return {field: body["value"]}
