"""Meaning checks of the report keys beyond grouping: changes, compare, subtotals, pivot, forecast, cohorts.

Each finds what would make the result meaningless before it runs: a change of a
measure the report lacks, or over no time series; subtotals of a dimension the
report does not have; a forecast on anything but one day or week series; a
cohort whose subject is not a link or whose anchor is not a date.
"""

from __future__ import annotations

from collections.abc import Iterator

from engines.rules import Loc, Problem

from .measure_expr import measure_names
from .report_spec import ReportSpec
from .where_sql import WhereError

DATES = ("date", "datetime")
COHORT_COLUMNS = ("cohort", "period", "cohort_size", "active", "retention")


def result_columns(spec: ReportSpec) -> set[str]:
    """The columns a report's result has (for sort, chart axes and examples)."""
    if spec.kind == "cohort":
        return set(COHORT_COLUMNS)
    columns = {d.key for d in spec.dimensions} | set(spec.measures)
    if spec.forecast is not None:
        columns.add("forecast")
    return columns


def check_kinds(ctx: object, spec: ReportSpec, loc: Loc) -> Iterator[Problem]:
    """Every problem of the keys this module owns."""
    from .checks_reports import ReportContext, unknown_name

    assert isinstance(ctx, ReportContext)
    keys = [d.key for d in spec.dimensions]
    time = spec.time_dimension
    for name, measure in spec.measures.items():
        at = loc + ("measures", name)
        if measure.change is not None:
            if measure.change.of not in spec.measures:
                known = [m for m in spec.measures if m != name]
                yield unknown_name("measure", measure.change.of, known, at + ("change", "of"), "report.unknown_measure")
            elif spec.measures[measure.change.of].change is not None:
                yield Problem(at + ("change", "of"), "report.bad_change", "a change of a change is not a measure")
            if time is None:
                yield Problem(
                    at + ("change",),
                    "report.change_needs_time",
                    "a change compares a time bucket with an earlier one; the report has no time series",
                    "add a dimension such as {field: visited_at, by: month}",
                )
            if name in [item.lstrip("-") for item in spec.sort]:
                yield Problem(at, "report.bad_change", f"`{name}` is computed after the query, so it cannot sort")
        if measure.expr is not None:
            try:
                refs = measure_names(measure.expr)
            except WhereError:
                continue
            for ref, column in refs:
                if ref in spec.measures and spec.measures[ref].change is not None:
                    message = f"`{ref}` is a change, computed after the query; an `expr` cannot use it"
                    yield Problem(at + ("expr",), "report.bad_change", message, None, column)
    if spec.compare is not None and not any(p.type == "date_range" for p in spec.parameters.values()):
        yield Problem(
            loc + ("compare",),
            "report.compare_needs_range",
            "`compare` takes the same measures over the period before the one asked for; the report has no date range",
            "add a parameter {type: date_range, field: ..., default: last_30_days}",
        )
    if spec.subtotals is not False:
        if len(spec.dimensions) < 2:
            yield Problem(
                loc + ("subtotals",),
                "report.subtotals_need_dimensions",
                "subtotals roll up the other dimensions; the report needs two dimensions or more",
                "use `totals: true` for one dimension",
            )
        if isinstance(spec.subtotals, list):
            for index, key in enumerate(spec.subtotals):
                if key not in keys:
                    yield unknown_name("dimension", key, keys, loc + ("subtotals", index), "report.unknown_column")
        if spec.limit is not None:
            yield Problem(
                loc + ("subtotals",),
                "report.subtotals_with_limit",
                "subtotals over rows a `limit` leaves out would not add up",
            )
    if spec.pivot is not None and spec.pivot not in keys:
        yield unknown_name("dimension", spec.pivot, keys, loc + ("pivot",), "report.unknown_column")
    if spec.chart is not None and spec.chart.type == "heatmap" and spec.kind == "table" and len(keys) != 2:
        yield Problem(
            loc + ("chart", "type"),
            "report.heatmap_needs_two_dimensions",
            f"a heat map is a grid of two dimensions (its columns and rows); the report has {len(keys)}",
            "group by two, such as {field: starts_at, by: weekday} and {field: starts_at, by: hour}",
        )
    if spec.forecast is not None:
        yield from _forecast(spec, loc + ("forecast",))
    if spec.cohort is not None:
        yield from _cohort(ctx, spec, loc)


def _forecast(spec: ReportSpec, at: Loc) -> Iterator[Problem]:
    from .checks_reports import unknown_name

    assert spec.forecast is not None
    dimension = spec.dimensions[0] if len(spec.dimensions) == 1 else None
    if dimension is None or dimension.by not in ("day", "week"):
        yield Problem(
            at,
            "report.bad_forecast",
            "a forecast continues one series of days or weeks: the report needs exactly one dimension by day or week",
        )
    elif spec.forecast.season == "weekday" and dimension.by != "day":
        yield Problem(
            at + ("season",), "report.bad_forecast", "`season: weekday` needs day buckets", "use `season: none`"
        )
    if spec.sort or spec.limit is not None or spec.pivot is not None:
        yield Problem(at, "report.bad_forecast", "a forecast follows the series in time: no `sort`, `limit` or `pivot`")
    counts = [m for m, s in spec.measures.items() if s.agg in ("count", "count_distinct")]
    if spec.forecast.measure is not None:
        measure = spec.measures.get(spec.forecast.measure)
        if measure is None:
            yield unknown_name(
                "measure", spec.forecast.measure, spec.measures, at + ("measure",), "report.unknown_measure"
            )
        elif measure.agg is None:
            yield Problem(at + ("measure",), "report.bad_forecast", "a forecast averages an aggregate, not an `expr`")
    elif not counts:
        yield Problem(at, "report.bad_forecast", "no count measure to forecast", "name one with `measure:`")


def _cohort(ctx: object, spec: ReportSpec, loc: Loc) -> Iterator[Problem]:
    from .checks_reports import ReportContext, _path

    assert isinstance(ctx, ReportContext) and spec.cohort is not None
    at = loc + ("cohort",)
    subject, problems = _path(ctx, spec.source, spec.cohort.subject, at + ("subject",))
    yield from problems
    if subject is not None and not subject.is_link:
        message = f"the subject is a link to whom the events happen (patient); `{spec.cohort.subject}` is not a link"
        yield Problem(at + ("subject",), "report.bad_cohort", message)
    anchor, problems = _path(ctx, spec.source, spec.cohort.anchor, at + ("anchor",))
    yield from problems
    if anchor is not None and anchor.spec.type not in DATES:
        message = f"`{spec.cohort.anchor}` is not a date, so it cannot place events in months"
        yield Problem(at + ("anchor",), "report.not_a_date", message)
    for name, param in spec.parameters.items():
        if param.type == "date_range" and param.field != spec.cohort.anchor:
            yield Problem(
                loc + ("parameters", name, "field"),
                "report.bad_cohort",
                f"a cohort's date range picks cohorts by their first event: it is on the anchor `{spec.cohort.anchor}`",
            )
