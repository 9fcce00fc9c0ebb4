"""Run a compiled report on a connection: read the rows, fill empty time buckets, total, protect.

The query does the work per record; here the work is per group (a few hundred
rows at most): numbers are made alike across databases (PostgreSQL's Decimal and
SQLite's float give the same cells), empty buckets are filled, and small cells
are hidden for a viewer who may not read the records.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import product
from typing import Any

import sqlalchemy as sa

from engines.forms import LocalizedText

from .buckets import as_date, bucket_label, buckets_between
from .compiler import GROUP_SIZE, CompiledReport
from .measure_expr import evaluate_measure_expr
from .suppression import suppress

DIGITS = 9  # floats are rounded so both databases give the same cells


@dataclass(frozen=True)
class ResultColumn:
    """A column of the result: a dimension (its title beside, for links) or a measure."""

    name: str
    kind: str  # dimension | title | measure
    label: LocalizedText | None = None
    format: str | None = None  # for measures: number, percent, integer


@dataclass
class ReportResult:
    """The cells of one run: rows of column -> value, the totals row, and how many cells were hidden."""

    columns: list[ResultColumn]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] | None = None
    suppressed: int = 0
    notes: list[str] = field(default_factory=list)
    total_rows: int | None = None  # when `rows` is one page (streaming.run_report_page): rows in all


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        return round(value, DIGITS)
    return value


def run_report(connection: sa.Connection, compiled: CompiledReport) -> ReportResult:
    """The result of `compiled` on `connection`."""
    spec = compiled.spec
    measures = list(spec.measures)
    raw = connection.execute(compiled.query).mappings().all()
    rows: list[dict[str, Any]] = []
    sizes: list[int] = []
    for record in raw:
        row: dict[str, Any] = {}
        for dimension in compiled.dimensions:
            value = record[dimension.key]
            row[dimension.key] = as_date(value) if dimension.by is not None else value
            if dimension.title is not None:
                row[dimension.title] = record[dimension.title]
        for measure in measures:
            row[measure] = _number(record[measure])
        rows.append(row)
        sizes.append(int(record[GROUP_SIZE]))
    if compiled.fill is not None:
        rows, sizes = _filled(compiled, rows, sizes)
    for dimension in compiled.dimensions:
        if dimension.by is not None:
            for row in rows:
                if row[dimension.key] is not None:
                    row[dimension.key] = bucket_label(row[dimension.key], dimension.by)
    totals, total_size = None, None
    if compiled.totals_query is not None:
        record = connection.execute(compiled.totals_query).mappings().one()
        totals = {m: _number(record[m]) for m in measures}
        total_size = int(record[GROUP_SIZE])
    hidden = 0
    if compiled.min_cell is not None:
        hidden = suppress(
            rows,
            totals,
            dimensions=[d.key for d in compiled.dimensions],
            sizes=sizes,
            total_size=total_size,
            base_measures=compiled.base_measures,
            depends=compiled.depends,
            min_cell=compiled.min_cell,
        )
    return ReportResult(_columns(compiled), rows, totals, hidden)


def _columns(compiled: CompiledReport) -> list[ResultColumn]:
    spec = compiled.spec
    columns = []
    for dimension, dim_spec in zip(compiled.dimensions, spec.dimensions):
        columns.append(ResultColumn(dimension.key, "dimension", dim_spec.label))
        if dimension.title is not None:
            columns.append(ResultColumn(dimension.title, "title"))
    for name, measure in spec.measures.items():
        columns.append(ResultColumn(name, "measure", measure.label, measure.format))
    return columns


def _filled(compiled: CompiledReport, rows: list[dict[str, Any]], sizes: list[int]) -> tuple[list[dict], list[int]]:
    """The rows with a zero row for every missing time bucket (crossed with the other dimensions' values)."""
    time = next(d for d in compiled.dimensions if d.by is not None)
    assert compiled.fill is not None and time.by is not None
    present = [row[time.key] for row in rows if row[time.key] is not None]
    first, last = compiled.fill
    first = first or (min(present) if present else None)
    last = last or (max(present) if present else None)
    if first is None or last is None:
        return rows, sizes
    others = [d for d in compiled.dimensions if d is not time]
    seen: dict[str, list[Any]] = {d.key: [] for d in others}
    titles: dict[tuple[str, Any], Any] = {}
    for row in rows:
        for d in others:
            if row[d.key] not in seen[d.key]:
                seen[d.key].append(row[d.key])
            if d.title is not None:
                titles[(d.key, row[d.key])] = row[d.title]
    keys = [d.key for d in compiled.dimensions]
    index = {tuple(row[k] for k in keys): (row, size) for row, size in zip(rows, sizes)}
    filled: list[dict[str, Any]] = []
    filled_sizes: list[int] = []
    for bucket in buckets_between(first, last, time.by):
        for combination in product(*(seen[d.key] for d in others)):
            values = dict(zip([d.key for d in others], combination))
            values[time.key] = bucket
            key = tuple(values[k] for k in keys)
            if key in index:
                row, size = index.pop(key)
            else:
                row, size = _empty_row(compiled, values, titles), 0
            filled.append(row)
            filled_sizes.append(size)
    for row, size in index.values():  # rows with no bucket (an empty date) stay, last
        filled.append(row)
        filled_sizes.append(size)
    return filled, filled_sizes


def _empty_row(compiled: CompiledReport, values: dict[str, Any], titles: dict[tuple[str, Any], Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for dimension in compiled.dimensions:
        row[dimension.key] = values[dimension.key]
        if dimension.title is not None:
            row[dimension.title] = titles.get((dimension.key, values[dimension.key]))
    for name, measure in compiled.spec.measures.items():
        if measure.agg in ("count", "count_distinct"):
            row[name] = 0
        elif measure.agg is not None:
            row[name] = None
    expressions = {n: m.expr for n, m in compiled.spec.measures.items() if m.expr is not None}
    for _ in expressions:  # enough rounds for expressions over expressions, in any order
        for name, source in expressions.items():
            row[name] = _number(evaluate_measure_expr(source, row))
    return row


def today_in(timezone: dt.tzinfo) -> dt.date:
    """Today's date in the app's timezone (what periods such as `this_month` are relative to)."""
    return dt.datetime.now(timezone).date()
