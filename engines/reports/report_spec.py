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

from pydantic import ConfigDict, Field, model_validator

from engines.forms import LocalizedText
from engines.forms.models import Spec

from .schedule_spec import ReportScheduleSpec

TIME_BUCKETS = ("day", "week", "month", "quarter", "year")
CYCLE_BUCKETS = ("weekday", "hour")  # positions in a cycle, not a series: Monday..Sunday, 0..23
CHANGE_PERIODS = ("previous", "year_before")
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
    by: Literal["day", "week", "month", "quarter", "year", "weekday", "hour"] | None = None
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


class ChangeSpec(Spec):
    """A period-over-period change of another measure: against the previous bucket, or the same bucket a year before.

    `as: relative` gives (this - before) / before (0.1 is +10%); `as: difference`
    gives this - before (for a rate: the change in percentage points).
    """

    of: str = Field(min_length=1)
    period: Literal["previous", "year_before"] = "previous"
    as_: Literal["relative", "difference"] = Field(default="relative", alias="as")


class MeasureSpec(Spec):
    """One number per group: an aggregate (`agg`, optional `field` and `where`), an `expr` over other measures,
    or the `change` of a measure against an earlier time bucket."""

    agg: Literal["count", "count_distinct", "sum", "avg", "min", "max", "median"] | None = None
    field: str | None = None
    where: str | None = None
    expr: str | None = None
    change: ChangeSpec | None = None
    label: LocalizedText | None = None
    format: Literal["number", "percent", "integer"] = "number"

    @model_validator(mode="after")
    def _agg_or_expr(self) -> MeasureSpec:
        if sum(x is not None for x in (self.agg, self.expr, self.change)) != 1:
            raise ValueError("a measure has either `agg` (with `field`, `where`), `expr` or `change`: one of them")
        if self.change is not None and (self.field is not None or self.where is not None):
            raise ValueError("a `change` measure compares another measure; put `field` and `where` on that one")
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


class ForecastSpec(Spec):
    """Forecast rows after a day or week series: seasonal averages over the last `history` weeks.

    `season: weekday` (day buckets) averages the same weekday of each of the last
    `history` weeks; `season: none` averages the last `history` buckets. No trend,
    no holidays: a stated, simple method whose error on past weeks is reported.
    """

    periods: int = Field(ge=1, le=366)
    method: Literal["seasonal_average"] = "seasonal_average"
    season: Literal["weekday", "none"] = "weekday"
    history: int = Field(default=8, ge=1, le=104)  # weeks averaged
    measure: str | None = None  # default: the report's first count measure


class CohortSpec(Spec):
    """A cohort report: subjects (patients) grouped by the bucket of their first event, active in each later bucket."""

    subject: str = Field(min_length=1)  # a link of the source to the entity followed (patient)
    anchor: str = Field(min_length=1)  # the event's date or datetime (visited_at)
    by: Literal["month", "week"] = "month"
    periods: int = Field(default=12, ge=1, le=60)


class ReportExampleSpec(Spec):
    """A test inside the report: given rows per entity, the expected result rows.

    Rows in `expect` list the columns they check (dimensions and measures); the
    report must give exactly these groups, in any order unless the report sorts.
    """

    given: dict[str, list[dict[str, Any]]]
    params: dict[str, Any] = Field(default_factory=dict)
    now: dt.datetime | dt.date | None = None
    expect: list[dict[str, Any]]
    rows: int | None = Field(default=None, ge=0)  # when set: the result has this many rows, `expect` lists some
    totals: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None  # with `compare`: the measures over the period before


_KIND_SCHEMA: dict[str, Any] = {  # the JSON Schema's view of `_kind` below: editors see it too
    "if": {"properties": {"kind": {"const": "cohort"}}, "required": ["kind"]},
    "then": {"required": ["cohort"]},
    "else": {"required": ["measures"], "properties": {"measures": {"minProperties": 1}}},
}


class ReportSpec(Spec):
    """One report: a source entity grouped by dimensions, with measures per group (or a cohort table)."""

    model_config = ConfigDict(**Spec.model_config, json_schema_extra=_KIND_SCHEMA)

    title: LocalizedText | None = None
    description: LocalizedText | None = None
    kind: Literal["table", "cohort"] = "table"
    source: str
    dimensions: list[DimensionSpec] = Field(default_factory=list, max_length=3)
    measures: dict[str, MeasureSpec] = Field(default_factory=dict)
    filters: list[str] = Field(default_factory=list)
    parameters: dict[str, ParameterSpec] = Field(default_factory=dict)
    sort: list[str] = Field(default_factory=list)
    limit: int | None = Field(default=None, gt=0, le=100_000)
    totals: bool = False
    subtotals: bool | list[str] = False  # true: by the first dimension; or the dimensions named
    pivot: str | None = None  # a dimension whose values become columns
    compare: Literal["previous", "year_before"] | None = None  # totals over the period before (KPI change)
    forecast: ForecastSpec | None = None
    cohort: CohortSpec | None = None
    min_cell: int = Field(default=5, ge=2, le=1000)
    chart: ChartSpec | None = None
    examples: list[ReportExampleSpec] = Field(default_factory=list)
    schedule: ReportScheduleSpec | None = None  # mailed on a cron schedule (schedule_spec.py)

    @model_validator(mode="after")
    def _kind(self) -> ReportSpec:
        if self.kind == "cohort":
            if self.cohort is None:
                raise ValueError("a `kind: cohort` report needs `cohort: {subject, anchor, by, periods}`")
            if self.dimensions or self.measures or self.forecast or self.subtotals or self.pivot or self.compare:
                raise ValueError(
                    "a cohort report's columns are fixed (cohort, period, cohort_size, active, retention): "
                    "it has no `dimensions`, `measures`, `subtotals`, `pivot`, `compare` or `forecast`"
                )
        elif self.cohort is not None:
            raise ValueError("`cohort:` belongs to a `kind: cohort` report")
        elif not self.measures:
            raise ValueError("a report needs at least one measure")
        return self

    @property
    def time_dimension(self) -> DimensionSpec | None:
        """The first dimension cut into a time series (day to year), if any; weekday and hour are cycles."""
        return next((d for d in self.dimensions if d.by in TIME_BUCKETS), None)

    @property
    def sql_measures(self) -> dict[str, MeasureSpec]:
        """The measures computed in SQL (aggregates and expressions); `change` measures are computed after."""
        return {name: m for name, m in self.measures.items() if m.change is None}

    @property
    def subtotal_dimensions(self) -> list[str]:
        """The dimension columns that get subtotal rows."""
        if self.subtotals is True:
            return [self.dimensions[0].key] if len(self.dimensions) > 1 else []
        return list(self.subtotals or [])
