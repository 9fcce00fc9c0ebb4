"""How many records match a list: exact when cheap, an estimate when not, or not counted.

An exact `count(*)` of a million matching rows costs more than the page itself, and
even counting up to a cap is most of a big list's cost (10,001 rows read to say "more
than 10,000": 56 ms for `q=王` at 1M patients on PostgreSQL, the page itself 0.2 ms).
So by default (`auto`):

- a page that reaches the last match (fewer rows than asked, from the start or an
  offset) gives the exact total without any count;
- on PostgreSQL the planner is asked first (EXPLAIN, nothing run): when it expects
  more than COUNT_CAP matches its estimate is the answer (`estimate`, shown "about
  1.2M"), not counted; when it expects fewer, the matches are counted up to the cap:
  exact below it, else the estimate (never below the count);
- SQLite has no estimate: counted up to the cap, "more than 10,000" (`at_least`) above;
- a first page of a search whose strategy makes its matches few (the last 4 digits, a
  substring of 3+ characters: search.selective) takes its capped count in the same
  statement (`with_count`), without the planner: at 1M patients the EXPLAIN and the
  separate count of its 61-100 matches cost more than the page. Only above the cap is
  the planner asked, for the estimate.

`exact` always counts (the API's choice, for a report of its own); `estimate` takes the
planner's estimate at once; `none` skips counting (infinite scroll, pickers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

COUNT_CAP = 10_000
COUNT_MODES = ("auto", "exact", "estimate", "none")
CAPPED_COUNT = "count__capped"  # with_count's column: `__` is reserved, so no field is named so


@dataclass(frozen=True)
class Count:
    """A list's total and what kind of number it is: exact, estimate, at_least, or none (total None)."""

    total: int | None
    kind: str = "exact"


@dataclass(frozen=True)
class Seen:
    """What the page already tells: at least `rows` matches, and whether that is all of them."""

    rows: int
    complete: bool

    @classmethod
    def of(cls, limit: int, offset: int, after: str | None, fetched: int) -> Seen:
        """From a page asked for `limit` rows (one more fetched, to know if more follow) at `offset`/`after`.

        After a cursor the rows before it are unknown; past the end (nothing fetched at
        an offset) so is how far the end is; limit 0 fetches nothing, so tells nothing.
        """
        if after is not None:
            return cls(fetched, False)
        complete = 0 < fetched <= limit or (fetched == 0 < limit and offset == 0)
        return cls(offset + fetched, complete)


def count_matches(
    conn: sa.Connection,
    query: sa.Select,
    mode: str,
    may_estimate: bool = True,
    seen: Seen | None = None,
    capped: int | None = None,
    counting: sa.Select | None = None,
) -> Count:
    """The count of `query`'s rows (no order, no paging) as `mode` asks.

    `may_estimate` is False for an actor with a row filter: the planner's estimate comes
    from statistics over every row, hidden ones included, so it would hint at what the
    actor may not see. Such counts are counted (up to the cap), never estimated.
    `seen`: what the page has shown, so a page holding the last match is not counted again.
    `capped`: the matches already counted up to the cap with the page (`with_count`).
    `counting`: `capped_count(query)` built before (list_statements.py keeps it), else built here.
    """
    if mode == "none":
        return Count(None, "none")
    if seen is not None and seen.complete:
        return Count(seen.rows)
    if mode == "exact":
        return Count(_exact(conn, query))
    floor = seen.rows if seen is not None else 0
    postgres = conn.dialect.name == "postgresql" and may_estimate
    guess = 0
    if capped is None or mode != "auto":
        if postgres:
            guess = _planner_estimate(conn, query)
            if mode == "estimate" or guess > COUNT_CAP:
                return Count(max(guess, floor), "estimate")
        capped = int(conn.execute(counting if counting is not None else capped_count(query)).scalar_one())
    elif capped > COUNT_CAP and postgres:
        guess = _planner_estimate(conn, query)  # counted with the page, above the cap: the estimate says how many
    if capped <= COUNT_CAP:
        return Count(capped)
    if postgres:
        return Count(max(guess, capped), "estimate")
    return Count(COUNT_CAP, "at_least")


def with_count(page: sa.Select, query: sa.Select) -> sa.Select:
    """`page` with one more column, CAPPED_COUNT: `query`'s matches counted up to the cap (evaluated once)."""
    return page.add_columns(capped_count(query).scalar_subquery().label(CAPPED_COUNT))


def capped_count(query: sa.Select) -> sa.Select:
    """`query`'s matches counted up to COUNT_CAP + 1 (one more says "more than the cap")."""
    return sa.select(sa.func.count()).select_from(_rows(query).limit(COUNT_CAP + 1).subquery())


def _rows(query: sa.Select) -> sa.Select:
    """`query` reading no column: only its conditions' columns are needed, so an index may answer alone."""
    return query.with_only_columns(sa.literal_column("1"), maintain_column_froms=True)


def _exact(conn: sa.Connection, query: sa.Select) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(_rows(query).subquery())).scalar_one())


def _planner_estimate(conn: sa.Connection, query: sa.Select) -> int:
    """PostgreSQL's estimate of the rows `query` returns (EXPLAIN, not run): the row filter applies as usual."""
    compiled = query.compile(dialect=conn.dialect)
    plan: Any = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params).scalar_one()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])
