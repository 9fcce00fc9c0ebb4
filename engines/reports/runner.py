"""Run a compiled report on a connection: read the rows, fill empty time buckets, total, protect.

One statement does the work per record (its rows come back per part: the groups,
totals, subtotals, the period and buckets before); here the work is per group (a few hundred
rows at most): numbers are made alike across databases (PostgreSQL's Decimal and
SQLite's float give the same cells), empty buckets (and every weekday and hour)
are filled, period-over-period changes are taken, subtotal rows added, small
cells hidden for a viewer who may not read the records, forecast rows appended
and, last, a dimension pivoted into columns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from itertools import product
from typing import Any

import sqlalchemy as sa

from engines.forms import LocalizedText

from .additive_totals import summed_totals, totals_add_up
from .buckets import CYCLES, as_date, bucket_label, buckets_between
from .combined import MAIN, PREVIOUS, TOTALS, split_parts
from .comparison import apply_changes, change_measures, change_value, hide_changes, kpi_changes
from .compiler import GROUP_SIZE, CompiledReport, DimensionColumn
from .forecast import ForecastInfo, describe, forecast
from .measure_expr import evaluate_measure_expr
from .pivot import TOTAL, joined, pivot_rows
from .report_spec import TIME_BUCKETS
from .subtotals import protect_subtotals
from .suppression import Suppressed, suppress

SUBTOTAL = "_subtotal"  # the key a subtotal row carries: the dimension it subtotals
FORECAST = "forecast"  # the boolean column of a report with `forecast:`

DIGITS = 9  # floats are rounded so both databases give the same cells


@dataclass(frozen=True)
class ResultColumn:
    """A column of the result: a dimension (its title beside, for links) or a measure."""

    name: str
    kind: str  # dimension | title | measure | flag (the boolean `forecast` column)
    label: LocalizedText | None = None
    format: str | None = None  # for measures: number, percent, integer
    labels: dict[Any, LocalizedText] | None = None  # a dimension's value -> how it reads (weekdays, options)


@dataclass
class ReportResult:
    """The cells of one run: rows of column -> value, the totals row, and how many cells were hidden.

    `previous` (with `compare:`) holds the measures over the period before, of equal
    length (`previous_period`, both ends included; `period` is the range asked for),
    and `changes` each measure's change against it: relative, or for a percent the
    difference in points. `forecast` says how forecast rows were made and the
    method's error on past weeks.
    """

    columns: list[ResultColumn]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] | None = None
    suppressed: int = 0
    notes: list[str] = field(default_factory=list)
    total_rows: int | None = None  # when `rows` is one page (streaming.run_report_page): rows in all
    previous: dict[str, Any] | None = None
    changes: dict[str, float | None] | None = None
    period: tuple[dt.date, dt.date] | None = None
    previous_period: tuple[dt.date, dt.date] | None = None
    forecast: ForecastInfo | None = None


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        return round(value, DIGITS)
    return value


def _read(compiled: CompiledReport, record: Any, dimensions: list[DimensionColumn]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for dimension in dimensions:
        value = record[dimension.key]
        if dimension.by in TIME_BUCKETS:
            value = as_date(value)
        elif dimension.by in CYCLES and value is not None:
            value = int(value)
        row[dimension.key] = value
        if dimension.title is not None:
            row[dimension.title] = record[dimension.title]
    for measure in compiled.spec.sql_measures:
        row[measure] = _number(record[measure])
    for measure in change_measures(compiled.spec):
        row[measure] = None
    return row


def run_report(connection: sa.Connection, compiled: CompiledReport) -> ReportResult:
    """The result of `compiled` on `connection`: one statement (combined.py), then the work per group."""
    if compiled.cohort is not None:
        from .cohort import cohort_rows

        raw_cohorts = connection.execute(compiled.cohort.query).mappings().all()
        today = compiled.today or dt.date.today()
        cohort, hidden_cells = cohort_rows(list(raw_cohorts), compiled.cohort, today, compiled.min_cell)
        kind = compiled.spec.cohort
        return ReportResult(
            _cohort_columns(kind.by if kind else "month", kind.periods if kind else 12),
            cohort,
            None,
            hidden_cells,
            period=compiled.period,
        )
    records = connection.execute(compiled.statement).mappings().all()
    return _result(compiled, split_parts(records, compiled.tags))


def _result(compiled: CompiledReport, parts: Mapping[str, Sequence[Any]]) -> ReportResult:
    """The result from the statement's rows, per part (`rows`, `totals`, `subtotal:…`, `previous`, `shifted:…`)."""
    spec = compiled.spec
    rows: list[dict[str, Any]] = []
    sizes: list[int] = []
    for record in parts[MAIN]:
        rows.append(_read(compiled, record, compiled.dimensions))
        sizes.append(int(record[GROUP_SIZE]))
    if compiled.fill is not None or compiled.fill_cycles:
        rows, sizes = _filled(compiled, rows, sizes)
    time = next((d for d in compiled.dimensions if d.by in TIME_BUCKETS), None)
    sources: dict[tuple[int, str], tuple[str, Any]] = {}
    if change_measures(spec) and time is not None and time.by is not None:
        shifted = {
            period: _result(replace(nested, min_cell=compiled.min_cell), {MAIN: parts[f"shifted:{period}"]}).rows
            for period, nested in compiled.shifted.items()
        }
        keys = [d.key for d in compiled.dimensions]
        sources = apply_changes(spec, rows, time.key, time.by, keys, shifted)
    totals, total_size = None, None
    if compiled.totals_query is not None and totals_add_up(spec):
        totals, total_size = summed_totals(spec, rows, sizes)  # the groups' counts add up: no second pass
    elif compiled.totals_query is not None:
        record = parts[TOTALS][0]
        totals = {m: _number(record[m]) for m in spec.sql_measures}
        total_size = int(record[GROUP_SIZE])
    subtotals = {
        key: _subtotal_rows(compiled, key, parts[f"subtotal:{key}"], rows) for key in compiled.subtotal_queries
    }
    hidden = 0
    if compiled.min_cell is not None:
        raw = [dict(row) for row in rows] if subtotals else []
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
        if subtotals:
            hidden += protect_subtotals(
                rows,
                raw,
                sizes,
                subtotals,
                totals,
                dimensions=[d.key for d in compiled.dimensions],
                base_measures=compiled.base_measures,
                depends=compiled.depends,
                min_cell=compiled.min_cell,
            )
        hidden += hide_changes(spec, rows, sources, Suppressed(compiled.min_cell))
    result = ReportResult(_columns(compiled), rows, totals, hidden, period=compiled.period)
    if compiled.previous is not None:
        before = _result(replace(compiled.previous, min_cell=compiled.min_cell), {MAIN: parts[PREVIOUS]})
        result.previous = before.rows[0] if before.rows else None
        result.previous_period = compiled.previous_period
        current = totals if totals is not None else (rows[0] if not compiled.dimensions and rows else None)
        if current is not None and result.previous is not None:
            result.changes = kpi_changes(spec, current, result.previous)
            for name, measure in change_measures(spec).items():
                assert measure.change is not None
                if totals is not None:
                    totals[name] = change_value(
                        totals.get(measure.change.of), result.previous.get(measure.change.of), measure.change.as_
                    )
    elif totals is not None:
        for name in change_measures(spec):
            totals[name] = None
    if spec.forecast is not None and time is not None and time.by is not None:
        _add_forecast(compiled, result, time)
    for dimension in compiled.dimensions:
        if dimension.by in TIME_BUCKETS:
            for row in [*rows, *(r for sub, _ in subtotals.values() for r in sub)]:
                if row[dimension.key] is not None:
                    row[dimension.key] = bucket_label(row[dimension.key], dimension.by)
    if subtotals:
        result.rows = _with_subtotals(compiled, rows, subtotals)
    if spec.pivot is not None:
        _pivot(compiled, result)
    return result


