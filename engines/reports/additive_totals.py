"""Totals from the groups themselves, when every aggregate adds up: no second pass over the records.

A totals row used to be a second query over the same records (the no-show report at
1,000,000 appointments took about twice its hand-written SQL for that). When every
aggregate is a `count` (filtered or not) — counts of the groups add up to the count of
all — and the report has no `limit` (its groups would be only some of them), the
totals are the sums of the groups' counts and the expressions over them, exactly what
SQL would give. `count_distinct`, `sum`, `avg`, `min`, `max` and `median` keep the
query: a distinct count does not add up, and sums of rounded numbers could differ from
the database's in the last digit on one database and not on the other.
"""

from __future__ import annotations

from typing import Any

from .measure_expr import evaluate_measure_expr
from .report_spec import ReportSpec

DIGITS = 9


def totals_add_up(spec: ReportSpec) -> bool:
    """Whether the totals row can be summed from the groups (see the module's docstring)."""
    if spec.limit is not None:
        return False
    measures = spec.sql_measures.values()
    return all(m.expr is not None or m.agg == "count" for m in measures) and any(m.agg for m in measures)


def summed_totals(spec: ReportSpec, rows: list[dict[str, Any]], sizes: list[int]) -> tuple[dict[str, Any], int]:
    """The totals row and the number of records in all, from the groups' counts."""
    measures = spec.sql_measures
    totals: dict[str, Any] = {
        name: sum(int(row.get(name) or 0) for row in rows) for name, m in measures.items() if m.agg
    }
    expressions = {name: m.expr for name, m in measures.items() if m.expr is not None}
    for _ in expressions:  # enough rounds for expressions over expressions, in any order
        for name, source in expressions.items():
            value = evaluate_measure_expr(source, totals)
            totals[name] = round(value, DIGITS) if isinstance(value, float) else value
    return {name: totals.get(name) for name in measures}, sum(sizes)
