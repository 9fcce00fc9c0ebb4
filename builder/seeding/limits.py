"""A field's `min`/`max` as values the seeder can compare with: numbers, dates, or another field.

Limits of dates are often expressions (`max: "today()"`, `min: "starts_on"`); the ones
whose value is plain to see are read here, so made values start inside them. The record
service still checks every limit; a value outside one is retried like any refused row.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Mapping
from typing import Any

from engines.forms import FieldSpec

_DATE_LITERAL = re.compile(r"^date\(\s*'(\d{4}-\d{2}-\d{2})'\s*\)$")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def number_bounds(spec: FieldSpec) -> tuple[float | None, float | None]:
    """The numeric limits of an integer or decimal field, also those implied by its digits."""
    low = spec.min if _is_number(spec.min) else None
    high = spec.max if _is_number(spec.max) else None
    if spec.type == "decimal":
        precision, scale = spec.precision or 12, spec.scale if spec.scale is not None else 2
        widest = 10 ** (precision - scale) - 10**-scale
        low = max(low, -widest) if low is not None else -widest
        high = min(high, widest) if high is not None else widest
    return low, high


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def moment_limit(limit: Any, row: Mapping[str, Any], now: dt.datetime) -> dt.datetime | None:
    """A date/datetime limit as a moment, when it is a literal, today(), now(), date('...') or a field."""
    if isinstance(limit, dt.datetime):
        return limit.replace(tzinfo=None)
    if isinstance(limit, dt.date):
        return dt.datetime.combine(limit, dt.time())
    if not isinstance(limit, str):
        return None
    text = limit.strip()
    if text == "now()":
        return now
    if text == "today()":
        return dt.datetime.combine(now.date(), dt.time())
    literal = _DATE_LITERAL.match(text)
    if literal:
        return dt.datetime.fromisoformat(literal.group(1))
    if _FIELD_NAME.match(text) and isinstance(row.get(text), str):
        try:
            return dt.datetime.fromisoformat(row[text])
        except ValueError:
            return None
    return None


def fit_moment(
    moment: dt.datetime, spec: FieldSpec, row: Mapping[str, Any], now: dt.datetime, rng: random.Random
) -> dt.datetime:
    """`moment` moved inside the field's known limits (a few days inside, not on the edge)."""
    low = moment_limit(spec.min, row, now)
    high = moment_limit(spec.max, row, now)
    if spec.type == "date" and high is not None and isinstance(spec.max, str) and spec.max.strip() == "today()":
        high += dt.timedelta(hours=23, minutes=59)
    if low is not None and moment < low:
        moment = dt.datetime.combine((low + dt.timedelta(days=rng.randint(1, 60))).date(), moment.time())
    if high is not None and moment > high:
        moment = high - dt.timedelta(days=rng.randint(0, 30), minutes=rng.randint(0, 120))
    if low is not None and moment < low:
        moment = low
    return moment
