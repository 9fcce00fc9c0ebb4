"""The pydantic models of the `reports:` section: a question about one entity's records.

A report names its source entity, the dimensions it groups by (a field, a field
across links, a date cut into time buckets), the measures it computes per group
(aggregates, filtered aggregates, expressions over other measures), fixed
filters and the parameters a viewer sets. Measures and parameters are mappings
keyed by name, like fields, so a name written twice is an error of the source.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from engines.forms import LocalizedText
from engines.forms.models import Spec

from .schedule_spec import ReportScheduleSpec

TIME_BUCKETS = ("day", "week", "month", "quarter", "year")
AGGREGATES = ("count", "count_distinct", "sum", "avg", "min", "max", "median")
FORMATS = ("number", "percent", "integer")
CHART_TYPES = ("line", "bar", "stacked_bar", "pie", "table", "kpi", "heatmap")
PERIODS = (
    "all",
    "today",
    "last_7_days",
    "last_30_days",
    "this_month",
    "last_month",
    "last_3_months",
    "last_12_months",
    "this_quarter",
    "this_year",
    "last_year",
)

NAME = r"^[a-z][a-z0-9_]*$"


class DimensionSpec(Spec):
    """A grouping: a field of the source (`doctor`), across links (`patient.primary_doctor`), or a time bucket.

    Written as a plain text (`doctor`) or as a mapping (`{field: visited_at, by: month}`).
    `name` is the result column; it defaults to the last part of the path.
    """

    field: str = Field(min_length=1)
    by: Literal["day", "week", "month", "quarter", "year"] | None = None
    name: str | None = Field(default=None, pattern=NAME)
    label: LocalizedText | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"field": value} if isinstance(value, str) else value

    @property
    def key(self) -> str:
        """The dimension's column name in the result."""
        return self.name or self.field.rsplit(".", 1)[-1]


class MeasureSpec(Spec):
    """One number per group: an aggregate (`agg`, optional `field` and `where`) or an `expr` over other measures."""

    agg: Literal["count", "count_distinct", "sum", "avg", "min", "max", "median"] | None = None
    field: str | None = None
    where: str | None = None
    expr: str | None = None
    label: LocalizedText | None = None
    format: Literal["number", "percent", "integer"] = "number"

    @model_validator(mode="after")
    def _agg_or_expr(self) -> MeasureSpec:
        if (self.agg is None) == (self.expr is None):
            raise ValueError("a measure has either `agg` (with `field`, `where`) or `expr`, not both")
        if self.expr is not None and (self.field is not None or self.where is not None):
            raise ValueError("an `expr` measure combines other measures; put `field` and `where` on those")
        if self.agg not in (None, "count") and self.field is None:
            raise ValueError(f"`{self.agg}` needs a `field`")
        return self


class ParameterSpec(Spec):
    """A value the viewer sets, applied as a filter on `field`.

    `date_range` takes a period name (`last_12_months`) or `FROM..TO` (ISO dates,
    TO included); `link` a record id; `select` one of the field's options.
    """

    type: Literal["date_range", "link", "select"]
    field: str = Field(min_length=1)
    default: str | int | None = None
    label: LocalizedText | None = None


class ChartSpec(Spec):
    """How the report is drawn (the dashboards session renders it): axes name dimensions and measures."""

    type: Literal["line", "bar", "stacked_bar", "pie", "table", "kpi", "heatmap"] = "table"
    x: str | None = None
    y: str | list[str] | None = None
    series: str | None = None


class ReportExampleSpec(Spec):
    """A test inside the report: given rows per entity, the expected result rows.

    Rows in `expect` list the columns they check (dimensions and measures); the
    report must give exactly these groups, in any order unless the report sorts.
    """

    given: dict[str, list[dict[str, Any]]]
    params: dict[str, Any] = Field(default_factory=dict)
    now: dt.datetime | dt.date | None = None
    expect: list[dict[str, Any]]
    totals: dict[str, Any] | None = None


class ReportSpec(Spec):
    """One report: a source entity grouped by dimensions, with measures per group."""

    title: LocalizedText | None = None
    description: LocalizedText | None = None
    source: str
    dimensions: list[DimensionSpec] = Field(default_factory=list, max_length=3)
    measures: dict[str, MeasureSpec]
    filters: list[str] = Field(default_factory=list)
    parameters: dict[str, ParameterSpec] = Field(default_factory=dict)
    sort: list[str] = Field(default_factory=list)
    limit: int | None = Field(default=None, gt=0, le=100_000)
    totals: bool = False
    min_cell: int = Field(default=5, ge=2, le=1000)
    chart: ChartSpec | None = None
    examples: list[ReportExampleSpec] = Field(default_factory=list)
    schedule: ReportScheduleSpec | None = None  # mailed on a cron schedule (schedule_spec.py)

    @field_validator("measures")
    @classmethod
    def _some_measure(cls, value: dict[str, MeasureSpec]) -> dict[str, MeasureSpec]:
        if not value:
            raise ValueError("a report needs at least one measure")
        return value

    @property
    def time_dimension(self) -> DimensionSpec | None:
        """The first dimension cut into time buckets, if any."""
        return next((d for d in self.dimensions if d.by is not None), None)
