"""Records as JSON: each field type's `to_json`, child rows nested, system fields as ISO text."""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import json
from typing import Any

from builder.records.compiled import CompiledEntity, CompiledField
from engines.forms import FieldType

_AS_IS = frozenset({int, str, bool, float})


def system_json(value: Any) -> Any:
    if value is None or type(value) in _AS_IS:  # ids, versions, names: the common case first
        return value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def field_json(field: CompiledField, value: Any) -> Any:
    """One value as JSON; masked text passes through unchanged."""
    if value is None:
        return None
    if field.children:
        return [rows_json(field.children, row) for row in value or []]
    if field.spec.sensitive and isinstance(value, str):
        return value
    try:
        return field.kind.to_json(value, field.spec)
    except Exception:  # noqa: BLE001 - a value the type cannot render is still shown, as text
        return str(value)


def rows_json(fields: dict[str, CompiledField], row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        field = fields.get(key)
        out[key] = field_json(field, value) if field is not None else system_json(value)
    return out


def record_json(entity: CompiledEntity, record: dict[str, Any]) -> dict[str, Any]:
    """A record from the record service (readable fields only) as a JSON object.

    Each key's conversion is worked out once per entity (`_json_plan`): a list of 50 records asks
    the same question of every key 50 times, and most answers are "as it is"."""
    plan = entity.derived.get(_PLAN)
    if plan is None:
        plan = entity.derived[_PLAN] = _json_plan(entity)
    out: dict[str, Any] = {}
    for key, value in record.items():
        convert = plan.get(key, system_json)
        out[key] = value if convert is None or value is None else convert(value)
    return out


_PLAN = "api_json_plan"
# the system columns' types are the schema's own: ids and names as they are, the stamps as ISO text
_SYSTEM_PLAN = {
    "id": None,
    "version": None,
    "created_by": None,
    "updated_by": None,
    "created_at": system_json,
    "updated_at": system_json,
}


def _json_plan(entity: CompiledEntity) -> dict[str, Any]:
    """Per field: None when its value is already JSON (the type's `to_json` is the identity), else how to convert."""
    plan: dict[str, Any] = dict(_SYSTEM_PLAN)
    for name, field in entity.fields.items():
        as_is = not field.children and type(field.kind).to_json is FieldType.to_json
        plan[name] = None if as_is else functools.partial(field_json, field)
    return plan


def jsonable(value: Any) -> Any:
    """Plain data (an explanation) with dates, decimals and the like as text."""
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))
