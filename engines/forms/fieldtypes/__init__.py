"""Every built-in field type registers itself on import; see base.py for the contract."""

from . import choices, dates, identity, links, numbers, phones, text  # noqa: F401  (registration)
from .base import FIELD_TYPES, FieldType, FieldValueError, field_type, register_field_type
from .identity import is_valid_resident_id, resident_id_check_digit
from .links import ID_MAX, id_column_type, id_schema
from .numbers import INT_LIMIT

__all__ = [
    "FIELD_TYPES",
    "ID_MAX",
    "INT_LIMIT",
    "FieldType",
    "FieldValueError",
    "field_type",
    "id_column_type",
    "id_schema",
    "is_valid_resident_id",
    "register_field_type",
    "resident_id_check_digit",
]
