"""A report's result as a page shows it: labelled columns, cells in words, the chart's data, drill links.

Built generically from the engine's `ReportResult` (columns of kind dimension,
title or measure; rows; totals; how many cells were hidden), so report kinds
added later render without changes here: an unknown column kind is shown as a
number, a boolean column named `forecast` marks rows drawn dashed, a heat map is
x, y and a value. A hidden cell is `<5` in the table and a gap in the chart; its
value is never written into the page or its JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from builder.records import RecordService
from engines.forms import FieldSpec, localized
from engines.reports import CardSpec, PathError, ReportResult, ReportSpec, Suppressed, resolve_path

from .labels import bucket_text, number_text, value_text

FORECAST = "forecast"  # a boolean column some report kinds add: the row is a forecast, drawn dashed
SERIES_CHARTS = ("line", "bar", "stacked_bar")


@dataclass
class ColumnView:
    name: str
    label: str
    kind: str  # dimension | measure
    format: str | None = None


@dataclass
class Cell:
    text: str
    url: str | None = None
    numeric: bool = False
    hidden: bool = False  # a suppressed cell: the text is `<5`, never the value


@dataclass
class RowView:
    cells: list[Cell]
    forecast: bool = False


@dataclass
class ReportView:
    name: str
    title: str
    description: str
    columns: list[ColumnView]
    rows: list[RowView]
    totals: RowView | None
    suppressed: int
    notes: list[str]
    chart: dict[str, Any] | None = None
    chart_type: str = "table"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Dimension:
    """What the view needs to say a dimension's value in words."""

    key: str
    label: str
    by: str | None
    spec: FieldSpec | None
    entity_title: str


def report_title(name: str, spec: ReportSpec, locale: str) -> str:
    return localized(spec.title, locale, name.replace("_", " ").capitalize())


def dimensions_of(service: RecordService, spec: ReportSpec, locale: str) -> dict[str, Dimension]:
    entities = {name: compiled.spec for name, compiled in service.entities.items()}
    found: dict[str, Dimension] = {}
    for dimension in spec.dimensions:
        try:
            path = resolve_path(entities, spec.source, dimension.field)
        except (PathError, KeyError):
            path = None
        field_spec = path.spec if path is not None else None
        fallback = localized(field_spec.label, locale, "") if field_spec is not None else ""
        label = localized(dimension.label, locale, fallback or dimension.key.replace("_", " ").capitalize())
        target = field_spec.to if field_spec is not None and field_spec.type == "link" else None
        title = ""
        if target and target in service.entities:
            title = localized(service.entities[target].spec.title, locale, target.replace("_", " ").capitalize())
        found[dimension.key] = Dimension(dimension.key, label, dimension.by, field_spec, title)
    return found


def dimension_text(
    dimension: Dimension | None,
    row: Mapping[str, Any],
    key: str,
    locale: str,
    labels: Mapping[Any, Any] | None = None,
) -> str:
    """A dimension's cell in words: the engine's value labels (weekdays, hours), then buckets, options, titles."""
    value = row.get(key)
    if labels and value in labels:
        return localized(labels[value], locale, str(value))
    if dimension is None:
        return value_text(None, value, locale)
    if dimension.by is not None:
        return bucket_text(value, dimension.by, locale)
    return value_text(dimension.spec, value, locale, title=row.get(f"{key}__title"), entity=dimension.entity_title)


def _plain(value: Any) -> Any:
    """A cell as chart data: numbers stay, a hidden or empty cell is a gap (never the hidden value)."""
    if isinstance(value, (Suppressed, bool)):
        return None
    return value if isinstance(value, (int, float)) else None


def build_view(
    service: RecordService,
    name: str,
    spec: ReportSpec,
    result: ReportResult,
    locale: str,
    *,
    drill: Callable[[Mapping[str, Any] | None], str | None] = lambda row: None,
    card: CardSpec | None = None,
    rows: list[dict[str, Any]] | None = None,
) -> ReportView:
    """The view of `result` (or of `rows`, a page of it); `drill(row)` gives a cell's records link."""
    shown = result.rows if rows is None else rows
    dimensions = dimensions_of(service, spec, locale)
    columns: list[ColumnView] = []
    for column in result.columns:
        if column.kind == "title" or column.name == FORECAST:
            continue
        if column.kind == "dimension":
            known = dimensions.get(column.name)
            label = known.label if known else localized(column.label, locale, column.name)
            columns.append(ColumnView(column.name, label, "dimension"))
        else:
            label = localized(column.label, locale, column.name.replace("_", " ").capitalize())
            columns.append(ColumnView(column.name, label, "measure", column.format))

    value_labels = {c.name: c.labels for c in result.columns if c.labels}

    def row_view(row: Mapping[str, Any], url: str | None, totals: bool = False) -> RowView:
        cells = []
        for column in columns:
            if column.kind == "dimension":
                text = (
                    ""
                    if totals
                    else dimension_text(
                        dimensions.get(column.name), row, column.name, locale, value_labels.get(column.name)
                    )
                )
                cells.append(Cell(text))
            else:
                value = row.get(column.name)
                hidden = isinstance(value, Suppressed)
                link = url if value is not None and not hidden else None
                cells.append(Cell(number_text(value, column.format, locale), link, True, hidden))
        return RowView(cells, bool(row.get(FORECAST)) and not totals)

    views = [row_view(row, drill(row)) for row in shown]
    totals = row_view(result.totals, drill(None), totals=True) if result.totals is not None else None
    view = ReportView(
        name,
        report_title(name, spec, locale),
        localized(spec.description, locale, ""),
        columns,
        views,
        totals,
        result.suppressed,
        list(result.notes),
    )
    view.chart_type = chart_type(spec, card)
    if view.chart_type not in ("table", "kpi"):
        view.chart = chart_data(spec, card, result, shown, columns, dimensions, locale, drill)
    return view


