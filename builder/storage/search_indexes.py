"""The indexes behind `q`: last 4 digits of phones, name prefixes, substrings (PostgreSQL).

Plain column indexes (links, `index: true`, searched columns, unique values and the
blind indexes of encrypted fields) are part of the SQLAlchemy tables (tables.py) and
Alembic compares them. The indexes here are on *expressions*, which differ per
database and which SQLite's reflection cannot read back, so they live beside the
tables: named `sx_<table>_<field>_<kind>`, looked up in the catalogue by name, created
by the migration plan (CONCURRENTLY on PostgreSQL, see migrations/apply.py) or by
`create_search_indexes` for tables made directly (tests, examples).

- `last4`: `substr(phone, length(phone) - 3)`, the last 4 characters of the stored
  E.164 number, on both databases. The query (records/search.py) builds the very same
  expression with `last4_of`, so SQLite's planner recognises it.
- `prefix`: PostgreSQL `lower(col) text_pattern_ops` (for `lower(col) LIKE 'q%'` under
  any collation); SQLite `col COLLATE NOCASE` (for `col LIKE 'q%'`, SQLite's LIKE
  optimisation, ASCII case folding like its LIKE). Not on PostgreSQL for long text or
  text over 600 characters: a btree entry holds at most ~2,700 bytes, and a longer
  value would make the INSERT fail; the trigram index serves those (3+ characters).
  On PostgreSQL text up to 300 characters gets `INCLUDE (col, id)` as well (covering:
  both copies of a value still fit an entry): a 2-character prefix matching 2,000 of
  a million patients is then counted, and its newest ids found, from the index alone
  (an index-only scan), instead of visiting 2,000 scattered table pages twice (the
  page reads the ids first, querying.py). An index made before keeps its definition
  until dropped (`crm migrate` then makes it anew).
- `slots`: `(field, start)` for a rule `overlaps('appointment', doctor=doctor, start=...)`:
  the one check every booking runs reads one doctor's appointments around one moment,
  not every appointment the doctor ever had (at 1M appointments, 100,000 each).
- `trigram`: PostgreSQL only, `gin (lower(col) gin_trgm_ops)` for `LIKE '%q%'`; needs
  the `pg_trgm` extension. Where it is unavailable substring search scans (the plan says so).

Encrypted fields get none of these: their values are ciphertext, matched only whole
through the blind index column.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass

import sqlalchemy as sa

from engines.forms import EntitySpec, FieldSpec, field_type

PREFIX = "sx_"
KINDS = ("last4", "prefix", "trigram", "sort_desc", "sort_asc", "slots")
PHONE_TYPES = ("phone",)
ID_TYPES = ("cn_resident_id",)
NAME_TYPES = ("text", "long_text", "email")  # searched by prefix and substring
_PG_NAME_MAX = 63


def last4_of(column: sa.ColumnElement) -> sa.ColumnElement:
    """The last 4 characters of `column`, spelled exactly like the `last4` index (literal 3, no parameter)."""
    return sa.func.substr(column, sa.func.length(column) - sa.literal_column("3"))


def searched_fields(spec: EntitySpec) -> list[str]:
    """Fields `q` looks at: `search:`, `searchable: true` and a text title field, plus indexed phones and IDs.

    A phone or resident ID that is unique or encrypted has an index (unique or blind),
    so a whole number typed into the search box can use it even when the blueprint did
    not list the field in `search:`.
    """
    names = list(spec.search)
    title = spec.fields.get(spec.title_field or "")
    if title is not None and title.type in NAME_TYPES and not title.encrypted and spec.title_field not in names:
        names.append(spec.title_field or "")
    for name, field in spec.fields.items():
        if name in names or not field_type(field.type).stored:
            continue
        identifier = field.type in PHONE_TYPES + ID_TYPES and (field.unique or field.encrypted or field.index)
        if field.searchable or identifier:
            names.append(name)
    return names


def view_fields(spec: EntitySpec) -> tuple[set[str], list[tuple[str, bool]]]:
    """Quick-filter fields (and calendar starts) and the first sort key of each list view.

    Read defensively: `views:` (list, calendar and kanban views) comes from another
    part of the builder and may be absent; then nothing here is asked for.
    """
    filters: set[str] = set()
    sorts: list[tuple[str, bool]] = []
    for name, view in (getattr(spec, "views", None) or {}).items():
        kind = view.kind(name) if hasattr(view, "kind") else "list"
        if kind == "calendar" and getattr(view, "start", None):
            filters.add(view.start)
        if kind != "list":
            continue
        filters |= set(getattr(view, "filters", None) or [])
        sort = (getattr(view, "sort", None) or "").split(",")[0].strip()
        if sort:
            sorts.append((sort.lstrip("-+"), sort.startswith("-")))
    return {f for f in filters if f in spec.fields}, [(f, d) for f, d in sorts if f in spec.fields]


SLOT_OPTIONS = frozenset({"start", "minutes", "exclude_status", "exclude_id"})


def slot_fields(entity: str, entities: dict[str, EntitySpec]) -> list[tuple[str, str]]:
    """(equality field, start field) of each `overlaps('<entity>', field=..., ...)` a validation rule calls.

    The rule's query (records/related.py) is an equality on its first other option and a
    range on the entity's first datetime field: an index in that order serves it. Only
    plain stored fields (an encrypted one compares by its hash column, indexed already).
    """
    spec = entities.get(entity)
    start = next((n for n, f in spec.fields.items() if f.type == "datetime"), None) if spec else None
    if spec is None or start is None:
        return []
    found: list[tuple[str, str]] = []
    for other in entities.values():
        for validation in other.validations:
            for call in _calls(validation.rule, "overlaps"):
                if not call.args or not isinstance(call.args[0], ast.Constant) or call.args[0].value != entity:
                    continue
                name = next((k.arg for k in call.keywords if k.arg and k.arg not in SLOT_OPTIONS), None)
                field = spec.fields.get(name or "")
                if field is None or field.encrypted or not field_type(field.type).stored:
                    continue
                if (name, start) not in found and name != start:
                    found.append((name, start))  # type: ignore[arg-type]
    return found


def _calls(source: str, function: str) -> list[ast.Call]:
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError:  # the blueprint check reports it; no index is planned from it
        return []
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == function
    ]


@dataclass(frozen=True)
class SearchIndex:
    """One expression index for `q` on `table.field`."""

    table: str
    field: str
    kind: str
    covering: bool = False  # PostgreSQL prefix: INCLUDE (field, id), for index-only scans (not in the name)
    then: str = ""  # slots: the start column after `field`

    @property
    def name(self) -> str:
        name = f"{PREFIX}{self.table}_{self.field}_{self.kind}"
        if len(name) <= _PG_NAME_MAX:
            return name
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        return f"{name[: _PG_NAME_MAX - 9]}_{digest}"

    def expression(self, dialect: str) -> str:
        col = f'"{self.field}"'
        if self.kind == "last4":
            return f"(substr({col}, length({col}) - 3))"
        if self.kind == "prefix":
            if dialect != "postgresql":
                return f"({col} COLLATE NOCASE)"
            return (
                f'(lower({col}) text_pattern_ops) INCLUDE ({col}, "id")'
                if self.covering
                else f"(lower({col}) text_pattern_ops)"
            )
        if self.kind == "slots":
            return f'({col}, "{self.then}")'
        if self.kind.startswith("sort_"):
            # the list's own order (querying.py): the field, empty values last either way, then newest id
            way = "DESC" if self.kind == "sort_desc" else "ASC"
            return f'({col} {way} NULLS LAST, "id" DESC)' if dialect == "postgresql" else f'({col} {way}, "id" DESC)'
        return f"USING gin (lower({col}) gin_trgm_ops)"

    def create_sql(self, dialect: str, *, concurrently: bool = False) -> str:
        how = " CONCURRENTLY" if concurrently else ""
        return f'CREATE INDEX{how} IF NOT EXISTS "{self.name}" ON "{self.table}" {self.expression(dialect)}'

    def describe(self) -> str:
        if self.kind == "slots":
            return f"add overlaps() rule index on {self.table} ({self.field}, {self.then})"
        if self.kind.startswith("sort_"):
            way = "descending" if self.kind == "sort_desc" else "ascending"
            return f"add list view sort index on {self.table}.{self.field} ({way}, empty last)"
        what = {"last4": "last 4 digits", "prefix": "prefix", "trigram": "substring (trigram)"}[self.kind]
        return f"add {what} search index on {self.table}.{self.field}"


BTREE_MAX_CHARS = 600  # PostgreSQL refuses a btree entry over ~2,700 bytes: 600 characters of 4 bytes fit


def _fits_btree(field: FieldSpec, copies: int = 1) -> bool:
    """Whether `copies` of every value fit a PostgreSQL btree entry (long text does not: a trigram index serves it)."""
    if field.type == "long_text":
        return False
    return (field.max_length or 255) * copies <= BTREE_MAX_CHARS


def planned_search_indexes(entities: dict[str, EntitySpec], dialect: str, *, trigram: bool = True) -> list[SearchIndex]:
    """The search indexes the blueprint asks for on `dialect` (trigram ones only when pg_trgm can be had)."""
    found: list[SearchIndex] = []
    for entity, spec in entities.items():
        for name in searched_fields(spec):
            field = spec.fields.get(name)
            if field is None or field.encrypted:
                continue
            if field.type in PHONE_TYPES:
                found.append(SearchIndex(entity, name, "last4"))
                if dialect == "postgresql" and trigram:
                    found.append(SearchIndex(entity, name, "trigram"))
            elif field.type in NAME_TYPES:
                if dialect != "postgresql" or _fits_btree(field):
                    covering = dialect == "postgresql" and _fits_btree(field, copies=2)
                    found.append(SearchIndex(entity, name, "prefix", covering))
                if dialect == "postgresql" and trigram:
                    found.append(SearchIndex(entity, name, "trigram"))
        for name, start in slot_fields(entity, entities):
            found.append(SearchIndex(entity, name, "slots", then=start))
        for name, descending in view_fields(spec)[1]:
            field = spec.fields[name]
            if field_type(field.type).stored and not field.encrypted and not field.sensitive:
                index = SearchIndex(entity, name, "sort_desc" if descending else "sort_asc")
                if index not in found:
                    found.append(index)
    return found


def live_indexes(connection: sa.Connection) -> dict[str, bool]:
    """Index name -> whether it is usable (PostgreSQL: an interrupted CONCURRENTLY build leaves it invalid)."""
    if connection.dialect.name == "postgresql":
        rows = connection.exec_driver_sql(
            "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()"
        )
        return {name: bool(valid) for name, valid in rows}
    rows = connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'")
    return {name: True for (name,) in rows}


def invalid_index_definitions(connection: sa.Connection, tables: set[str]) -> dict[str, tuple[str, str]]:
    """PostgreSQL: invalid indexes on `tables` (name -> (table, CREATE INDEX statement)), to drop and rebuild."""
    if connection.dialect.name != "postgresql" or not tables:
        return {}
    rows = connection.exec_driver_sql(
        "SELECT c.relname, t.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND NOT i.indisvalid"
    )
    return {name: (table, ddl) for name, table, ddl in rows if table in tables}


def trigram_available(connection: sa.Connection) -> bool:
    """Whether pg_trgm is installed or can be (PostgreSQL only)."""
    if connection.dialect.name != "postgresql":
        return False
    found = connection.exec_driver_sql("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'").first()
    return found is not None


def create_search_indexes(connection: sa.Connection, entities: dict[str, EntitySpec]) -> list[str]:
    """Create the missing search indexes in place (tables made with `create_all`); their names."""
    dialect = connection.dialect.name
    trigram = False
    if dialect == "postgresql" and trigram_available(connection):
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        trigram = True
    made = []
    for index in planned_search_indexes(entities, dialect, trigram=trigram):
        connection.exec_driver_sql(index.create_sql(dialect))
        made.append(index.name)
    return made
