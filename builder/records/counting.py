"""How many records match a list: exact when cheap, an estimate when not, or not counted.

An exact `count(*)` of a million matching rows costs more than the page itself
(38 ms at 1M patients on PostgreSQL, before any row is shown). So by default
(`auto`) the count stops at COUNT_CAP rows: below it the answer is exact; above it,
PostgreSQL's planner estimate is given (`estimate`, shown "about 1.2M") and SQLite
says "more than 10,000" (`at_least`). `exact` always counts (the API's choice, for
a report of its own); `none` skips counting (infinite scroll, pickers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

COUNT_CAP = 10_000
COUNT_MODES = ("auto", "exact", "estimate", "none")


@dataclass(frozen=True)
class Count:
    """A list's total and what kind of number it is: exact, estimate, at_least, or none (total None)."""

    total: int | None
    kind: str = "exact"


def count_matches(conn: sa.Connection, query: sa.Select, mode: str, may_estimate: bool = True) -> Count:
    """The count of `query`'s rows (no order, no paging) as `mode` asks.

    `may_estimate` is False for an actor with a row filter: the planner's estimate comes
    from statistics over every row, hidden ones included, so it would hint at what the
    actor may not see. Such counts are counted (up to the cap), never estimated.
    """
    if mode == "none":
        return Count(None, "none")
    if mode == "exact":
        return Count(_exact(conn, query))
    postgres = conn.dialect.name == "postgresql" and may_estimate
    if mode == "estimate" and postgres:
        return Count(_planner_estimate(conn, query), "estimate")
    capped = conn.execute(sa.select(sa.func.count()).select_from(query.limit(COUNT_CAP + 1).subquery())).scalar_one()
    if capped <= COUNT_CAP:
        return Count(int(capped))
    if postgres:
        return Count(max(_planner_estimate(conn, query), capped), "estimate")
    return Count(COUNT_CAP, "at_least")


def _exact(conn: sa.Connection, query: sa.Select) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one())


def _planner_estimate(conn: sa.Connection, query: sa.Select) -> int:
    """PostgreSQL's estimate of the rows `query` returns (EXPLAIN, not run): the row filter applies as usual."""
    compiled = query.compile(dialect=conn.dialect)
    plan: Any = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params).scalar_one()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])
