"""Relation types: link (to another entity), user (a login account) and table (child rows)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from engines.rules import Problem

from ..models import FieldSpec
from .base import FieldType, FieldValueError, register_field_type

ID_MAX = 2**63 - 1  # ids, links and child rows' parent keys are 64-bit (BIGINT) on every database
DEFAULT_MAX_ROWS = 500  # child rows of one record when the table field gives no `max_rows`


def id_column_type() -> sa.types.TypeEngine:
    """BIGINT for ids and the columns that hold them; SQLite's INTEGER is already 64-bit.

    SQLite keeps plain INTEGER so that `INTEGER PRIMARY KEY` still numbers new rows.
    """
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def id_schema() -> dict[str, Any]:
    """The JSON Schema of a record id in the API: a positive 64-bit integer."""
    return {"type": "integer", "format": "int64", "minimum": 1, "maximum": ID_MAX}


def _record_id(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, dict):  # an expanded link {"id": 3, "title": ...}
        value = value.get("id")
    if isinstance(value, bool):
        raise FieldValueError("invalid_link")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise FieldValueError("invalid_link") from None
    if number <= 0 or number > ID_MAX:
        raise FieldValueError("invalid_link")
    return number


@register_field_type
class Link(FieldType):
    """A reference to a record of another entity (`to:`); existence is checked by the record service."""

    name = "link"
    widget = "link"
    rule_type = "record"
    options_allowed = frozenset({"to", "filter"})

    def check(self, spec: FieldSpec) -> Iterable[Problem]:
        if not spec.to:
            yield Problem((), "field.link_target_missing", "a `link` field needs `to:` naming an entity")

    @classmethod
    def spec_schema(cls) -> dict[str, Any]:
        return {"required": ["to"]}

    def column_type(self, spec: FieldSpec) -> sa.types.TypeEngine:
        return id_column_type()

    def coerce(self, value: Any, spec: FieldSpec) -> Any:
        return _record_id(value)

    def value_schema(self, spec: FieldSpec) -> dict[str, Any]:
        return id_schema()


@register_field_type
class User(Link):
    """A reference to a login account (a staff member's user)."""

    name = "user"
    widget = "user"
    rule_type = "integer"  # the account's id: `doctor.user == user.id` (accounts are not entity records)
    options_allowed = frozenset()

    def check(self, spec: FieldSpec) -> Iterable[Problem]:
        return ()

    @classmethod
    def spec_schema(cls) -> dict[str, Any]:
        return {}


@register_field_type
class Table(FieldType):
    """Child rows edited inside the parent (a visit's prescriptions); stored in their own table.

    At most `max_rows` rows (default DEFAULT_MAX_ROWS): a record with tens of thousands
    of rows would hold the database's write lock for seconds.
    """

    name = "table"
    widget = "table"
    rule_type = "list"
    stored = False
    options_allowed = frozenset({"fields", "max_rows"})

    @staticmethod
    def max_rows(spec: FieldSpec) -> int:
        return spec.max_rows or DEFAULT_MAX_ROWS

    def check(self, spec: FieldSpec) -> Iterable[Problem]:
        if not spec.fields:
            yield Problem((), "field.table_fields_missing", "a `table` field needs `fields:` for its columns")

    @classmethod
    def spec_schema(cls) -> dict[str, Any]:
        return {"required": ["fields"]}

    def coerce(self, value: Any, spec: FieldSpec) -> Any:
        if value is None or value == "":
            return []
        if not isinstance(value, list):
            raise FieldValueError("invalid_rows")
        if len(value) > self.max_rows(spec):
            raise FieldValueError("too_many_rows", limit=self.max_rows(spec))
        if not all(isinstance(row, dict) for row in value):
            raise FieldValueError("invalid_rows")
        return value

    def value_schema(self, spec: FieldSpec) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "object"}, "maxItems": self.max_rows(spec)}
