"""Period-over-period: `change` measures against an earlier bucket, and the KPI change against the period before.

A `change` measure is computed per group after the query (groups are few): each
row's bucket is compared with the bucket before it (`previous`) or the same
bucket a year before (`year_before`), among rows alike in the other dimensions.
When a date range cuts the series, the comparators of its first buckets lie
outside it: they come from the same report over the buckets before
(`CompiledReport.shifted`, a part of the report's one statement), never from a
guess. A comparator that is missing, empty or zero gives an empty change.

For a viewer who may not read the records a change is hidden wherever its
measure or the comparator is hidden: (this - before) / before with one side
shown would give the other back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from .buckets import bucket_label, shift_bucket, year_before
from .report_spec import MeasureSpec, ReportSpec
from .suppression import Suppressed

Key = tuple[Any, ...]


def change_value(now: Any, before: Any, how: str) -> float | None:
    """(now - before) / before, or now - before; empty when either side is not a number (or before is 0)."""
    if isinstance(now, Suppressed) or isinstance(before, Suppressed):
        return None
    if not isinstance(now, (int, float)) or not isinstance(before, (int, float)):
        return None
    if how == "difference":
        return round(now - before, 9)
    return None if before == 0 else round((now - before) / before, 9)


def comparator(bucket: dt.date, by: str, period: str) -> dt.date:
    """The bucket a `change` compares `bucket` with."""
    return shift_bucket(bucket, by, -1) if period == "previous" else year_before(bucket, by)


def change_measures(spec: ReportSpec) -> dict[str, MeasureSpec]:
    return {name: m for name, m in spec.measures.items() if m.change is not None}


def apply_changes(
    spec: ReportSpec,
    rows: Sequence[dict[str, Any]],
    time_key: str,
    by: str,
    keys: Sequence[str],
    shifted: Mapping[str, Sequence[Mapping[str, Any]]],
) -> dict[tuple[int, str], tuple[str, Any]]:
    """Fill each row's `change` measures in place (rows still hold bucket dates).

    Returns, per (row index, measure), where its comparator came from: ("row", index)
    in these rows, or ("shifted", the comparator cell) from the run over the buckets
    before; suppression uses it to hide changes whose comparator is hidden.
    """
    others = [k for k in keys if k != time_key]
    index: dict[Key, int] = {}
    for number, row in enumerate(rows):
        if row[time_key] is not None:
            index[(bucket_label(row[time_key], by), *(repr(row[k]) for k in others))] = number
    outside: dict[str, dict[Key, Mapping[str, Any]]] = {
        period: {(row[time_key], *(repr(row[k]) for k in others)): row for row in found}
        for period, found in shifted.items()
    }
    sources: dict[tuple[int, str], tuple[str, Any]] = {}
    for number, row in enumerate(rows):
        for name, measure in change_measures(spec).items():
            assert measure.change is not None
            row[name] = None
            if row[time_key] is None:
                continue
            before_bucket = comparator(row[time_key], by, measure.change.period)
            key = (bucket_label(before_bucket, by), *(repr(row[k]) for k in others))
            if key in index:  # shown in this result: the very cell the viewer sees
                before = rows[index[key]].get(measure.change.of)
                sources[(number, name)] = ("row", index[key])
            elif key in outside.get(measure.change.period, {}):
                before = outside[measure.change.period][key].get(measure.change.of)
                sources[(number, name)] = ("shifted", before)
            else:
                continue
            row[name] = change_value(row.get(measure.change.of), before, measure.change.as_)
    return sources


def hide_changes(
    spec: ReportSpec,
    rows: Sequence[dict[str, Any]],
    sources: Mapping[tuple[int, str], tuple[str, Any]],
    marker: Suppressed,
) -> int:
    """Hide the changes whose measure or comparator is hidden; return how many were hidden."""
    hidden = 0
    for number, row in enumerate(rows):
        for name, measure in change_measures(spec).items():
            assert measure.change is not None
            source = sources.get((number, name))
            mine = isinstance(row.get(measure.change.of), Suppressed)
            theirs = source is not None and (
                isinstance(source[1], Suppressed)
                if source[0] == "shifted"
                else isinstance(rows[source[1]].get(measure.change.of), Suppressed)
            )
            if mine or theirs:
                row[name] = marker
                hidden += 1
    return hidden


def kpi_changes(spec: ReportSpec, totals: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, float | None]:
    """Each SQL measure's change against the period before: points (a difference) for percents, else relative."""
    return {
        name: change_value(totals.get(name), previous.get(name), "difference" if m.format == "percent" else "relative")
        for name, m in spec.sql_measures.items()
    }
