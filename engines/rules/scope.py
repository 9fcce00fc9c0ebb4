"""What names an expression may read, and their types, for checking at load time.

The forms engine builds a Scope from an entity's fields (each field type knows its
rule type name), so the shape is deliberately plain:

    Scope({
        "birth_date": "date",
        "gender": FieldType("text", choices={"female", "male", "other"}),
        "patient": RecordType(lambda: patient_scope),   # lazy: links may form cycles
        "user": RecordType(Scope({"id": "integer", "role": "text"})),
    })
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Union

from .errors import ScopeError

TYPE_NAMES = frozenset(
    {
        "text",
        "number",
        "integer",
        "decimal",
        "boolean",
        "date",
        "datetime",
        "duration",
        "list",
        "record",
        "any",
        "null",
    }
)
_ALIASES = {
    "select": "text",
    "string": "text",
    "str": "text",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "link": "record",
}
NUMERIC = frozenset({"number", "integer", "decimal"})


class RecordType:
    """A link's type: the linked entity's scope, given directly or as a callable resolved on first use."""

    def __init__(self, scope: Scope | Callable[[], Scope]):
        self._scope = scope

    @property
    def scope(self) -> Scope:
        if callable(self._scope) and not isinstance(self._scope, Scope):
            self._scope = self._scope()
        return self._scope


@dataclass(frozen=True)
class FieldType:
    """The rule type of one name; `choices` lists the allowed literal values of a select."""

    type: str = "any"
    choices: frozenset[Any] | None = None
    record: RecordType | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        name = _ALIASES.get(self.type, self.type)
        if name not in TYPE_NAMES:
            raise ScopeError(f"unknown rule type {self.type!r}; use one of {sorted(TYPE_NAMES)}")
        object.__setattr__(self, "type", name)
        if self.choices is not None and not isinstance(self.choices, frozenset):
            object.__setattr__(self, "choices", frozenset(self.choices))
        if self.record is not None and name != "record":
            object.__setattr__(self, "type", "record")


ANY = FieldType("any")
FieldLike = Union[str, FieldType, RecordType, "Scope"]


def as_field_type(value: FieldLike) -> FieldType:
    """Normalise what a caller wrote in a Scope mapping into a FieldType."""
    if isinstance(value, FieldType):
        return value
    if isinstance(value, RecordType):
        return FieldType("record", record=value)
    if isinstance(value, Scope):
        return FieldType("record", record=RecordType(value))
    if isinstance(value, str):
        return FieldType(value)
    raise ScopeError(f"a scope entry must be a type name, FieldType or RecordType, not {value!r}")


def choice(*values: Any) -> FieldType:
    """A select field: text limited to `values` (so `gender == 'femal'` is caught)."""
    return FieldType("text", choices=frozenset(values))


class Scope:
    """Names an expression may read with their types; `open=True` also allows any other name (as `any`)."""

    def __init__(
        self,
        fields: Mapping[str, FieldLike] | None = None,
        *,
        open: bool = False,
        resolver: Callable[[str], FieldLike | None] | None = None,
    ):
        self._fields = {name: as_field_type(value) for name, value in (fields or {}).items()}
        self.open = open
        self._resolver = resolver

    @classmethod
    def of_names(cls, names: Collection[str] | None) -> Scope:
        """Untyped names (the older `names=` argument); None allows any name."""
        if names is None:
            return cls(open=True)
        return cls({name: ANY for name in names})

    def lookup(self, name: str) -> FieldType | None:
        """The type of `name`, or None when the scope does not have it."""
        found = self._fields.get(name)
        if found is None and self._resolver is not None:
            resolved = self._resolver(name)
            if resolved is not None:
                found = self._fields[name] = as_field_type(resolved)
        if found is None and self.open:
            return ANY
        return found

    def names(self) -> Iterable[str]:
        return self._fields.keys()

    def with_fields(self, fields: Mapping[str, FieldLike]) -> Scope:
        """A copy with more names (e.g. `user`, or a table's explicit inputs)."""
        merged: dict[str, FieldLike] = dict(self._fields)
        merged.update(fields)
        return Scope(merged, open=self.open, resolver=self._resolver)

    def __contains__(self, name: str) -> bool:
        return self.lookup(name) is not None


def assignable(actual: str, expected: str | tuple[str, ...]) -> bool:
    """May a value of type `actual` go where `expected` is wanted?"""
    if isinstance(expected, tuple):
        return any(assignable(actual, one) for one in expected)
    if actual in ("any", "null") or expected == "any" or actual == expected:
        return True
    if actual in NUMERIC and expected in NUMERIC:
        return True
    return expected == "date" and actual == "datetime"


def type_of_value(value: Any) -> str:
    """The rule type of a Python value (for literals and explain output)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, Decimal):
        return "decimal"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, Mapping):
        return "record"
    return "any"