def chart_type(spec: ReportSpec, card: CardSpec | None = None) -> str:
    """The card's chart, else the report's, else a line over time, bars over groups, or a table."""
    if card is not None and card.chart is not None:
        return card.chart
    if spec.chart is not None:
        return spec.chart.type
    if spec.time_dimension is not None:
        return "line"
    return "bar" if spec.dimensions else "table"


def _measures_of(spec: ReportSpec, card: CardSpec | None, columns: list[ColumnView]) -> list[str]:
    measures = [c.name for c in columns if c.kind == "measure"]
    if card is not None and card.measure is not None:
        return [card.measure]
    wanted = spec.chart.y if spec.chart is not None else None
    if isinstance(wanted, str):
        return [wanted]
    if wanted:
        return list(wanted)
    return measures[:1]


def chart_data(
    spec: ReportSpec,
    card: CardSpec | None,
    result: ReportResult,
    rows: list[dict[str, Any]],
    columns: list[ColumnView],
    dimensions: Mapping[str, Dimension],
    locale: str,
    drill: Callable[[Mapping[str, Any] | None], str | None],
) -> dict[str, Any]:
    """What static/reports.js turns into an ECharts option: categories, series (with links), or heat-map cells."""
    kind = chart_type(spec, card)
    keys = [c.name for c in columns if c.kind == "dimension"]
    x = spec.chart.x if spec.chart is not None and spec.chart.x in keys else (keys[0] if keys else None)
    series_key = spec.chart.series if spec.chart is not None and spec.chart.series in keys else None
    if series_key is None and kind in (*SERIES_CHARTS, "heatmap"):
        series_key = next((k for k in keys if k != x), None)
    measures = _measures_of(spec, card, columns)
    by_name = {c.name: c for c in columns}
    first = by_name.get(measures[0]) if measures else None
    data: dict[str, Any] = {
        "type": kind,
        "format": first.format if first is not None else "number",
        "axis": first.label if first is not None else "",
        "x_label": dimensions[x].label if x is not None and x in dimensions else "",
    }

    value_labels = {c.name: c.labels for c in result.columns if c.labels}

    def text(row: Mapping[str, Any], key: str | None) -> str:
        if not key:
            return str(data["axis"])
        return dimension_text(dimensions.get(key), row, key, locale, value_labels.get(key))

    categories: list[str] = []
    for row in rows:
        label = text(row, x)
        if label not in categories:
            categories.append(label)
    data["categories"] = categories
    if kind == "heatmap":
        names: list[str] = []
        cells = []
        for row in rows:
            label = text(row, series_key)
            if label not in names:
                names.append(label)
            cells.append([categories.index(text(row, x)), names.index(label), _plain(row.get(measures[0])), drill(row)])
        values = [c[2] for c in cells if c[2] is not None]
        data.update(rows=names, cells=cells, min=min(values, default=0), max=max(values, default=0))
        data["y_label"] = dimensions[series_key].label if series_key is not None and series_key in dimensions else ""
        return data
    series: dict[str, dict[str, Any]] = {}

    def slot(name: str) -> dict[str, Any]:
        if name not in series:
            count = len(categories)
            series[name] = {"name": name, "data": [None] * count, "forecast": [False] * count, "links": [None] * count}
        return series[name]

    for row in rows:
        index = categories.index(text(row, x))
        for measure in measures:
            column = by_name.get(measure)
            if series_key is not None and len(measures) == 1:
                name = text(row, series_key)
            else:
                name = column.label if column is not None else measure
            target = slot(name)
            target["data"][index] = _plain(row.get(measure))
            target["forecast"][index] = bool(row.get(FORECAST))
            target["links"][index] = drill(row)
    data["series"] = list(series.values())
    data["has_forecast"] = any(any(s["forecast"]) for s in data["series"])
    return data


def embedded_json(data: Any) -> str:
    """JSON safe inside `<script type="application/json">`: no `<`, `>` or `&` (a title could hold `</script>`)."""
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
