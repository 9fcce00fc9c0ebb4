"""Time types: date and datetime."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from engines.rules import get_timezone

from ..models import FieldSpec
from .base import FieldType, FieldValueError, register_field_type
from .numbers import _check_range


@register_field_type
class Date(FieldType):
    """A calendar date (birth date, due date)."""

    name = "date"
    widget = "date"
    rule_type = "date"

    def column_type(self, spec: FieldSpec) -> sa.types.TypeEngine:
        return sa.Date()

    def coerce(self, value: Any, spec: FieldSpec) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if not isinstance(value, str):
            raise FieldValueError("invalid_date")
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise FieldValueError("invalid_date") from None

    def validate(self, value: Any, spec: FieldSpec, minimum: Any = None, maximum: Any = None) -> None:
        _check_range(value, _as_date(minimum), _as_date(maximum))

    def to_json(self, value: Any, spec: FieldSpec) -> Any:
        return None if value is None else value.isoformat()

    def value_schema(self, spec: FieldSpec) -> dict[str, Any]:
        return {"type": "string", "format": "date"}


def _as_date(value: Any) -> Any:
    return value.date() if isinstance(value, dt.datetime) else value


@register_field_type
class DateTime(FieldType):
    """A moment in the clinic's local time (appointment start), minute precision or finer."""

    name = "datetime"
    widget = "datetime"
    rule_type = "datetime"

    def column_type(self, spec: FieldSpec) -> sa.types.TypeEngine:
        return sa.DateTime()

    def coerce(self, value: Any, spec: FieldSpec) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, dt.datetime):
            moment = value
        elif isinstance(value, dt.date):
            moment = dt.datetime(value.year, value.month, value.day)
        elif isinstance(value, str):
            try:
                moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                raise FieldValueError("invalid_datetime") from None
        else:
            raise FieldValueError("invalid_datetime")
        if moment.tzinfo is not None:  # stored as naive local time of the app's zone
            try:
                moment = moment.astimezone(get_timezone()).replace(tzinfo=None)
            except (OverflowError, ValueError):
                raise FieldValueError("invalid_datetime") from None
        if not 1 <= moment.year <= 9999:
            raise FieldValueError("invalid_datetime")
        return moment.replace(microsecond=0)

    def validate(self, value: Any, spec: FieldSpec, minimum: Any = None, maximum: Any = None) -> None:
        bound = lambda limit: None if limit is None else self.coerce(limit, spec)  # noqa: E731 - a date means its midnight
        _check_range(value, bound(minimum), bound(maximum))

    def to_json(self, value: Any, spec: FieldSpec) -> Any:
        return None if value is None else value.isoformat()

    def value_schema(self, spec: FieldSpec) -> dict[str, Any]:
        return {"type": "string", "format": "date-time"}

    def display(self, value: Any, spec: FieldSpec, locale: str) -> str:
        return "" if value is None else value.strftime("%Y-%m-%d %H:%M")
