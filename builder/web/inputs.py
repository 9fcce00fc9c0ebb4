"""Guards on raw input before it reaches the record service.

The database refuses some strings outright (PostgreSQL: NUL characters; every
driver: lone surrogates that are not UTF-8). Such input is a client mistake, so it
must become a field error here rather than a driver exception (a 500) later.
A field type whose `coerce` raises anything but FieldValueError is treated the
same way: the input is refused with the field's message instead of crashing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from builder.records import FieldError
from builder.records.compiled import CompiledField
from engines.forms import FieldValueError, message


def unstorable_text(text: str) -> bool:
    """True when no database could store `text` as it is."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield f"{path}.{key}" if path else key, key
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}.{i}" if path else str(i))


def unstorable_errors(values: Any, locale: str) -> list[FieldError]:
    """A field error for every string anywhere in `values` that cannot be stored."""
    return [
        FieldError(path or "__all__", "invalid_text", message("invalid_text", locale))
        for path, text in _strings(values, "")
        if unstorable_text(text)
    ]


def coercion_crashes(
    fields: dict[str, CompiledField], values: dict[str, Any], locale: str, prefix: str = ""
) -> list[FieldError]:
    """Errors for values whose type's `coerce` fails with something other than FieldValueError."""
    errors: list[FieldError] = []
    for name, raw in values.items():
        field = fields.get(name) if isinstance(name, str) else None
        if field is None or field.compute is not None:
            continue
        if field.children:
            if isinstance(raw, list):
                for i, row in enumerate(raw):
                    if isinstance(row, dict):
                        errors += coercion_crashes(field.children, row, locale, f"{prefix}{name}.{i}.")
            continue
        error = coercion_crash(field, raw, locale, f"{prefix}{name}")
        if error is not None:
            errors.append(error)
    return errors


def coercion_crash(field: CompiledField, raw: Any, locale: str, path: str) -> FieldError | None:
    """A field error when coercing `raw` crashes (rather than failing with FieldValueError)."""
    try:
        field.kind.coerce(raw, field.spec)
    except FieldValueError:
        return None  # the record service reports it properly
    except Exception:  # noqa: BLE001 - a field type's bug must not become a 500
        code = f"invalid_{field.spec.type}" if field.spec.type in ("date", "datetime", "integer") else "invalid_text"
        code = {"integer": "invalid_integer"}.get(field.spec.type, code)
        return FieldError(path, code, message(code, locale))
    return None
