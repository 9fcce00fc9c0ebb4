"""A report, its parameters and the viewer, compiled to one SQLAlchemy Core SELECT.

The engine never opens a database: the caller passes a schema port (entity ->
Table), an optional row-filter port (the viewer's row filters, applied to the
source and to every joined entity), the database dialect's name and today's date
in the app's timezone (for periods such as `last_12_months`). Grouping, filters,
aggregates and expression measures all run in SQL. What else a report needs — a
totals row, subtotals, the period before (`compare`), the buckets before (`change`)
— is compiled as parts beside the grouped query and sent with it as one statement
(`combined.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from engines.forms import ID_MAX, EntitySpec

from .additive_totals import totals_add_up
from .buckets import CYCLES, bucket_of, bucket_sql, cycle_labels, next_bucket, shift_bucket, year_before
from .combined import MAIN, PREVIOUS, TOTALS, Part, Tags, combine, with_grouping_sets
from .joins import Joins, RowFilterPort, SchemaPort
from .measure_expr import compile_measure_expr, measure_names
from .periods import PeriodError, period_range
from .report_spec import MeasureSpec, ReportSpec
from .where_sql import compile_where

GROUP_SIZE = "__n"  # the hidden count(*) of each group, for small-cell suppression
TITLE_SUFFIX = "__title"
COUNTING = ("count", "count_distinct")


class ReportError(ValueError):
    """A report that cannot run as asked: a bad parameter value, or a measure this database lacks."""


@dataclass(frozen=True)
class DimensionColumn:
    """A result column a dimension gives; `title` is set when it is a link (the linked record's title)."""

    key: str
    field: str
    by: str | None = None
    title: str | None = None
    labels: dict[Any, Any] | None = None  # value -> how it reads per locale (weekdays, hours, options)


@dataclass
class CompiledReport:
    """What `run_report` needs: the queries and how to read, fill and protect their rows."""

    name: str
    spec: ReportSpec
    query: sa.Select
    totals_query: sa.Select | None
    dimensions: list[DimensionColumn]
    min_cell: int | None  # None: the viewer may read the records, no suppression
    fill: tuple[dt.date | None, dt.date | None] | None = None  # the time range whose empty buckets are filled
    base_measures: Mapping[str, str] = field(default_factory=dict)  # aggregate measures -> their agg
    depends: dict[str, set[str]] = field(default_factory=dict)  # expression measure -> base measures it uses
    fields_used: frozenset[tuple[str, str]] = frozenset()  # (entity, field) read, titles included
    today: dt.date | None = None
    fill_cycles: bool = False  # weekday and hour dimensions get every position (7, 24)
    subtotal_queries: dict[str, sa.Select] = field(default_factory=dict)  # dimension -> grouped by it alone
    period: tuple[dt.date, dt.date] | None = None  # the date range asked for (both ends included)
    previous: CompiledReport | None = None  # `compare`: the report without dimensions over the period before
    previous_period: tuple[dt.date, dt.date] | None = None
    shifted: dict[str, CompiledReport] = field(
        default_factory=dict
    )  # change period -> the report over the buckets before
    cohort: Any = None  # a compiled cohort report (engines/reports/cohort.py)
    statement: Any = None  # the one statement `run_report` sends: every part above (combined.py)
    tags: Tags = field(default_factory=dict)  # (part, grouping set) of the statement's rows -> their tag
    order: tuple[tuple[str, bool], ...] = ()  # the groups' order: (result column, descending), `sort` first

    @property
    def runs_whole(self) -> bool:
        """Whether `run_report` must see every group before any row is shown (no paging or streaming of `query`):
        cycles filled, subtotals, changes, the period before, forecasts, pivots and cohorts all work across groups."""
        spec = self.spec
        across = self.fill_cycles or bool(self.subtotal_queries) or bool(self.shifted) or self.previous is not None
        kinds = spec.forecast is not None or spec.pivot is not None or any(m.change for m in spec.measures.values())
        return across or kinds or self.cohort is not None or self.fill is not None or self.min_cell is not None


def compile_report(
    name: str,
    spec: ReportSpec,
    entities: Mapping[str, EntitySpec],
    *,
    schema: SchemaPort,
    dialect: str,
    today: dt.date,
    params: Mapping[str, Any] | None = None,
    row_filter: RowFilterPort | None = None,
    private: bool = True,
    show_title: Callable[[str], bool] | None = None,
) -> CompiledReport:
    """Compile checked report `spec`; `private` (a viewer without read access) turns on small-cell suppression.

    `show_title(entity)` says whether a link dimension may carry the linked record's
    title beside its id (default: yes); the builder answers from the viewer's read rights.

    Raises ReportError for an unknown or malformed parameter, or median on a database without it.
    """
    joins = Joins(entities, spec.source, schema, row_filter)
    conditions: list[Any] = []
    source_filter = joins.source_filter()
    if source_filter is not None:
        conditions.append(source_filter)
    conditions += [compile_where(text, joins.column) for text in spec.filters]
    ranges: dict[str, tuple[dt.date | None, dt.date | None]] = {}
    fill_range = _parameters(spec, joins, conditions, dict(params or {}), today, ranges)

    if spec.kind == "cohort":
        from .cohort import compile_cohort

        compiled = CompiledReport(name, spec, sa.select(sa.literal(1)), None, [], spec.min_cell if private else None)
        compiled.cohort = compile_cohort(spec, joins, conditions, dialect, today, ranges)
        compiled.today = today
        bounded = [(a, b) for a, b in ranges.values() if a is not None and b is not None]
        compiled.period = (bounded[0][0], bounded[0][1] - dt.timedelta(days=1)) if bounded else None
        compiled.fields_used = frozenset(joins.used)
        return compiled

    dimensions: list[DimensionColumn] = []
    group: list[Any] = []
    per_dimension: dict[str, list[Any]] = {}
    for dimension in spec.dimensions:
        start = len(group)
        path = joins.path(dimension.field)
        if dimension.by is not None:
            expression = bucket_sql(joins.column(dimension.field), dimension.by, dialect)
            group.append(expression.label(dimension.key))
            labels = cycle_labels(dimension.by)
            dimensions.append(DimensionColumn(dimension.key, dimension.field, dimension.by, labels=labels))
        elif path.is_link:
            target = joins.linked(path)
            group.append(target.c.id.label(dimension.key))
            title_field = entities[path.spec.to or ""].title_field
            title = None
            target_entity = path.spec.to or ""
            visible = show_title is None or show_title(target_entity)
            if title_field and visible and not entities[target_entity].fields[title_field].encrypted:
                joins.used.add((target_entity, title_field))
                title = dimension.key + TITLE_SUFFIX
                group.append(target.c[title_field].label(title))
            dimensions.append(DimensionColumn(dimension.key, dimension.field, None, title))
        else:
            group.append(joins.column(dimension.field).label(dimension.key))
            options: dict[Any, Any] | None = dict(path.spec.option_labels) if path.spec.option_labels else None
            if path.spec.type == "boolean":
                options = {True: {"en": "yes", "zh-CN": "是"}, False: {"en": "no", "zh-CN": "否"}}
            dimensions.append(DimensionColumn(dimension.key, dimension.field, labels=options))
        per_dimension[dimension.key] = group[start:]

    measures = _measures(spec, joins, dialect)
    selected = [*group, sa.func.count().label(GROUP_SIZE)]
    selected += [measures[m].label(m) for m in spec.sql_measures]
    query = sa.select(*selected).select_from(joins.from_clause)
    if conditions:
        query = query.where(*conditions)
    if group:
        query = query.group_by(*(column.element for column in group))
    labels = {column.name: column for column in selected}
    order = [(item.lstrip("-"), item.startswith("-")) for item in spec.sort]
    order += [(d.key, False) for d in dimensions if d.key not in {key for key, _ in order}]  # ties: one order
    query = query.order_by(*(_ordered(labels[key], desc) for key, desc in order))
    if spec.limit is not None:
        query = query.limit(spec.limit)

    totals_query = None
    aggregates = [sa.func.count().label(GROUP_SIZE)] + [measures[m].label(m) for m in spec.sql_measures]
    if spec.totals and group:
        totals_query = sa.select(*aggregates).select_from(joins.from_clause)
        if conditions:
            totals_query = totals_query.where(*conditions)
    subtotal_queries = {}
    for key in spec.subtotal_dimensions:
        columns = per_dimension[key]
        subtotal = sa.select(*columns, *aggregates).select_from(joins.from_clause)
        if conditions:
            subtotal = subtotal.where(*conditions)
        subtotal_queries[key] = subtotal.group_by(*(c.element for c in columns)).order_by(
            *(_ordered(c, False) for c in columns[:1])
        )
    unordered = spec.limit is None and not spec.sort
    fill = fill_range if spec.time_dimension is not None and unordered else None
    base = {m: s.agg for m, s in spec.measures.items() if s.agg is not None}
    compiled = CompiledReport(
        name,
        spec,
        query,
        totals_query,
        dimensions,
        spec.min_cell if private else None,
        fill,
        base,
        {m: _base_of(spec, m) for m, s in spec.measures.items() if s.expr is not None},
        frozenset(joins.used),
        today,
        unordered and any(d.by in CYCLES for d in spec.dimensions),
        subtotal_queries,
    )
    again = {"entities": entities, "schema": schema, "dialect": dialect, "today": today, "row_filter": row_filter}
    _comparisons(compiled, ranges, dict(params or {}), {**again, "private": private, "show_title": show_title})
    compiled.order = tuple(order)
    _combine(compiled, group, order, dialect)
    return compiled


def _combine(compiled: CompiledReport, group: list[Any], order: list[tuple[str, bool]], dialect: str) -> None:
    """The one statement of a run: the groups, and the totals, subtotals and comparisons the report needs."""
    spec = compiled.spec
    parts = [Part(MAIN, compiled.query, limited=spec.limit is not None)]
    grouped = {column.name for column in group}
    sets: dict[str, tuple[str, ...]] = {}
    if compiled.totals_query is not None and not totals_add_up(spec):  # summed from the groups otherwise
        parts.append(Part(TOTALS, compiled.totals_query))
        sets[TOTALS] = ()
    for key, query in compiled.subtotal_queries.items():
        parts.append(Part(f"subtotal:{key}", query))
        sets[f"subtotal:{key}"] = tuple(c.name for c in query.selected_columns if c.name in grouped)
    if dialect == "postgresql" and sets and spec.limit is None:  # the records read once for every grouping
        parts = [with_grouping_sets(compiled.query, group, sets)]
    if compiled.previous is not None:
        parts.append(Part(PREVIOUS, compiled.previous.query))
    parts += [Part(f"shifted:{period}", nested.query) for period, nested in compiled.shifted.items()]
    names = [c.name for c in compiled.query.selected_columns]
    keys = [d.key for d in compiled.dimensions]
    compiled.statement, compiled.tags = combine(parts, names=names, order=order[: len(spec.sort)], dimensions=keys)


def _plain(spec: ReportSpec, **changes: Any) -> ReportSpec:
    """`spec` reduced to its SQL measures, with no totals, subtotals, pivot, comparison or forecast."""
    base = {"measures": spec.sql_measures, "totals": False, "subtotals": False, "pivot": None, "compare": None}
    return spec.model_copy(update={**base, "forecast": None, "sort": [], "limit": None, "examples": [], **changes})


def _comparisons(
    compiled: CompiledReport,
    ranges: dict[str, tuple[dt.date | None, dt.date | None]],
    params: dict[str, Any],
    again: dict[str, Any],
) -> None:
    """Compile what period-over-period needs: the period before (`compare`), the buckets before (`change`)."""
    spec = compiled.spec
    bounded = [(name, a, b) for name, (a, b) in ranges.items() if a is not None and b is not None]
    if bounded:
        name, low_day, high_day = bounded[0]
        assert low_day is not None and high_day is not None
        compiled.period = (low_day, high_day - dt.timedelta(days=1))
        if spec.compare is not None:
            try:
                first, after = _period_before(low_day, high_day, spec.compare)
            except (OverflowError, ValueError):
                raise ReportError(
                    "the period before this one would start before the year 1: choose a shorter period, or a later one"
                ) from None
            compiled.previous_period = (first, after - dt.timedelta(days=1))
            before = {**params, name: f"{first.isoformat()}..{(after - dt.timedelta(days=1)).isoformat()}"}
            compiled.previous = compile_report(compiled.name, _plain(spec, dimensions=[]), params=before, **again)
    time = spec.time_dimension
    periods = {m.change.period for m in spec.measures.values() if m.change is not None}
    if time is None or time.by is None or not periods:
        return
    on_time = [key for key, (a, _) in ranges.items() if a is not None and spec.parameters[key].field == time.field]
    if not on_time:
        return  # every bucket's comparator is in the result itself (or before the first record)
    start, end = ranges[on_time[0]]
    assert start is not None
    first_bucket = bucket_of(start, time.by)
    last_bucket = bucket_of((end - dt.timedelta(days=1)) if end else compiled.today or start, time.by)
    for period in sorted(periods):
        try:
            if period == "previous":
                low, high = shift_bucket(first_bucket, time.by, -1), shift_bucket(last_bucket, time.by, -1)
            else:
                low, high = year_before(first_bucket, time.by), year_before(last_bucket, time.by)
            until = next_bucket(high, time.by) - dt.timedelta(days=1)
        except (OverflowError, ValueError):
            raise ReportError(
                "the period to compare with would fall outside the calendar; choose another period"
            ) from None
        shifted = {**params, on_time[0]: f"{low.isoformat()}..{until.isoformat()}"}
        compiled.shifted[period] = compile_report(compiled.name, _plain(spec), params=shifted, **again)


def _period_before(start: dt.date, end: dt.date, how: str) -> tuple[dt.date, dt.date]:
    """[first, after) of the period before [start, end): whole months back when the range is whole months."""
    if how == "year_before":
        return year_before(start, "month" if start.day == 1 else "day"), year_before(
            end, "month" if end.day == 1 else "day"
        )
    if start.day == 1 and end.day == 1:
        months = (end.year * 12 + end.month) - (start.year * 12 + start.month)
        return shift_bucket(start, "month", -months), start
    return start - (end - start), start


def _ordered(column: Any, descending: bool) -> Any:
    """Order by a result column, empty values last on both databases."""
    return sa.nulls_last(column.desc() if descending else column.asc())


def _base_of(spec: ReportSpec, name: str, seen: frozenset[str] = frozenset()) -> set[str]:
    """The aggregate measures expression measure `name` is computed from, through other expressions."""
    measure = spec.measures[name]
    if measure.expr is None:
        return {name}
    result: set[str] = set()
    for ref, _ in measure_names(measure.expr):
        if ref not in seen:
            result |= _base_of(spec, ref, seen | {name})
    return result


def _measures(spec: ReportSpec, joins: Joins, dialect: str) -> dict[str, Any]:
    built: dict[str, Any] = {}

    def build(name: str) -> Any:
        if name not in built:
            measure = spec.measures[name]
            if measure.expr is not None:
                refs = {ref: build(ref) for ref, _ in measure_names(measure.expr)}
                built[name] = compile_measure_expr(measure.expr, refs)
            else:
                built[name] = _aggregate(measure, joins, dialect)
        return built[name]

    for name in spec.sql_measures:
        build(name)
    return built


def _aggregate(measure: MeasureSpec, joins: Joins, dialect: str) -> Any:
    column = None if measure.field is None else joins.column(measure.field)
    condition = None if measure.where is None else compile_where(measure.where, joins.column)
    if measure.agg == "count":
        if column is None and condition is None:
            return sa.func.count()
        value = sa.literal(1, literal_execute=True) if column is None else column  # in the text: see where_sql
        return sa.func.count(value if condition is None else sa.case((condition, value)))
    assert column is not None  # checked: every aggregate but count has a field
    target: Any = column if condition is None else sa.case((condition, column))
    if measure.agg == "count_distinct":
        return sa.func.count(sa.distinct(target))
    if measure.agg == "median":
        if dialect != "postgresql":
            raise ReportError("`median` needs PostgreSQL; on SQLite use `avg`, or run the report on PostgreSQL")
        return sa.func.percentile_cont(0.5).within_group(target)
    return getattr(sa.func, str(measure.agg))(target)


def _parameters(
    spec: ReportSpec,
    joins: Joins,
    conditions: list[Any],
    params: dict[str, Any],
    today: dt.date,
    ranges: dict[str, tuple[dt.date | None, dt.date | None]],
) -> tuple[dt.date | None, dt.date | None] | None:
    """Add each set parameter's condition (date ranges into `ranges`); return the time range to fill."""
    unknown = sorted(set(params) - set(spec.parameters))
    if unknown:
        raise ReportError(f"report has no parameter `{unknown[0]}`; it has: {', '.join(spec.parameters) or 'none'}")
    fill: tuple[dt.date | None, dt.date | None] | None = (None, None)
    time = spec.time_dimension
    for name, param in spec.parameters.items():
        value = params.get(name, param.default)
        if value is None or value == "":
            continue
        path = joins.path(param.field)
        column = joins.column(param.field)
        if param.type == "date_range":
            try:
                start, end = period_range(str(value), today)
            except PeriodError as exc:
                raise ReportError(f"parameter `{name}`: {exc}") from None
            ranges[name] = (start, end)
            if spec.kind == "cohort":
                continue  # a cohort's range picks cohorts (first events), not the events counted
            moment = path.spec.type == "datetime"
            if start is not None:
                conditions.append(column >= (dt.datetime.combine(start, dt.time()) if moment else start))
            if end is not None:
                conditions.append(column < (dt.datetime.combine(end, dt.time()) if moment else end))
            if time is not None and time.field == param.field:
                fill = (start, None if end is None else end - dt.timedelta(days=1))
        elif param.type == "link":
            try:
                record_id = int(value)
            except (TypeError, ValueError):
                raise ReportError(f"parameter `{name}` is a record id (a whole number), not `{value}`") from None
            if not 1 <= record_id <= ID_MAX:  # beyond a 64-bit id the database itself would fail
                raise ReportError(f"parameter `{name}` is a record id from 1 to {ID_MAX}, not `{value}`")
            conditions.append(column == record_id)
        else:
            conditions.append(column == _option(name, value, path.spec.type, path.spec.options))
    return fill


def _option(name: str, value: Any, kind: str, options: list[str] | None) -> Any:
    if kind == "boolean":
        if str(value).lower() in ("true", "1", "yes"):
            return True
        if str(value).lower() in ("false", "0", "no"):
            return False
        raise ReportError(f"parameter `{name}` is true or false, not `{value}`")
    if options is not None and value not in options:
        raise ReportError(f"parameter `{name}` is one of {', '.join(options)}, not `{value}`")
    return value
