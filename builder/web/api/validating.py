"""Request bodies checked against the published schemas, with field errors the pages also use."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from builder.records import FieldError
from builder.records.compiled import CompiledEntity, CompiledField
from engines.forms import message

from .schemas import NOT_BLANK, create_schema, patch_schema

TYPE_CODES = {
    "integer": "invalid_integer",
    "decimal": "invalid_number",
    "boolean": "invalid_boolean",
    "date": "invalid_date",
    "datetime": "invalid_datetime",
    "select": "invalid_option",
    "state": "invalid_option",
    "multi_select": "invalid_option",
    "link": "invalid_link",
    "user": "invalid_link",
    "table": "invalid_rows",
    "phone": "invalid_phone",
    "email": "invalid_email",
    "cn_resident_id": "invalid_resident_id",
}
MAX_ERRORS = 50


def unknown_first(body: dict[str, Any], hidden: list[str], errors: list[FieldError], locale: str) -> list[FieldError]:
    """`errors` with one `unknown_field` per top-level key that is not a field or is `hidden`, first and in
    the body's order: the same answer whether a key is missing from the entity or hidden from the role."""
    names = set(hidden) | {e.field for e in errors if e.code == "unknown_field" and e.field in body}
    unknown = [FieldError(k, "unknown_field", message("unknown_field", locale)) for k in body if k in names]
    return unknown + [e for e in errors if not (e.code == "unknown_field" and e.field in body)]


class BodyValidator:
    """The create and patch validators of one entity."""

    def __init__(self, entity: CompiledEntity):
        self.entity = entity
        self.create = Draft202012Validator(create_schema(entity))
        self.patch = Draft202012Validator(patch_schema(entity))

    def errors(self, body: Any, patching: bool, locale: str) -> list[FieldError]:
        validator = self.patch if patching else self.create
        found: list[FieldError] = []
        for error in sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path]):
            found += self._describe(error, locale)
            if len(found) >= MAX_ERRORS:
                break
        unique = {(e.field, e.code): e for e in found}
        return list(unique.values())

    def _field(self, path: list[Any]) -> CompiledField | None:
        fields, field = self.entity.fields, None
        for part in path:
            if isinstance(part, str):
                field = fields.get(part)
                if field is None:
                    return None
                fields = field.children
        return field

    def _describe(self, error: Any, locale: str) -> list[FieldError]:
        if error.validator in ("anyOf", "oneOf") and error.context:
            # a nullable field: the value failed the non-null branch; report that branch's reason
            reasons = [e for e in error.context if e.schema.get("type") != "null"]
            if reasons:
                return self._describe(reasons[0], locale)
        path = list(error.absolute_path)
        prefix = ".".join(str(p) for p in path)
        join = (lambda name: f"{prefix}.{name}") if prefix else (lambda name: name)
        if error.validator == "required":
            instance = error.instance if isinstance(error.instance, dict) else {}
            return [
                FieldError(join(name), "required", message("required", locale))
                for name in error.validator_value
                if name not in instance
            ]
        if error.validator == "additionalProperties":
            allowed = set(error.schema.get("properties", {}))
            extra = [k for k in error.instance if k not in allowed] if isinstance(error.instance, dict) else []
            return [FieldError(join(str(k)), "unknown_field", message("unknown_field", locale)) for k in extra]
        field = self._field(path)
        if error.validator == "minLength" or (error.validator == "pattern" and error.validator_value == NOT_BLANK):
            return [FieldError(prefix, "required", message("required", locale))]
        if error.validator in ("maximum", "minimum") and path and isinstance(path[-1], str):
            code = "max" if error.validator == "maximum" else "min"
            return [FieldError(prefix, code, message(code, locale, limit=error.validator_value))]
        if error.validator == "maxItems" and field is not None and field.children:
            return [FieldError(prefix, "too_many_rows", message("too_many_rows", locale, limit=error.validator_value))]
        if error.validator == "maxLength":
            return [FieldError(prefix, "max_length", message("max_length", locale, limit=error.validator_value))]
        if field is None and not path:
            return [FieldError("__all__", "invalid", "Expected a JSON object of field values.")]
        if path and path[-1] == "version":
            return [FieldError("version", "invalid_integer", message("invalid_integer", locale))]
        code = TYPE_CODES.get(field.spec.type, "invalid_text") if field is not None else "invalid"
        choices = ", ".join(field.spec.options or []) if field is not None else ""
        return [FieldError(prefix or "__all__", code, message(code, locale, choices=choices))]
