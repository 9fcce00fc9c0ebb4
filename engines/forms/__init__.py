"""The forms engine: entities, field types, forms and their checks."""

from .checks import check_entities_and_forms
from .fieldtypes import FIELD_TYPES, FieldType, FieldValueError, field_type, register_field_type
from .messages import message
from .models import EntitySpec, FieldSpec, FormSpec, LocalizedText, PermissionSpec, SectionSpec, ValidationSpec, localized

__all__ = [
    "EntitySpec",
    "FIELD_TYPES",
    "FieldSpec",
    "FieldType",
    "FieldValueError",
    "FormSpec",
    "LocalizedText",
    "PermissionSpec",
    "SectionSpec",
    "ValidationSpec",
    "check_entities_and_forms",
    "field_type",
    "localized",
    "message",
    "register_field_type",
]
