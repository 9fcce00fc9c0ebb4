"""The forms engine: entities, field types, forms and their checks."""

from .checks import check_entities_and_forms
from .checks_common import check_localized
from .checks_expressions import compile_checked, fits
from .checks_public import public_fields, public_roles
from .fieldtypes import (
    FIELD_TYPES,
    ID_MAX,
    INT_LIMIT,
    FieldType,
    FieldValueError,
    field_type,
    id_column_type,
    id_schema,
    register_field_type,
)
from .messages import message
from .models import (
    EntitySpec,
    FieldSpec,
    FormSpec,
    LocalizedText,
    PermissionSpec,
    PublicSpec,
    SectionSpec,
    TasksSpec,
    ValidationSpec,
    ViewSpec,
    localized,
)
from .scope import child_scope, default_is_expression, entity_names, entity_scope, link_filter_scope
from .tasks import TaskFields, person_fields, resolve_tasks

__all__ = [
    "FIELD_TYPES",
    "ID_MAX",
    "INT_LIMIT",
    "EntitySpec",
    "FieldSpec",
    "FieldType",
    "FieldValueError",
    "FormSpec",
    "LocalizedText",
    "PermissionSpec",
    "PublicSpec",
    "SectionSpec",
    "TaskFields",
    "TasksSpec",
    "ValidationSpec",
    "ViewSpec",
    "check_entities_and_forms",
    "check_localized",
    "child_scope",
    "compile_checked",
    "default_is_expression",
    "entity_names",
    "entity_scope",
    "field_type",
    "fits",
    "id_column_type",
    "id_schema",
    "link_filter_scope",
    "localized",
    "message",
    "person_fields",
    "public_fields",
    "public_roles",
    "register_field_type",
    "resolve_tasks",
]
