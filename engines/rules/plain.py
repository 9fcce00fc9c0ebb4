"""Turn run-time values into plain JSON-friendly data for explanations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def plain(value: Any) -> Any:
    """`value` as JSON-friendly data: dates as ISO text, decimals as text, records summarised."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return {"days": value.days, "seconds": value.seconds}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value[:100]]
    if isinstance(value, Mapping):
        return {"record": plain(value.get("id")) if "id" in value else None}
    return repr(value)[:200]


def describe_inputs(values: Mapping[str, Any]) -> str:
    """`systolic=150, diastolic=85`, for messages."""
    return ", ".join(f"{name}={_short(value)}" for name, value in values.items())


def _short(value: Any) -> str:
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, str):
        return value if value and " " not in value else repr(value)
    if isinstance(value, Decimal):
        return str(value)
    return "null" if value is None else repr(value)
