"""Alembic's autogenerate differences, turned into our migration steps.

Alembic does the comparing (`compare_metadata`); this module only translates its
diff tuples into steps that know about data loss, and drops the duplicates
(indexes of a table created or dropped as a whole).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..search_indexes import PREFIX as SEARCH_INDEX_PREFIX
from .alterations import (
    AddForeignKey,
    AddIndex,
    AddUnique,
    ChangeNullable,
    ChangeType,
    DropColumn,
    DropForeignKey,
    DropIndex,
    DropUnique,
    Unsupported,
)
from .length_checks import LengthCheck, effective_type
from .naming import BlueprintNames
from .operations import AddColumn, CreateTable, DropTable, Step
from .types import classify, resolve


def _flatten(diffs: list[Any]) -> list[tuple]:
    flat: list[tuple] = []
    for diff in diffs:
        flat.extend(diff if isinstance(diff, list) else [diff])
    return flat


def _columns(constraint: Any) -> tuple[str, ...]:
    return tuple(c.name for c in constraint.columns)


def _constraint_step(kind: str, item: Any, names: BlueprintNames) -> Step:
    table = item.table.name
    if kind == "add_index":
        return AddIndex(table, names, name=item.name, columns=_columns(item), unique=bool(item.unique))
    if kind == "remove_index":
        return DropIndex(table, names, name=item.name, columns=_columns(item))
    if item.name is None:
        return Unsupported(table, names, detail=f"{kind.replace('_', ' ')} without a name on {_columns(item)}")
    if kind == "add_constraint" and isinstance(item, sa.UniqueConstraint):
        return AddUnique(table, names, name=item.name, columns=_columns(item))
    if kind == "remove_constraint" and isinstance(item, sa.UniqueConstraint):
        return DropUnique(table, names, name=item.name, columns=_columns(item))
    if kind == "add_fk":
        return AddForeignKey(
            table,
            names,
            name=item.name,
            columns=tuple(item.column_keys),
            referred_table=item.referred_table.name,
            referred_columns=tuple(e.column.name for e in item.elements),
            ondelete=item.ondelete,
        )
    if kind == "remove_fk":
        return DropForeignKey(table, names, name=item.name, columns=_columns(item))
    return Unsupported(table, names, detail=f"{kind.replace('_', ' ')} {item.name}")


def _modify_step(diff: tuple, names: BlueprintNames, dialect: str, checks: dict[tuple[str, str], LengthCheck]) -> Step:
    kind, _schema, table, column, existing, old, new = diff
    if kind == "modify_type":
        new = resolve(new, dialect)
        check = checks.get((table, column))
        behaves = effective_type(old, check)  # PostgreSQL: a length check makes the column shorter than its type
        return ChangeType(
            table,
            names,
            column=column,
            old_type=behaves,
            new_type=new,
            verdict=classify(behaves, new),
            declared_type=old,
            check=check,
            dialect=dialect,
        )
    if kind == "modify_nullable":
        return ChangeNullable(table, names, column=column, nullable=new, existing_type=existing.get("existing_type"))
    return Unsupported(table, names, detail=f"{kind.replace('_', ' ')} of {column}")


def steps_from_diffs(
    diffs: list[Any],
    target: sa.MetaData,
    names: BlueprintNames,
    dialect: str,
    checks: dict[tuple[str, str], LengthCheck] | None = None,
) -> list[Step]:
    """Our steps for Alembic's diffs (unsorted; the planner orders them).

    A new table is taken from `target` itself: Alembic's copy lacks the indexes.
    `checks`: the live columns' length checks (PostgreSQL, length_checks.py).
    """
    flat = _flatten(diffs)
    created = {d[1].name for d in flat if d[0] == "add_table"}
    dropped = {d[1].name for d in flat if d[0] == "remove_table"}
    steps: list[Step] = []
    for diff in flat:
        kind = diff[0]
        if kind == "add_table":
            continue  # below, parents before children
        elif kind == "remove_table":
            steps.append(DropTable(diff[1].name, names, definition=diff[1]))
        elif kind == "add_column":
            steps.append(AddColumn(diff[2], names, column=diff[3]))
        elif kind == "remove_column":
            steps.append(DropColumn(diff[2], names, column=diff[3].name, column_type=diff[3].type))
        elif kind.startswith("modify_"):
            steps.append(_modify_step(diff, names, dialect, checks or {}))
        elif kind in ("add_index", "remove_index", "add_constraint", "remove_constraint", "add_fk", "remove_fk"):
            table = diff[1].table.name
            if table in created or table in dropped:
                continue  # made or removed with the whole table
            if kind == "remove_index" and str(diff[1].name or "").startswith(SEARCH_INDEX_PREFIX):
                continue  # an expression index for `q`, not in the tables: planned by indexes.py
            steps.append(_constraint_step(kind, diff[1], names))
        else:
            steps.append(Unsupported(str(diff[1]) if len(diff) > 1 else "?", names, detail=kind))
    new_tables = sa.schema.sort_tables([target.tables[name] for name in created])
    return [CreateTable(t.name, names, definition=t) for t in new_tables] + steps
