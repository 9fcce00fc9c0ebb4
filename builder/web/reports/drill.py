"""Drill-down: from a report's cell to the records behind it, on the source entity's normal list page.

Offered only to a role that may read the source records and filter the list by
every field involved (so the list shows the group, not a refusal); a role with
`report: true` alone (aggregates only) never gets a link. The list page is the
usual one, so the records viewed are audited like any list.

A group becomes list filters: a time bucket a range (`starts_at__gte`,
`starts_at__lt`), a link its id, an option or a boolean its value; the report's
parameters (the period, a doctor, a channel) are added the same way. Paths across
links, empty groups and buckets the list cannot express get no link. The report's
fixed `filters` and a measure's `where` are not list filters: the list shows
every record of the group (e.g. all due appointments of a week, not only the
no-shows), as the docs say.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from builder.records import RecordService
from builder.records.policy import Grant
from builder.records.querying import SYSTEM_MOMENTS
from engines.reports import PeriodError, ReportSpec, period_range

from .labels import bucket_range

RANGE_TYPES = ("date", "datetime")


def _stamp(day: dt.date, kind: str) -> str:
    return day.isoformat() if kind == "date" else f"{day.isoformat()}T00:00"


class DrillDown:
    """Builds list URLs for the groups of one report run, or says there are none (`enabled`)."""

    def __init__(
        self, service: RecordService, grant: Grant, spec: ReportSpec, params: Mapping[str, Any], today: dt.date
    ):
        self.spec = spec
        self.entity = service.entities[spec.source]
        self.base = f"/records/{spec.source}"
        self.fixed: dict[str, str] | None = {}
        self.enabled = grant.allows("read") and self._filterable(grant)
        if self.enabled:
            self.fixed = self._parameters(params, today)
            self.enabled = self.fixed is not None

    def _kind(self, name: str) -> str | None:
        """The type of a source field the list can filter on (`None`: it cannot)."""
        if "." in name:
            return None
        if name in SYSTEM_MOMENTS and name not in self.entity.fields:
            return "datetime"
        field = self.entity.fields.get(name)
        if field is None or not field.kind.stored or field.spec.encrypted or field.spec.sensitive:
            return None
        return field.spec.type

    def _filterable(self, grant: Grant) -> bool:
        names = [d.field for d in self.spec.dimensions] + [p.field for p in self.spec.parameters.values()]
        for name in names:
            if self._kind(name) is None:
                return False
            if name not in grant.readable and name not in SYSTEM_MOMENTS:
                return False
        return True

    def _parameters(self, params: Mapping[str, Any], today: dt.date) -> dict[str, str] | None:
        filters: dict[str, str] = {}
        for name, parameter in self.spec.parameters.items():
            value = params.get(name, parameter.default)
            if value in (None, ""):
                continue
            kind = self._kind(parameter.field) or ""
            if parameter.type == "date_range":
                try:
                    start, end = period_range(str(value), today)
                except PeriodError:
                    return None
                if start is not None:
                    filters[f"{parameter.field}__gte"] = _stamp(start, kind)
                if end is not None:
                    filters[f"{parameter.field}__lt"] = _stamp(end, kind)
            else:
                filters[parameter.field] = str(value).lower() if kind == "boolean" else str(value)
        return filters

    def _group(self, row: Mapping[str, Any]) -> dict[str, str] | None:
        filters: dict[str, str] = {}
        for dimension in self.spec.dimensions:
            value = row.get(dimension.key)
            if value is None or value == "":
                return None  # an empty group: the list has no "is empty" filter
            kind = self._kind(dimension.field) or ""
            if dimension.by is not None:
                bounds = bucket_range(str(value), dimension.by)
                if bounds is None or kind not in RANGE_TYPES:
                    return None
                filters[f"{dimension.field}__gte"] = _stamp(bounds[0], kind)
                filters[f"{dimension.field}__lt"] = _stamp(bounds[1], kind)
            elif kind == "boolean":
                filters[dimension.field] = "true" if value else "false"
            else:
                filters[dimension.field] = str(value)
        return filters

    def url(self, row: Mapping[str, Any] | None) -> str | None:
        """The list of the records behind `row`'s group (None: the totals row, i.e. the whole report)."""
        if not self.enabled or self.fixed is None:
            return None
        filters = dict(self.fixed)
        if row is not None:
            group = self._group(row)
            if group is None:
                return None
            for key, value in group.items():
                if key.endswith("__gte") and key in filters:
                    value = max(value, filters[key])
                if key.endswith("__lt") and key in filters:
                    value = min(value, filters[key])
                filters[key] = value
        return f"{self.base}?{urlencode(filters)}" if filters else self.base
