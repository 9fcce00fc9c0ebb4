"""Number types: integer and decimal."""

from __future__ import annotations

import decimal
from typing import Any

import sqlalchemy as sa

from ..models import FieldSpec
from .base import FieldType, FieldValueError, register_field_type

INT_LIMIT = 2**53 - 1  # safe in JSON clients and in every database's BIGINT


def _check_range(value: Any, minimum: Any, maximum: Any) -> None:
    if minimum is not None and value < minimum:
        raise FieldValueError("min", limit=minimum)
    if maximum is not None and value > maximum:
        raise FieldValueError("max", limit=maximum)


@register_field_type
class Integer(FieldType):
    """A whole number (age, minutes, a score)."""

    name = "integer"
    widget = "number"
    rule_type = "integer"

    def column_type(self, spec: FieldSpec) -> sa.types.TypeEngine:
        return sa.BigInteger().with_variant(sa.Integer(), "sqlite")

    def coerce(self, value: Any, spec: FieldSpec) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise FieldValueError("invalid_integer")
        if isinstance(value, float):
            if not value.is_integer():
                raise FieldValueError("invalid_integer")
            value = int(value)
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise FieldValueError("invalid_integer") from None
        if not isinstance(value, int) or abs(value) > INT_LIMIT:
            raise FieldValueError("invalid_integer")
        return value

    def validate(self, value: Any, spec: FieldSpec, minimum: Any = None, maximum: Any = None) -> None:
        _check_range(value, minimum, maximum)

    def value_schema(self, spec: FieldSpec) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer", "format": "int64", "minimum": -INT_LIMIT, "maximum": INT_LIMIT}
        if isinstance(spec.min, (int, float)) and not isinstance(spec.min, bool):
            schema["minimum"] = spec.min
        if isinstance(spec.max, (int, float)) and not isinstance(spec.max, bool):
            schema["maximum"] = spec.max
        return schema


@register_field_type
class Decimal(FieldType):
    """An exact decimal number (glucose 7.8 mmol/L); `precision` digits, `scale` after the point."""

    name = "decimal"
    widget = "decimal"
    rule_type = "decimal"
    options_allowed = frozenset({"precision", "scale", "unit"})

    def _digits(self, spec: FieldSpec) -> tuple[int, int]:
        return spec.precision or 12, spec.scale if spec.scale is not None else 2

    def column_type(self, spec: FieldSpec) -> sa.types.TypeEngine:
        precision, scale = self._digits(spec)
        return sa.Numeric(precision, scale, asdecimal=True)

    def coerce(self, value: Any, spec: FieldSpec) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise FieldValueError("invalid_number")
        try:
            number = decimal.Decimal(str(value).strip())
        except (decimal.InvalidOperation, ValueError):
            raise FieldValueError("invalid_number") from None
        if not number.is_finite():
            raise FieldValueError("invalid_number")
        precision, scale = self._digits(spec)
        too_big = lambda n: n != 0 and n.adjusted() >= precision - scale  # noqa: E731
        if too_big(number):
            raise FieldValueError("too_many_digits", limit=precision, scale=scale)
        number = number.quantize(decimal.Decimal(1).scaleb(-scale), rounding=decimal.ROUND_HALF_UP)
        if too_big(number):
            raise FieldValueError("too_many_digits", limit=precision, scale=scale)
        return number

    def validate(self, value: Any, spec: FieldSpec, minimum: Any = None, maximum: Any = None) -> None:
        _check_range(
            value,
            None if minimum is None else decimal.Decimal(str(minimum)),
            None if maximum is None else decimal.Decimal(str(maximum)),
        )

    def from_storage(self, value: Any, spec: FieldSpec) -> Any:
        if value is None:
            return None
        return value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value))

    def to_json(self, value: Any, spec: FieldSpec) -> Any:
        return None if value is None else float(value)

    def value_schema(self, spec: FieldSpec) -> dict[str, Any]:
        precision, scale = self._digits(spec)
        bound = float(10 ** (precision - scale)) - 10.0**-scale
        schema: dict[str, Any] = {"type": "number", "minimum": -bound, "maximum": bound}
        if isinstance(spec.min, (int, float)) and not isinstance(spec.min, bool):
            schema["minimum"] = spec.min
        if isinstance(spec.max, (int, float)) and not isinstance(spec.max, bool):
            schema["maximum"] = spec.max
        return schema

    def display(self, value: Any, spec: FieldSpec, locale: str) -> str:
        if value is None:
            return ""
        return f"{value} {spec.unit}" if spec.unit else str(value)