def _subtotal_rows(
    compiled: CompiledReport, key: str, records: Sequence[Any], details: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[int]]:
    """The subtotal rows by dimension `key`, one per value its details show (a zero row where the query had none)."""
    dimension = next(d for d in compiled.dimensions if d.key == key)
    found: dict[str, tuple[dict[str, Any], int]] = {}
    for record in records:
        row = _read(compiled, record, [dimension])
        found[repr(row[key])] = (row, int(record[GROUP_SIZE]))
    rows, sizes = [], []
    seen: list[Any] = []
    for detail in details:
        if repr(detail[key]) not in [repr(v) for v in seen]:
            seen.append(detail[key])
    for value in seen:
        row, size = found.get(repr(value)) or (_empty_row(compiled, {key: value}, {}, [dimension]), 0)
        if dimension.title is not None and row.get(dimension.title) is None:
            row[dimension.title] = next((d[dimension.title] for d in details if repr(d[key]) == repr(value)), None)
        full = {}
        for other in compiled.dimensions:
            full[other.key] = row[key] if other.key == key else None
            if other.title is not None:
                full[other.title] = row.get(other.title) if other.key == key else None
        full.update({m: row.get(m) for m in compiled.spec.measures})
        full[SUBTOTAL] = key
        rows.append(full)
        sizes.append(size)
    return rows, sizes


