"""Meaning checks of one report: its source, paths, measures, filters, parameters and examples.

Finds what would make the report's SQL wrong or meaningless before it ever runs:
unknown entities, fields and link paths, aggregates on the wrong type (a sum of
a text), encrypted fields used as anything but a count, expression measures that
name unknown measures or go round in a cycle, filters outside the translatable
subset, and parameters whose field or default does not fit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from engines.forms import EntitySpec, check_localized, field_type
from engines.rules import Loc, Problem, did_you_mean

from .checks_kinds import check_kinds, result_columns
from .measure_expr import measure_names
from .paths import FieldPath, PathError, resolve_path
from .periods import PeriodError, period_range
from .report_spec import ReportSpec
from .where_sql import WhereError, compile_where

NUMBERS = ("integer", "decimal")
ORDERED = NUMBERS + ("date", "datetime")
DATES = ("date", "datetime")
NOT_GROUPABLE = ("table", "multi_select")
# Names the app's own report pages take: `POST /api/reports/preview` and `/reports/designer`.
RESERVED_NAMES = frozenset({"designer", "preview"})


@dataclass(frozen=True)
class ReportContext:
    """The blueprint-wide facts report checks need."""

    entities: Mapping[str, EntitySpec]
    roles: frozenset[str]
    locales: frozenset[str] | None = None


def unknown_name(kind: str, name: str, candidates: object, loc: Loc, code: str) -> Problem:
    """An unknown-name problem with a did-you-mean hint, or the known names when they are few."""
    names = sorted(candidates)  # type: ignore[call-overload]
    hint = did_you_mean(name, names)
    if hint is None and 0 < len(names) <= 8:
        hint = f"known: {', '.join(names)}"
    return Problem(loc, code, f"unknown {kind} `{name}`", hint)


def check_report(ctx: ReportContext, name: str, spec: ReportSpec) -> Iterator[Problem]:
    """Every problem of report `name`, located from the blueprint root."""
    loc: Loc = ("reports", name)
    if name in RESERVED_NAMES:
        message = f"a report cannot be called `{name}`: /reports/{name} and /api/reports/{name} are the app's own"
        yield Problem(loc, "report.reserved_name", message, "choose another name")
    if spec.source not in ctx.entities:
        yield unknown_name("entity", spec.source, ctx.entities, loc + ("source",), "report.unknown_entity")
        return
    if spec.title is not None:
        yield from check_localized(spec.title, loc + ("title",), ctx.locales)
    keys: dict[str, Loc] = {}
    for index, dimension in enumerate(spec.dimensions):
        at = loc + ("dimensions", index)
        yield from _dimension(ctx, spec, dimension.field, dimension.by, at)
        if dimension.key in keys:
            yield Problem(
                at, "report.duplicate_name", f"two columns are called `{dimension.key}`", "give one a `name:`"
            )
        keys[dimension.key] = at
    for measure in spec.measures:
        if measure in keys:
            yield Problem(
                loc + ("measures", measure),
                "report.duplicate_name",
                f"measure `{measure}` has the name of a dimension",
                "rename the measure, or give the dimension a `name:`",
            )
    yield from _measures(ctx, spec, loc)
    for index, source in enumerate(spec.filters):
        yield from _where(ctx, spec.source, source, loc + ("filters", index))
    yield from _parameters(ctx, spec, loc)
    yield from check_kinds(ctx, spec, loc)
    columns = result_columns(spec)
    measures = set(spec.measures) if spec.kind == "table" else {"cohort_size", "active", "retention"}
    for index, item in enumerate(spec.sort):
        if item.lstrip("-") not in columns:
            yield unknown_name("column", item.lstrip("-"), columns, loc + ("sort", index), "report.unknown_column")
    if spec.chart is not None:
        for axis in ("x", "series"):
            value = getattr(spec.chart, axis)
            if value is not None and value not in columns:
                yield unknown_name("column", value, columns, loc + ("chart", axis), "report.unknown_column")
        ys = [spec.chart.y] if isinstance(spec.chart.y, str) else spec.chart.y or []
        for y in ys:
            if y not in measures:
                yield unknown_name("measure", y, measures, loc + ("chart", "y"), "report.unknown_measure")
    yield from _examples(ctx, spec, columns, loc)


def _path(ctx: ReportContext, source: str, text: str, loc: Loc) -> tuple[FieldPath | None, list[Problem]]:
    try:
        return resolve_path(ctx.entities, source, text), []
    except PathError as exc:
        hint = did_you_mean(exc.name, exc.candidates) if exc.candidates else None
        return None, [Problem(loc, "report.unknown_field", str(exc), hint)]


def _dimension(ctx: ReportContext, spec: ReportSpec, text: str, by: str | None, loc: Loc) -> Iterator[Problem]:
    path, problems = _path(ctx, spec.source, text, loc + ("field",))
    yield from problems
    if path is None:
        return
    if path.spec.encrypted:
        yield Problem(
            loc + ("field",),
            "report.encrypted_field",
            f"`{text}` is encrypted; it cannot be a dimension",
            "encrypted values are only counted",
        )
    elif path.spec.type in NOT_GROUPABLE or not path.stored:
        yield Problem(loc + ("field",), "report.not_groupable", f"a `{path.spec.type}` field cannot be a dimension")
    elif by is not None and path.spec.type not in DATES:
        yield Problem(loc + ("by",), "report.not_a_date", f"`{text}` is not a date, so it has no `by: {by}`")
    elif by == "hour" and path.spec.type != "datetime":
        yield Problem(loc + ("by",), "report.hour_of_a_date", f"`{text}` is a date without a time: it has no hour")
    elif by is None and path.spec.type == "datetime":
        yield Problem(
            loc + ("field",),
            "report.datetime_needs_bucket",
            f"`{text}` is a moment; group it by a time bucket",
            "write {field: " + text + ", by: day} (or week, month, quarter, year)",
        )


def _measures(ctx: ReportContext, spec: ReportSpec, loc: Loc) -> Iterator[Problem]:
    for name, measure in spec.measures.items():
        at = loc + ("measures", name)
        if not _is_name(name):
            yield Problem(at, "report.measure_name", f"`{name}` is not a valid measure name", "use lower_case_words")
        if measure.expr is not None:
            try:
                refs = measure_names(measure.expr)
            except WhereError as exc:
                yield Problem(at + ("expr",), "report.bad_expression", str(exc), exc.hint, exc.column)
                continue
            for ref, column in refs:
                if ref not in spec.measures:
                    known = [m for m in spec.measures if m != name]
                    yield Problem(
                        at + ("expr",),
                        "report.unknown_measure",
                        f"unknown measure `{ref}`",
                        did_you_mean(ref, known),
                        column,
                    )
            continue
        if measure.field is not None:
            path, problems = _path(ctx, spec.source, measure.field, at + ("field",))
            yield from problems
            if path is not None:
                yield from _aggregate_type(measure.agg or "count", path, at + ("field",))
        if measure.where is not None:
            yield from _where(ctx, spec.source, measure.where, at + ("where",))
    yield from _cycles(spec, loc)


def _aggregate_type(agg: str, path: FieldPath, loc: Loc) -> Iterator[Problem]:
    kind = path.spec.type
    if path.spec.encrypted and agg != "count":
        yield Problem(
            loc, "report.encrypted_field", f"`{path.text}` is encrypted; it can only be counted", "use `agg: count`"
        )
    elif not path.stored or (kind in NOT_GROUPABLE and agg != "count"):
        yield Problem(loc, "report.wrong_type", f"`{agg}` cannot be taken of a `{kind}` field")
    elif agg in ("sum", "avg", "median") and kind not in NUMBERS:
        yield Problem(loc, "report.wrong_type", f"`{agg}` needs a number; `{path.text}` is a `{kind}` field")
    elif agg in ("min", "max") and kind not in ORDERED:
        yield Problem(loc, "report.wrong_type", f"`{agg}` needs a number or a date; `{path.text}` is a `{kind}` field")


def _cycles(spec: ReportSpec, loc: Loc) -> Iterator[Problem]:
    refs: dict[str, list[str]] = {}
    for name, measure in spec.measures.items():
        if measure.expr is not None:
            try:
                refs[name] = [r for r, _ in measure_names(measure.expr) if r in spec.measures]
            except WhereError:
                refs[name] = []
    reported: set[str] = set()
    for start in refs:
        stack, seen = [(start, [start])], set()
        while stack:
            current, trail = stack.pop()
            for ref in refs.get(current, []):
                if ref == start and start not in reported:
                    reported.update(trail)
                    yield Problem(
                        loc + ("measures", start, "expr"),
                        "report.measure_cycle",
                        f"measure `{start}` depends on itself: {' -> '.join(trail + [start])}",
                    )
                elif ref not in seen:
                    seen.add(ref)
                    stack.append((ref, trail + [ref]))


def _where(ctx: ReportContext, source: str, text: str, loc: Loc) -> Iterator[Problem]:
    def resolve(path_text: str) -> sa.ColumnElement:
        try:
            path = resolve_path(ctx.entities, source, path_text)
        except PathError as exc:
            hint = did_you_mean(exc.name, exc.candidates) if exc.candidates else None
            raise WhereError(str(exc), 0, hint) from None
        if path.spec.encrypted:
            raise WhereError(f"`{path_text}` is encrypted; a report cannot filter on it")
        if not path.stored or path.spec.type in NOT_GROUPABLE:
            raise WhereError(f"a `{path.spec.type}` field cannot be compared in a report filter")
        return sa.column(path_text, field_type(path.spec.type).column_type(path.spec))

    try:
        compile_where(text, resolve)
    except WhereError as exc:
        yield Problem(loc, "report.bad_filter", str(exc), exc.hint, exc.column)


def _parameters(ctx: ReportContext, spec: ReportSpec, loc: Loc) -> Iterator[Problem]:
    wanted = {"date_range": DATES, "link": ("link",), "select": ("select", "state", "boolean")}
    for name, param in spec.parameters.items():
        at = loc + ("parameters", name)
        if not _is_name(name):
            yield Problem(at, "report.parameter_name", f"`{name}` is not a valid parameter name")
        path, problems = _path(ctx, spec.source, param.field, at + ("field",))
        yield from problems
        if path is None:
            continue
        if path.spec.encrypted:
            message = f"`{param.field}` is encrypted; it cannot be a parameter"
            yield Problem(at + ("field",), "report.encrypted_field", message)
        elif path.spec.type not in wanted[param.type]:
            yield Problem(
                at + ("field",),
                "report.wrong_type",
                f"a `{param.type}` parameter needs a {' or '.join(wanted[param.type])} field; "
                f"`{param.field}` is a `{path.spec.type}` field",
            )
        elif param.default is not None:
            yield from _default(param.type, param.default, path, at + ("default",))


def _default(kind: str, value: object, path: FieldPath, loc: Loc) -> Iterator[Problem]:
    if kind == "date_range":
        try:
            period_range(str(value), dt.date(2000, 1, 1))
        except PeriodError as exc:
            yield Problem(loc, "report.bad_default", str(exc))
    elif kind == "select" and path.spec.options is not None and value not in path.spec.options:
        yield unknown_name("option", str(value), path.spec.options, loc, "report.bad_default")
    elif kind == "link" and not isinstance(value, int):
        yield Problem(loc, "report.bad_default", "a link parameter's default is a record id (a whole number)")


def _examples(ctx: ReportContext, spec: ReportSpec, columns: set[str], loc: Loc) -> Iterator[Problem]:
    measures = set(spec.measures)
    for index, example in enumerate(spec.examples):
        at = loc + ("examples", index)
        for entity in example.given:
            if entity not in ctx.entities:
                yield unknown_name("entity", entity, ctx.entities, at + ("given", entity), "report.unknown_entity")
        for param in example.params:
            if param not in spec.parameters:
                where = at + ("params", param)
                yield unknown_name("parameter", param, spec.parameters, where, "report.unknown_parameter")
        for row_index, row in enumerate(example.expect):
            for column in row:
                pivoted = spec.pivot is not None and column.split("__")[0] in spec.measures
                if column not in columns and not pivoted and not (column == "_subtotal" and spec.subtotals):
                    where = at + ("expect", row_index, column)
                    yield unknown_name("column", column, columns, where, "report.unknown_column")
        for column in [*(example.totals or {}), *(example.previous or {})]:
            if column not in measures:
                yield unknown_name("measure", column, spec.measures, at + ("totals", column), "report.unknown_measure")


def _is_name(name: str) -> bool:
    import re

    return re.fullmatch(r"[a-z][a-z0-9_]{0,62}", name) is not None
