"""`q`: one strategy per field type, each one an index can answer.

Instead of OR-ing `lower(col) LIKE '%q%'` over every searched field (which no index
serves, so the unique index on the phone went unused for a whole number), each field
contributes only the comparison that fits what was typed:

| field type | `q` is … | comparison | index |
|---|---|---|---|
| phone | a whole number (parses in its region) | `col = E.164` (or its blind index) | unique / `ix_` / `__hash` |
| phone | exactly 4 digits, role with full access | `substr(col, length(col) - 3) = q` | `sx_<t>_<f>_last4` |
| phone, encrypted, `last4_search` | exactly 4 digits, full access | `<f>__last4 = keyed hash` | `ix_<t>_<f>__last4` |
| phone | 5+ digits, role with full access | `col LIKE '%digits%'` | trigram (PostgreSQL) |
| resident ID | a whole, valid ID | `col = value` (blind index when encrypted) | unique / `__hash` |
| text, long text, e-mail | a number (digits, spaces, `+-()`) | prefix, as below | `sx_…_prefix` |
| text, long text, e-mail | 1–2 characters | prefix `lower(col) LIKE 'q%'` (SQLite `col LIKE`) | `sx_…_prefix` |
| text, long text, e-mail | 3+ characters | substring: `lower(col) LIKE '%q%'` | trigram (PostgreSQL); SQLite scans |
| select, state | an option's code | `col = q` | `ix_` |

A field the actor sees masked (or an encrypted one) is matched only by its whole
value, exactly, and that look-up is counted (masked_lookups.py): never a prefix, a
substring or the last 4 digits. The one exception is opt-in: an encrypted phone with
`last4_search` is found by its last 4 digits through their keyed hash, by roles that
see it unmasked only (storage/last4.py). Short text is a prefix because a trigram index cannot
serve 1–2 characters, and a Chinese name is looked up by its family name, which comes
first (`王` finds 王芳, not 李王). A number is matched by prefix on text fields too:
it is an identifier being typed (a phone, an ID, a code), and a substring there would
make the whole OR unindexable (SQLite can use several indexes for an OR only when
every branch has one).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import sqlalchemy as sa

from builder.storage.last4 import has_last4, last4_column, last4_hash
from builder.storage.search_indexes import ID_TYPES, NAME_TYPES, PHONE_TYPES, last4_of, searched_fields
from engines.forms import FieldValueError

from .codec import MissingKeys, search_value
from .compiled import CompiledEntity, CompiledField
from .policy import Grant

if TYPE_CHECKING:
    from .service import RecordService

PREFIX_BELOW = 3  # characters: shorter text is matched by prefix (a trigram index needs 3)
_FOUR_DIGITS = re.compile(r"^\d{4}$")
_DIGITS = re.compile(r"^[\d\s\-]+$")
_NUMBER = re.compile(r"^[+(]?[\d\s\-()]+[xX]?$")  # a phone or ID being typed


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _masked(field: CompiledField, grant: Grant) -> bool:
    return bool(field.spec.sensitive) and not grant.full_access


def _whole(service: RecordService, field: CompiledField, table: sa.Table, q: str) -> sa.ColumnElement | None:
    """`col = value` when `q` is one whole value of the field (E.164 for phones), else None."""
    try:
        value = field.kind.coerce(q, field.spec)
        if field.kind.is_empty(value):
            return None
        column, stored = search_value(field, value, service.cipher)
    except FieldValueError:
        return None
    return table.c[column] == stored


def _last4(service: RecordService, field: CompiledField, table: sa.Table, q: str) -> sa.ColumnElement:
    """`<f>__last4 = keyed hash of q` (4 digits are never a whole phone, so nothing else could match)."""
    if service.cipher is None:
        raise MissingKeys()
    return table.c[last4_column(field.name)] == last4_hash(service.cipher.blind_index, q)


def _text(dialect: str, column: sa.ColumnElement, q: str) -> sa.ColumnElement:
    if len(q) < PREFIX_BELOW or _NUMBER.match(q):
        if dialect == "sqlite":  # SQLite's LIKE folds ASCII case itself; the NOCASE index serves `col LIKE 'q%'`
            return column.like(f"{escape_like(q)}%", escape="\\")
        return sa.func.lower(column).like(f"{escape_like(q.lower())}%", escape="\\")
    return sa.func.lower(column).like(f"%{escape_like(q.lower())}%", escape="\\")


def field_clause(
    service: RecordService, field: CompiledField, grant: Grant, table: sa.Table, q: str
) -> sa.ColumnElement | None:
    """What `q` compares on one field the actor may read, or None when `q` cannot match it."""
    column = table.c[field.name]
    dialect = service.engine.dialect.name
    kind = field.spec.type
    if field.spec.encrypted and has_last4(field.spec) and not _masked(field, grant) and _FOUR_DIGITS.match(q):
        return _last4(service, field, table, q)  # opted in: the keyed hash of the last 4 digits
    if field.spec.encrypted or _masked(field, grant) or kind in ID_TYPES:
        return _whole(service, field, table, q)  # whole values only: never probe hidden digits
    if kind in PHONE_TYPES:
        whole = _whole(service, field, table, q)
        if whole is not None:
            return whole
        if _FOUR_DIGITS.match(q):
            return last4_of(column) == q
        digits = re.sub(r"\D", "", q)
        if _DIGITS.match(q) and len(digits) >= 5:
            return column.like(f"%{digits}%")
        return None
    if kind in NAME_TYPES:
        return _text(dialect, column, q)
    return column == q  # select and state: an option's code


def selective(q: str) -> bool:
    """Whether `q`'s strategy alone makes its matches few: exactly 4 digits, or 3+ characters of text.

    4 digits are a phone's last 4 (one phone in 10,000) or a whole value; 3+ characters
    that are not a number are a substring through the trigram index. Such a search is
    counted (up to the cap) with its first page, without asking the planner first
    (counting.py). A 1-2 character prefix or a longer number may match a large share
    of the table, so those ask the planner as any list does.
    """
    return bool(_FOUR_DIGITS.match(q)) or (len(q) >= PREFIX_BELOW and not _NUMBER.match(q))


def search_clause(
    service: RecordService, entity: CompiledEntity, grant: Grant, table: sa.Table, q: str
) -> sa.ColumnElement:
    """The OR of every searched field's comparison (false when none can match)."""
    clauses = []
    for name in searched_fields(entity.spec):
        field = entity.fields.get(name)
        if field is None or name not in grant.readable or not field.kind.stored:
            continue
        clause = field_clause(service, field, grant, table, q)
        if clause is not None:
            clauses.append(clause)
    return sa.or_(*clauses) if clauses else sa.false()
