"""Text-like types: text, long_text, email (phone has a module of its own: phones.py)."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from ..models import FieldSpec
from .base import FieldType, FieldValueError, register_field_type

# NUL, other C0 controls but tab and newlines, and lone surrogates: no database stores them.
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


@register_field_type
class Text(FieldType):
    """A single line of text."""

    name = "text"
    widget = "text"
    rule_type = "text"
    searchable_by_default = True
    default_length = 255

    def column_type(self, spec: FieldSpec) -> sa.types.TypeEngine:
        return sa.String(spec.max_length or self.default_length)

    def coerce(self, value: Any, spec: FieldSpec) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise FieldValueError("invalid_text")
        text = str(value).strip()
        if _UNSTORABLE.search(text):
            raise FieldValueError("invalid_text")
        return text or None

    def validate(self, value: Any, spec: FieldSpec, minimum: Any = None, maximum: Any = None) -> None:
        limit = spec.max_length or self.default_length
        if len(value) > limit:
            raise FieldValueError("max_length", limit=limit)

    def value_schema(self, spec: FieldSpec) -> dict[str, Any]:
        return {"type": "string", "maxLength": spec.max_length or self.default_length}


@register_field_type
class LongText(Text):
    """Free text over several lines (notes, diagnoses)."""

    name = "long_text"
    widget = "textarea"
    searchable_by_default = False
    default_length = 20000

    def column_type(self, spec: FieldSpec) -> sa.types.TypeEngine:
        return sa.Text()

    def coerce(self, value: Any, spec: FieldSpec) -> Any:
        text = super().coerce(value, spec)
        return text.replace("\r\n", "\n") if text else text


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@register_field_type
class Email(Text):
    """An e-mail address, stored lower-cased."""

    name = "email"
    widget = "email"
    default_length = 254

    def coerce(self, value: Any, spec: FieldSpec) -> Any:
        text = super().coerce(value, spec)
        if text is None:
            return None
        if not _EMAIL.match(text):
            raise FieldValueError("invalid_email")
        return text.lower()

    def value_schema(self, spec: FieldSpec) -> dict[str, Any]:
        return {"type": "string", "format": "email", "maxLength": spec.max_length or 254}

    def mask(self, value: Any, spec: FieldSpec) -> Any:
        if value is None:
            return None
        local, _, domain = str(value).partition("@")
        return local[:1] + "***@" + domain
