"""Choice types: boolean, select, multi_select, state."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from engines.rules import Problem

from ..models import FieldSpec, localized
from .base import FieldType, FieldValueError, register_field_type

_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f", ""}


@register_field_type
class Boolean(FieldType):
    """Yes or no (consent, pregnancy)."""

    name = "boolean"
    widget = "checkbox"
    rule_type = "boolean"

    def column_type(self, spec: FieldSpec) -> sa.types.TypeEngine:
        return sa.Boolean()

    def coerce(self, value: Any, spec: FieldSpec) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise FieldValueError("invalid_boolean")

    def is_empty(self, value: Any) -> bool:
        return value is None

    def value_schema(self, spec: FieldSpec) -> dict[str, Any]:
        return {"type": "boolean"}

    def display(self, value: Any, spec: FieldSpec, locale: str) -> str:
        if value is None:
            return ""
        return ("是" if value else "否") if locale.startswith("zh") else ("Yes" if value else "No")


class _Options(FieldType):
    """Shared by types whose values come from a declared list of options."""

    options_allowed = frozenset({"options", "option_labels"})

    def check(self, spec: FieldSpec) -> Iterable[Problem]:
        if not spec.options:
            yield Problem(("options",), "field.options_missing", f"a `{self.name}` field needs `options`")
            return
        seen: set[str] = set()
        for i, option in enumerate(spec.options):
            if not 0 < len(option) <= 64:
                yield Problem(("options", i), "field.option_length", "an option must be 1 to 64 characters")
            if option in seen:
                yield Problem(("options", i), "field.duplicate_option", f"option `{option}` is listed twice")
            seen.add(option)
        for key in spec.option_labels or {}:
            if key not in seen:
                yield Problem(("option_labels", key), "field.unknown_option", f"`{key}` is not one of the options")

    @classmethod
    def spec_schema(cls) -> dict[str, Any]:
        return {"required": ["options"]}

    def _one(self, value: Any, spec: FieldSpec) -> str:
        if not isinstance(value, str) or value not in (spec.options or []):
            raise FieldValueError("invalid_option", choices=", ".join(spec.options or []))
        return value

    def option_label(self, option: str, spec: FieldSpec, locale: str) -> str:
        """The option's label in `locale`; without one, the code made readable (`walk_in` -> `Walk in`)."""
        labels = spec.option_labels or {}
        readable = option.replace("_", " ").strip().capitalize() or option
        return localized(labels.get(option), locale, readable) if option in labels else readable


@register_field_type
class Select(_Options):
    """One value from a list of options."""

    name = "select"
    widget = "select"
    rule_type = "text"

    def column_type(self, spec: FieldSpec) -> sa.types.TypeEngine:
        return sa.String(64)  # fixed, so adding an option never migrates the column

    def coerce(self, value: Any, spec: FieldSpec) -> Any:
        if value is None or value == "":
            return None
        return self._one(value.strip() if isinstance(value, str) else value, spec)

    def value_schema(self, spec: FieldSpec) -> dict[str, Any]:
        return {"type": "string", "enum": list(spec.options or [])}

    def display(self, value: Any, spec: FieldSpec, locale: str) -> str:
        return "" if value is None else self.option_label(value, spec, locale)


@register_field_type
class MultiSelect(_Options):
    """Several values from a list of options (tags); stored as a JSON list."""

    name = "multi_select"
    widget = "multi_select"
    rule_type = "list"

    def column_type(self, spec: FieldSpec) -> sa.types.TypeEngine:
        return sa.Text()

    def coerce(self, value: Any, spec: FieldSpec) -> Any:
        if value is None or value == "":
            return []
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)):
            raise FieldValueError("invalid_option", choices=", ".join(spec.options or []))
        chosen = [self._one(v, spec) for v in value]
        return [o for o in spec.options or [] if o in chosen]  # declared order, no duplicates

    def to_storage(self, value: Any, spec: FieldSpec) -> Any:
        return json.dumps(value or [])

    def from_storage(self, value: Any, spec: FieldSpec) -> Any:
        if not value or value == "[]":  # most records choose none: no JSON parse (a list decodes 50 a page)
            return []
        try:
            loaded = json.loads(value)
        except ValueError:
            return []
        return loaded if isinstance(loaded, list) else []

    def value_schema(self, spec: FieldSpec) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string", "enum": list(spec.options or [])}, "uniqueItems": True}

    def display(self, value: Any, spec: FieldSpec, locale: str) -> str:
        return ", ".join(self.option_label(v, spec, locale) for v in value or [])


@register_field_type
class State(Select):
    """The state of a workflow; a plain select until the workflow engine drives it."""

    name = "state"
    widget = "select"
    options_allowed = frozenset({"options", "option_labels", "workflow"})

    def check(self, spec: FieldSpec) -> Iterable[Problem]:
        if not spec.options and not spec.workflow:
            yield Problem(("options",), "field.options_missing", "a `state` field needs `options` or a `workflow`")
        elif spec.options:
            yield from super().check(spec)

    @classmethod
    def spec_schema(cls) -> dict[str, Any]:
        return {"anyOf": [{"required": ["options"]}, {"required": ["workflow"]}]}

    def coerce(self, value: Any, spec: FieldSpec) -> Any:
        if not spec.options:  # states come from a workflow the engine does not run yet
            return None if value in (None, "") else str(value)
        return super().coerce(value, spec)

    def value_schema(self, spec: FieldSpec) -> dict[str, Any]:
        return super().value_schema(spec) if spec.options else {"type": "string", "maxLength": 64}
