"""One statement per report run: the groups, totals, subtotals and comparisons read in a single query.

A report may need more than its grouped rows: a totals row that does not add up
from the groups (`count_distinct`, sums, averages), a subtotal row per value of a
dimension, the period before (`compare`) and the buckets before the range (the
comparators of `change` measures). Each is a grouped SELECT of its own (a *part*:
the same FROM, grouped differently or over another date range); they are sent as
one statement so a run is one round trip and the database sees all the work at once.

- On PostgreSQL the parts over the same rows (the groups, the totals, the
  subtotals) are one `GROUP BY GROUPING SETS`: the records are read once, and
  `GROUPING()` tells which set a row belongs to.
- On SQLite, which has no GROUPING SETS, and for the parts over another date range
  on both databases, the parts are joined by `UNION ALL`, each tagged with its
  number (`__part`).

The rows come back ordered by part, then as each part orders itself (the groups by
the report's `sort`, then its dimensions), and `split_parts` hands each part its
rows. Everything after the query (filling, suppression, changes) is unchanged:
a part's rows are exactly those its own query would have given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

PART = "__part"
MAIN = "rows"
TOTALS = "totals"
PREVIOUS = "previous"


@dataclass(frozen=True)
class Part:
    """One SELECT of a report and its tag (`rows`, `totals`, `subtotal:<dimension>`, `previous`, `shifted:<period>`).

    `sets` (PostgreSQL) maps each GROUPING() bitmask of a query grouped by GROUPING
    SETS to the tag of the rows it gives (its `__set` column); the main grouping is 0.
    """

    tag: str
    query: sa.Select
    sets: Mapping[int, str] | None = None
    limited: bool = False  # the query has a LIMIT: its own ORDER BY picks the rows, so it stays inside


SET = "__set"
Tags = dict[tuple[int, int], str]  # (part number, grouping set) -> tag


def _null_of(column: Any) -> Any:
    """NULL typed like `column` where its type is known, so PostgreSQL can match the UNION's columns."""
    kind = getattr(column, "type", None)
    if kind is None or isinstance(kind, sa.types.NullType):
        return sa.null()
    return sa.cast(sa.null(), kind)


def with_grouping_sets(query: sa.Select, group: Sequence[Any], sets: Mapping[str, Sequence[str]]) -> Part:
    """PostgreSQL: the main `query` grouped by each of `sets` (tag -> group labels) at once, as one part.

    `group` are the query's labelled group columns; its own grouping (all of them)
    keeps the tag MAIN. The query must have no LIMIT (a limit would cut every set).
    """
    elements = [column.element for column in group]
    labels = [column.name for column in group]
    every = {MAIN: tuple(labels), **{tag: tuple(columns) for tag, columns in sets.items()}}
    masks: dict[int, str] = {}
    tuples = []
    for tag, columns in every.items():
        mask = sum(1 << (len(labels) - 1 - i) for i, label in enumerate(labels) if label not in columns)
        masks[mask] = tag
        tuples.append(sa.tuple_(*(e for e, label in zip(elements, labels) if label in columns)))
    flag = sa.func.grouping(*elements).label(SET)
    grouped = query.add_columns(flag).group_by(None).group_by(sa.func.grouping_sets(*tuples)).order_by(None)
    return Part(MAIN, grouped, masks)


def combine(
    parts: Sequence[Part],
    *,
    names: Sequence[str],
    order: Sequence[tuple[str, bool]],
    dimensions: Sequence[str],
    sorted_part: int = 0,
) -> tuple[Any, Tags]:
    """The one statement over `parts` (`names`: every result column) and the tag of each (part, set).

    The rows come part after part; part `sorted_part`'s rows (the groups: the first
    part, unless a stream puts its totals first) are ordered by `order` (the report's
    `sort`), then every part's by the dimensions, as each part's own query ordered them.
    """
    tags: Tags = {}
    for number, part in enumerate(parts):
        for mask, tag in (part.sets or {0: part.tag}).items():
            tags[(number, mask)] = tag
    if len(parts) == 1 and parts[0].sets is None:
        return parts[0].query, tags
    template: dict[str, Any] = {}
    for part in parts:
        template.update({c.name: c for c in part.query.selected_columns if c.name not in template})
    branches = []
    for number, part in enumerate(parts):
        query = part.query if part.limited else part.query.order_by(None)  # ordered once, outside
        inner = query.subquery(f"part{number}")
        columns: list[Any] = [sa.literal(number).label(PART), (inner.c[SET] if part.sets else sa.literal(0)).label(SET)]
        for name in names:
            columns.append(inner.c[name] if name in inner.c else _null_of(template.get(name)).label(name))
        branches.append(sa.select(*columns))
    union = (sa.union_all(*branches) if len(branches) > 1 else branches[0]).subquery("parts")
    first_rows = sa.and_(union.c[PART] == sorted_part, union.c[SET] == 0)
    ordering: list[Any] = [union.c[PART].asc(), union.c[SET].asc()]
    for key, descending in order:
        value = sa.case((first_rows, union.c[key]))
        ordering.append(sa.nulls_last(value.desc() if descending else value.asc()))
    ordering += [sa.nulls_last(union.c[key].asc()) for key in dimensions]
    return sa.select(*union.c).order_by(*ordering), tags


def split_parts(records: Sequence[Any], tags: Tags) -> dict[str, list[Any]]:
    """The statement's rows, per part tag, in the order they came."""
    found: dict[str, list[Any]] = {tag: [] for tag in tags.values()}
    if len(tags) == 1:
        found[next(iter(tags.values()))] = list(records)
        return found
    for record in records:
        found[tags[(int(record[PART]), int(record[SET]))]].append(record)
    return found
