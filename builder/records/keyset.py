"""Keyset ("after") paging: the next page starts after the last row shown, not at an offset.

`offset=200000` makes the database walk and drop 200,000 rows; a cursor holding the
last row's sort values lets it seek straight there through the sort's index, and
rows inserted meanwhile never shift a page. The cursor is opaque to clients
(base64 of JSON) but not secret: it holds only values of columns the actor may sort
by, and it is checked like any other input. Order and cursor agree on empty values:
they come last both ways (see querying.py).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

MAX_CURSOR_LENGTH = 2_000


class BadCursor(ValueError):
    """A cursor that is not one this server made for this sort."""


@dataclass(frozen=True)
class SortKey:
    """One column of the order and its direction."""

    column: sa.Column
    descending: bool

    def clause(self) -> Any:
        ordered = self.column.desc() if self.descending else self.column.asc()
        if not self.column.nullable:
            # nothing to put last: a plain direction lets PostgreSQL walk the primary key (or an
            # index) backwards and stop at the page; `id DESC NULLS LAST` matches no index, so a
            # search with many matches (`q=王`: 100,000 of 1M) sorted every match first (bench/scale.py)
            return ordered
        return ordered.nulls_last()


def _encode_value(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def encode_cursor(keys: list[SortKey], row: Any) -> str:
    """The cursor of `row`: its values of the sort columns."""
    values = [_encode_value(getattr(row, key.column.name)) for key in keys]
    text = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def _decode_value(column: sa.Column, raw: Any) -> Any:
    if raw is None:
        return None
    python_type = column.type.python_type
    if python_type is dt.datetime:
        return dt.datetime.fromisoformat(str(raw))
    if python_type is dt.date:
        return dt.date.fromisoformat(str(raw))
    if python_type is Decimal:
        return Decimal(str(raw))
    if python_type is bool:
        if not isinstance(raw, bool):
            raise BadCursor("not a boolean")
        return raw
    if python_type is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise BadCursor("not a whole number")
        return raw
    if python_type is float:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise BadCursor("not a number")
        return raw
    if not isinstance(raw, str):
        raise BadCursor("not a text")
    return raw


def decode_cursor(keys: list[SortKey], cursor: str) -> list[Any]:
    """The sort values in `cursor`; BadCursor if it does not fit `keys`."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise BadCursor("too long")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
        values = json.loads(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor("not a cursor") from None
    if not isinstance(values, list) or len(values) != len(keys):
        raise BadCursor("made for another sort")
    try:
        return [_decode_value(key.column, value) for key, value in zip(keys, values, strict=True)]
    except (ValueError, InvalidOperation, NotImplementedError):
        raise BadCursor("a value does not fit its column") from None


def after_condition(keys: list[SortKey], values: list[Any]) -> Any:
    """Rows that come after `values` in the order of `keys` (empty values last both ways)."""
    condition: Any = sa.false()
    for key, value in reversed(list(zip(keys, values, strict=True))):
        column = key.column
        later: Any
        same: Any
        if value is None:  # the rest of the empty ones, in the next keys' order
            later, same = sa.false(), column.is_(None)
        else:
            beyond = column < value if key.descending else column > value
            later, same = sa.or_(beyond, column.is_(None)), column == value
        condition = sa.or_(later, sa.and_(same, condition))
    return condition
