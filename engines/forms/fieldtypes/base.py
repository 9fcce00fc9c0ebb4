"""The field-type registry: one class per type owns everything about that type.

Adding a type is adding one class with `@register_field_type`: its column type, how
input is coerced and validated, its widget, its JSON Schema fragments, and how it is
displayed and masked. Nothing else in the project switches on a type name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import sqlalchemy as sa

from engines.rules import Problem

from ..models import FieldSpec


class FieldValueError(ValueError):
    """A value a user typed that the field cannot take; `code` picks the localized message."""

    def __init__(self, code: str, **params: Any):
        super().__init__(code)
        self.code = code
        self.params = params


class FieldType:
    """Base of every field type. Subclasses override what differs."""

    name: ClassVar[str]
    widget: ClassVar[str] = "text"  # the input widget template under forms' templates
    rule_type: ClassVar[str] = "any"  # the type the rules engine sees: text, number, date, ...
    options_allowed: ClassVar[frozenset[str]] = frozenset()  # type-specific FieldSpec options
    stored: ClassVar[bool] = True  # False for types kept outside the entity's table (table)
    searchable_by_default: ClassVar[bool] = False
    displays_masked: ClassVar[bool] = False  # display() also takes its own masked form (139****5678)

    # -- blueprint -------------------------------------------------------------------
    def check(self, spec: FieldSpec) -> Iterable[Problem]:
        """Type-specific problems with the field's options (loc relative to the field)."""
        return ()

    @classmethod
    def spec_schema(cls) -> dict[str, Any]:
        """JSON Schema fragment the published blueprint schema applies when `type` is this one."""
        return {}

    # -- storage ---------------------------------------------------------------------
    def column_type(self, spec: FieldSpec) -> sa.types.TypeEngine:
        return sa.Text()

    def to_storage(self, value: Any, spec: FieldSpec) -> Any:
        return value

    def from_storage(self, value: Any, spec: FieldSpec) -> Any:
        return value

    # -- values ----------------------------------------------------------------------
    def coerce(self, value: Any, spec: FieldSpec) -> Any:
        """Turn input (a form string or a JSON value) into the Python value, or raise FieldValueError."""
        return value

    def validate(self, value: Any, spec: FieldSpec, minimum: Any = None, maximum: Any = None) -> None:
        """Check a coerced, non-empty value against the field's limits; raise FieldValueError."""

    def is_empty(self, value: Any) -> bool:
        return value is None or value == "" or value == []

    def value_schema(self, spec: FieldSpec) -> dict[str, Any]:
        """JSON Schema of the value in the API (OpenAPI)."""
        return {}

    def to_json(self, value: Any, spec: FieldSpec) -> Any:
        return value

    # -- display ---------------------------------------------------------------------
    def display(self, value: Any, spec: FieldSpec, locale: str) -> str:
        return "" if value is None else str(value)

    def edit_text(self, value: Any, spec: FieldSpec) -> str:
        """A stored text as an edit form's input shows it (what a person would type back)."""
        return str(value)

    def option_label(self, option: str, spec: FieldSpec, locale: str) -> str:
        """The label of one of the field's `options`; types without options show it as written."""
        return option

    def mask(self, value: Any, spec: FieldSpec) -> Any:
        """What a role without full access sees of a sensitive value."""
        if value is None:
            return None
        text = str(value)
        return text[:1] + "*" * max(len(text) - 1, 0)


FIELD_TYPES: dict[str, FieldType] = {}


def register_field_type(cls: type[FieldType]) -> type[FieldType]:
    """Class decorator: make `cls` available to blueprints under `cls.name`."""
    FIELD_TYPES[cls.name] = cls()
    return cls


def field_type(name: str) -> FieldType:
    """The registered type called `name` (KeyError if there is none)."""
    return FIELD_TYPES[name]
