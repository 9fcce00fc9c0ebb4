"""List queries: search, field filters, sorting and paging, within the actor's rights.

Only fields the actor may read can be searched, filtered or sorted on; asking for
another is the same error as asking for a field that does not exist, so a query can
never probe hidden values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engines.forms import ID_MAX, FieldSpec, FieldValueError, field_type, message

from .codec import search_value
from .compiled import CompiledEntity
from .counting import COUNT_MODES
from .errors import FieldError, ValidationFailed
from .keyset import BadCursor, SortKey, after_condition, decode_cursor
from .policy import Grant
from .search import search_clause, selective

if TYPE_CHECKING:
    from .service import RecordService

OPERATORS = {
    "eq": lambda c, v: c == v,
    "ne": lambda c, v: c != v,
    "gt": lambda c, v: c > v,
    "gte": lambda c, v: c >= v,
    "lt": lambda c, v: c < v,
    "lte": lambda c, v: c <= v,
}
SYSTEM_SORTS = ("id", "created_at", "updated_at")
SYSTEM_MOMENTS = ("created_at", "updated_at")  # every table's stamps: ranges of them (a report's drill-down)
RANGE_OPERATORS = ("gt", "gte", "lt", "lte")
_MOMENT = FieldSpec(type="datetime")
MAX_LIMIT = 500


@dataclass
class ListQuery:
    q: str | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    sort: str | None = None
    limit: int = 50
    offset: int = 0
    count: str = "auto"  # counting.COUNT_MODES
    after: str | None = None  # a keyset cursor (keyset.py): the page after that row


@dataclass
class ListQueries:
    """A list request compiled: the page (one row more than asked, to know if more follow), the matches, the order.

    `selective`: a search whose strategy makes its matches few (search.selective), so its
    first page takes its capped count along, in the same statement (counting.with_count).
    """

    page: sa.Select
    matches: sa.Select
    order: list[SortKey]
    selective: bool = False


def _bad(name: str, code: str, locale: str, **params: Any) -> ValidationFailed:
    return ValidationFailed([FieldError(name, code, message(code, locale, **params))])


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _id_value(key: str, raw: Any, locale: str) -> int:
    """An id to compare with: a whole number the 64-bit id column can hold (the driver refuses others)."""
    value = int(raw)
    if value > ID_MAX:
        raise _bad(key, "max", locale, limit=ID_MAX)
    if value < -ID_MAX:
        raise _bad(key, "min", locale, limit=-ID_MAX)
    return value


def _filter(
    service: RecordService, entity: CompiledEntity, grant: Grant, table: sa.Table, key: str, raw: Any, locale: str
):
    name, _, op = key.partition("__")
    op = op or "eq"
    f = entity.fields.get(name)
    if name == "id" and (op in OPERATORS or op == "in"):
        try:
            if op == "in":
                items = raw if isinstance(raw, list) else str(raw).split(",")
                return table.c.id.in_([_id_value(key, item, locale) for item in items][:MAX_LIMIT])
            return OPERATORS[op](table.c.id, _id_value(key, raw, locale))
        except (TypeError, ValueError):
            raise _bad(key, "invalid_integer", locale) from None
    if f is None and name in SYSTEM_MOMENTS and op in RANGE_OPERATORS:
        try:  # like sorting by them, open to any role that may list the records
            moment = field_type("datetime").coerce(raw, _MOMENT)
        except FieldValueError as exc:
            raise _bad(key, exc.code, locale, **exc.params) from None
        return OPERATORS[op](table.c[name], moment)
    if f is None or name not in grant.readable or not f.kind.stored:
        raise _bad(key, "unknown_field", locale)
    if op not in OPERATORS and op not in ("in", "contains"):
        raise _bad(key, "unknown_field", locale)
    if f.spec.sensitive and not grant.full_access and op != "eq":
        raise _bad(key, "unknown_field", locale)  # lists, ranges, substrings would reveal masked digits
    try:
        if op == "in":
            items = raw if isinstance(raw, list) else str(raw).split(",")
            values = [search_value(f, f.kind.coerce(v, f.spec), service.cipher) for v in items]
            return table.c[values[0][0]].in_([v for _, v in values]) if values else sa.false()
        if f.spec.type == "multi_select":
            option = f.kind.coerce([raw] if isinstance(raw, str) else raw, f.spec)
            return sa.and_(*[table.c[name].like(f'%"{_escape_like(o)}"%', escape="\\") for o in option])
        if op == "contains":
            return sa.func.lower(table.c[name]).like(f"%{_escape_like(str(raw).lower())}%", escape="\\")
        value = f.kind.coerce(raw, f.spec)
    except FieldValueError as exc:
        raise _bad(key, exc.code, locale, **exc.params) from None
    if f.spec.encrypted:
        if op not in ("eq", "ne"):
            raise _bad(key, "unknown_field", locale)
        column, stored = search_value(f, value, service.cipher)
        return OPERATORS[op](table.c[column], stored)
    if value is None:
        return table.c[name].is_(None) if op == "eq" else table.c[name].is_not(None)
    return OPERATORS[op](table.c[name], f.kind.to_storage(value, f.spec))


def _order(entity: CompiledEntity, grant: Grant, table: sa.Table, sort: str | None, locale: str) -> list[SortKey]:
    order: list[SortKey] = []
    for part in (sort or "-id").split(","):
        part = part.strip()
        descending = part.startswith("-")
        name = part.lstrip("-+")
        f = entity.fields.get(name)
        allowed = name in SYSTEM_SORTS or (
            f is not None and name in grant.readable and f.kind.stored and not f.spec.encrypted and not f.spec.sensitive
        )
        if not allowed:
            raise _bad("sort", "unknown_field", locale)
        # empty values last both ways (SortKey.clause), so a page is the same on either database
        order.append(SortKey(table.c[name], descending))
    if not any(key.column.name == "id" for key in order):
        order.append(SortKey(table.c.id, True))
    return order


def build_list_query(
    service: RecordService, entity: CompiledEntity, grant: Grant, base: sa.Select, spec: ListQuery, locale: str
) -> ListQueries:
    """The page query, the matching rows (to count) and the order for `spec`."""
    table = service.schema.table(entity.name)
    conditions = []
    if spec.q and spec.q.strip():
        conditions.append(search_clause(service, entity, grant, table, spec.q.strip()))
    for key, raw in spec.filters.items():
        conditions.append(_filter(service, entity, grant, table, key, raw, locale))
    query = base.where(*conditions) if conditions else base
    try:
        limit, offset = int(spec.limit), int(spec.offset)
    except (TypeError, ValueError):
        raise _bad("limit", "invalid_integer", locale) from None
    if not 0 <= limit <= MAX_LIMIT:
        raise _bad("limit", "max", locale, limit=MAX_LIMIT)
    if offset < 0:
        raise _bad("offset", "min", locale, limit=0)
    if spec.count not in COUNT_MODES:
        raise _bad("count", "invalid_option", locale, choices=", ".join(COUNT_MODES))
    spec.limit, spec.offset = limit, offset
    order = _order(entity, grant, table, spec.sort, locale)
    page = query
    if spec.after:
        if offset:
            raise _bad("after", "invalid_cursor", locale)  # a cursor is a position already: no offset beside it
        try:
            page = page.where(after_condition(order, decode_cursor(order, spec.after)))
        except BadCursor:
            raise _bad("after", "invalid_cursor", locale) from None
    page = page.order_by(*(key.clause() for key in order)).limit(limit + 1).offset(offset)
    if spec.q and spec.q.strip() and service.engine.dialect.name == "postgresql":
        page = _ids_first(table, page, order)
    return ListQueries(page, query, order, bool(spec.q and selective(spec.q.strip())))


def _ids_first(table: sa.Table, page: sa.Select, order: list[SortKey]) -> sa.Select:
    """The page's ids first (an index-only scan of a covering search index can give them), then their rows.

    PostgreSQL reads a whole row for every match before sorting, so a prefix matching
    2,000 of a million patients visited 2,000 table pages to show 50; choosing the ids
    first reads the rows of the page only (search_indexes.py, `prefix`).
    """
    ids = page.with_only_columns(table.c.id, maintain_column_froms=True)
    return sa.select(table).where(table.c.id.in_(ids)).order_by(*(key.clause() for key in order))
