"""SQLAlchemy Core tables generated from the blueprint's entities.

Every entity gets one table with the same system columns (id, who and when, a
version for optimistic locking); ids and every column holding one (links, a
child row's parent) are 64-bit; a `table` field gets a child table with a foreign
key to its parent; an encrypted field gets a keyed-hash column beside its
ciphertext so exact-match search and `unique` keep working, and an encrypted phone with
`last4_search: true` a keyed hash of its last 4 digits (`<field>__last4`, last4.py).

Indexes follow the blueprint: links, searched fields, list views' quick filters and
calendars' start fields, and fields with `index: true`, which the blueprint sets itself
on every field a report buckets by time or filters by a date range
(`builder/blueprint.py`, `with_report_indexes`). Expression indexes (search, list
views' sort order) are in search_indexes.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from engines.forms import EntitySpec, FieldSpec, field_type, id_column_type

from .last4 import has_last4, last4_column
from .search_indexes import view_fields

SYSTEM_COLUMNS = ("id", "created_at", "created_by", "updated_at", "updated_by", "version")
CHILD_SYSTEM_COLUMNS = ("id", "parent_id", "position")
HASH_SUFFIX = "__hash"
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}


def child_table_name(entity: str, field_name: str) -> str:
    return f"{entity}__{field_name}"


def hash_column(field_name: str) -> str:
    return field_name + HASH_SUFFIX


@dataclass
class Schema:
    """The generated tables, looked up by entity (and child field)."""

    metadata: sa.MetaData
    tables: dict[str, sa.Table] = field(default_factory=dict)
    children: dict[tuple[str, str], sa.Table] = field(default_factory=dict)

    def table(self, entity: str) -> sa.Table:
        return self.tables[entity]

    def child(self, entity: str, field_name: str) -> sa.Table:
        return self.children[(entity, field_name)]


def _value_columns(fields: dict[str, FieldSpec], table_name: str, searchable: set[str]) -> list[sa.Column]:
    columns: list[sa.Column] = []
    for name, spec in fields.items():
        kind = field_type(spec.type)
        if not kind.stored:
            continue
        if spec.encrypted:
            columns.append(sa.Column(name, sa.Text(), nullable=True))
            columns.append(
                sa.Column(
                    hash_column(name), sa.String(64), nullable=True, index=not spec.unique, unique=spec.unique or None
                )
            )
            if has_last4(spec):
                columns.append(sa.Column(last4_column(name), sa.String(64), nullable=True, index=True))
            continue
        column_type = kind.column_type(spec)
        args: list = []
        if spec.type == "link" and spec.to:
            args.append(sa.ForeignKey(f"{spec.to}.id", ondelete="RESTRICT"))
        columns.append(
            sa.Column(
                name,
                column_type,
                *args,
                nullable=True,
                unique=spec.unique or None,
                # not a searched long text: a btree entry holds ~2,700 bytes on PostgreSQL, so a long
                # note would fail to save, and `q` compares lower(col) anyway (search_indexes.py: trigram)
                index=(
                    (not spec.unique)
                    and (
                        spec.type in ("link", "user") or spec.index or (name in searchable and spec.type != "long_text")
                    )
                )
                or None,
            )
        )
    return columns


def build_schema(entities: dict[str, EntitySpec], metadata: sa.MetaData | None = None) -> Schema:
    """Tables for every entity and child table, on `metadata` (a fresh one by default)."""
    metadata = metadata or sa.MetaData(naming_convention=NAMING)
    schema = Schema(metadata)
    for entity, spec in entities.items():
        searchable = set(spec.search) | {n for n, f in spec.fields.items() if f.searchable}
        searchable |= view_fields(spec)[0]  # list views' quick filters, calendars' start (search_indexes.py)
        table = sa.Table(
            entity,
            metadata,
            sa.Column("id", id_column_type(), primary_key=True, autoincrement=True),
            *_value_columns(spec.fields, entity, searchable),
            sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Column("created_by", sa.String(64), nullable=True),
            sa.Column("updated_at", sa.DateTime, nullable=False),
            sa.Column("updated_by", sa.String(64), nullable=True),
            sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        )
        schema.tables[entity] = table
        for name, fspec in spec.fields.items():
            if fspec.type != "table":
                continue
            child_name = child_table_name(entity, name)
            schema.children[(entity, name)] = sa.Table(
                child_name,
                metadata,
                sa.Column("id", id_column_type(), primary_key=True, autoincrement=True),
                sa.Column(
                    "parent_id",
                    id_column_type(),
                    sa.ForeignKey(f"{entity}.id", ondelete="CASCADE"),
                    nullable=False,
                    index=True,
                ),
                sa.Column("position", sa.Integer, nullable=False, server_default="0"),
                *_value_columns(fspec.fields or {}, child_name, set()),
            )
    return schema