def _with_subtotals(
    compiled: CompiledReport, rows: list[dict[str, Any]], subtotals: dict[str, tuple[list[dict[str, Any]], list[int]]]
) -> list[dict[str, Any]]:
    """Rows with each first-dimension subtotal after its group (sorted reports: subtotals last)."""
    first = compiled.dimensions[0].key
    trailing = [row for key, (sub, _) in subtotals.items() if key != first or compiled.spec.sort for row in sub]
    if first not in subtotals or compiled.spec.sort:
        return rows + trailing
    by_value = {repr(row[first]): row for row in subtotals[first][0]}
    merged: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        merged.append(row)
        after = rows[index + 1] if index + 1 < len(rows) else None
        if after is None or repr(after[first]) != repr(row[first]):
            subtotal = by_value.pop(repr(row[first]), None)
            if subtotal is not None:
                merged.append(subtotal)
    return merged + list(by_value.values()) + trailing


def _add_forecast(compiled: CompiledReport, result: ReportResult, time: DimensionColumn) -> None:
    spec = compiled.spec
    assert spec.forecast is not None and time.by is not None
    measure = spec.forecast.measure or next(m for m, s in spec.measures.items() if s.agg == "count")
    future, info = forecast(result.rows, time.key, time.by, spec.forecast, measure, compiled.today or dt.date.today())
    for row in result.rows:
        row[FORECAST] = False
    for bucket, value in future:
        row = {d.key: None for d in compiled.dimensions}
        if time.title is not None:
            row[time.title] = None
        row.update({m: None for m in spec.measures})
        row[time.key] = bucket
        row[measure] = value
        row[FORECAST] = True
        result.rows.append(row)
    result.forecast = info
    result.notes.append(describe(info, time.by))
    result.columns.append(ResultColumn(FORECAST, "flag", {"en": "Forecast", "zh-CN": "预测"}))


def _pivot(compiled: CompiledReport, result: ReportResult) -> None:
    """Turn the pivot dimension's values into columns, labelled by the values' labels."""
    spec = compiled.spec
    dimension = next(d for d in compiled.dimensions if d.key == spec.pivot)
    value_labels: dict[Any, Any] = dict(dimension.labels or {})
    if dimension.title is not None:
        value_labels.update(
            {row[dimension.key]: row[dimension.title] for row in result.rows if row.get(dimension.title)}
        )
    keep = [
        c.name
        for c in result.columns
        if c.kind in ("dimension", "title") and c.name not in (dimension.key, dimension.title)
    ]
    keep += [SUBTOTAL] if compiled.subtotal_queries else []
    measures = list(spec.measures)
    rows, columns = pivot_rows(result.rows, pivot=dimension.key, keep=keep, measures=measures)
    by_name = {c.name: c for c in result.columns}
    new_columns = [by_name[name] for name in keep if name in by_name]
    for name, measure, value in columns:
        if value is TOTAL:
            label: Any = {"en": "Total", "zh-CN": "合计"}
        else:
            label = value_labels.get(value, "—" if value is None else str(value))
        own = by_name[measure]
        new_columns.append(
            ResultColumn(name, "measure", joined(label, own.label) if len(measures) > 1 else label, own.format)
        )
    result.rows, result.columns = rows, new_columns


