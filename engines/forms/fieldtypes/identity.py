"""cn_resident_id: the 18-character PRC resident identity number, checksum validated."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from ..models import FieldSpec
from .base import FieldType, FieldValueError, register_field_type

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def resident_id_check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits (GB 11643-1999)."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS))
    return _CHECK[total % 11]


def is_valid_resident_id(value: str) -> bool:
    """True for 18 characters: 17 digits, a real birth date inside, and a matching check character."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    try:
        dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return resident_id_check_digit(value[:17]) == value[17].upper()


@register_field_type
class ResidentId(FieldType):
    """A PRC resident ID; masked as 3301**********1234."""

    name = "cn_resident_id"
    widget = "text"
    rule_type = "text"

    def column_type(self, spec: FieldSpec) -> sa.types.TypeEngine:
        return sa.String(18)

    def coerce(self, value: Any, spec: FieldSpec) -> Any:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise FieldValueError("invalid_resident_id")
        text = value.strip().upper()
        if not is_valid_resident_id(text):
            raise FieldValueError("invalid_resident_id")
        return text

    def value_schema(self, spec: FieldSpec) -> dict[str, Any]:
        return {"type": "string", "pattern": "^[0-9]{17}[0-9Xx]$"}

    def mask(self, value: Any, spec: FieldSpec) -> Any:
        if value is None:
            return None
        text = str(value)
        return text[:4] + "*" * (len(text) - 8) + text[-4:]