def _columns(compiled: CompiledReport) -> list[ResultColumn]:
    spec = compiled.spec
    columns = []
    for dimension, dim_spec in zip(compiled.dimensions, spec.dimensions):
        columns.append(ResultColumn(dimension.key, "dimension", dim_spec.label, labels=dimension.labels))
        if dimension.title is not None:
            columns.append(ResultColumn(dimension.title, "title"))
    for name, measure in spec.measures.items():
        columns.append(ResultColumn(name, "measure", measure.label, measure.format))
    return columns


def _period_labels(by: str, periods: int) -> dict[Any, LocalizedText]:
    """How the periods after the first read: `Month 3` / `第3个月` (0 is the first one itself)."""
    if by == "week":
        return {n: {"en": f"Week {n}", "zh-CN": f"第{n}周"} for n in range(periods + 1)}
    return {n: {"en": f"Month {n}", "zh-CN": f"第{n}个月"} for n in range(periods + 1)}


def _cohort_columns(by: str, periods: int) -> list[ResultColumn]:
    return [
        ResultColumn("cohort", "dimension", {"en": "First visit", "zh-CN": "首次就诊"}),
        ResultColumn(
            "period", "dimension", {"en": "Periods since", "zh-CN": "间隔期数"}, labels=_period_labels(by, periods)
        ),
        ResultColumn("cohort_size", "measure", {"en": "Cohort size", "zh-CN": "队列人数"}, "integer"),
        ResultColumn("active", "measure", {"en": "Came back", "zh-CN": "回访人数"}, "integer"),
        ResultColumn("retention", "measure", {"en": "Retention", "zh-CN": "留存率"}, "percent"),
    ]


def _filled(compiled: CompiledReport, rows: list[dict[str, Any]], sizes: list[int]) -> tuple[list[dict], list[int]]:
    """The rows with a zero row for every missing time bucket, weekday and hour (crossed with the other values)."""
    time = next((d for d in compiled.dimensions if d.by in TIME_BUCKETS), None)
    domains: dict[str, list[Any]] = {}
    if time is not None and time.by is not None and compiled.fill is not None:
        present = [row[time.key] for row in rows if row[time.key] is not None]
        first, last = compiled.fill
        first = first or (min(present) if present else None)
        last = last or (max(present) if present else None)
        if first is None or last is None:
            return rows, sizes
        domains[time.key] = list(buckets_between(first, last, time.by))
    for d in compiled.dimensions:
        if d.by in CYCLES:
            domains[d.key] = list(CYCLES[d.by])
    others = [d for d in compiled.dimensions if d.key not in domains]
    seen: dict[str, list[Any]] = {d.key: [] for d in others}
    titles: dict[tuple[str, Any], Any] = {}
    for row in rows:
        for d in others:
            if row[d.key] not in seen[d.key]:
                seen[d.key].append(row[d.key])
            if d.title is not None:
                titles[(d.key, row[d.key])] = row[d.title]
    domains.update(seen)
    order = ([time.key] if time is not None and time.key in domains else []) + [
        d.key for d in compiled.dimensions if time is None or d.key != time.key
    ]
    keys = [d.key for d in compiled.dimensions]
    index = {tuple(row[k] for k in keys): (row, size) for row, size in zip(rows, sizes)}
    filled: list[dict[str, Any]] = []
    filled_sizes: list[int] = []
    for combination in product(*(domains[k] for k in order)):
        values = dict(zip(order, combination))
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


def _empty_row(
    compiled: CompiledReport,
    values: dict[str, Any],
    titles: dict[tuple[str, Any], Any],
    dimensions: list[DimensionColumn] | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for dimension in compiled.dimensions if dimensions is None else dimensions:
        row[dimension.key] = values[dimension.key]
        if dimension.title is not None:
            row[dimension.title] = titles.get((dimension.key, values[dimension.key]))
    for name, measure in compiled.spec.measures.items():
        if measure.agg in ("count", "count_distinct"):
            row[name] = 0
        elif measure.agg is not None or measure.change is not None:
            row[name] = None
    expressions = {n: m.expr for n, m in compiled.spec.measures.items() if m.expr is not None}
    for _ in expressions:  # enough rounds for expressions over expressions, in any order
        for name, source in expressions.items():
            row[name] = _number(evaluate_measure_expr(source, row))
    return row


def today_in(timezone: dt.tzinfo) -> dt.date:
    """Today's date in the app's timezone (what periods such as `this_month` are relative to)."""
    return dt.datetime.now(timezone).date()
