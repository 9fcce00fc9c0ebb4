"""Forecast rows after a day or week series: seasonal averages, with their error on past weeks.

The method, stated so a manager can judge it: the forecast for a future day is
the average of the same weekday over the last `history` complete weeks
(`season: weekday`), or the average of the last `history` weeks' buckets
(`season: none`). No trend, no holidays, no school terms. History is the
buckets before today's (today is not over); forecasts start at today's bucket,
so a day with appointments already booked shows both the booked count and the
forecast (a series that ends before today is continued right after its end).
The error is measured by a backtest: the last 4 weeks of history are held out,
forecast from the weeks before them by the same method, and compared with what
happened (MAE: the average miss per bucket; MAPE: the average miss as
a share of the actual, over buckets with any records).

For a viewer who may not read the records, a forecast built from a hidden cell
is hidden too (an average of shown cells and one hidden cell gives it back),
and so is the backtest when it touched a hidden cell.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .buckets import bucket_of, next_bucket, shift_bucket
from .report_spec import ForecastSpec
from .suppression import Suppressed

HOLDOUT_WEEKS = 4


@dataclass(frozen=True)
class ForecastInfo:
    """How a forecast was made and how wrong the method was on the weeks held out."""

    measure: str
    method: str
    season: str
    history_weeks: int
    periods: int
    backtest_buckets: int
    mae: float | None
    mape: float | None


def _predict(history: Mapping[dt.date, Any], target: dt.date, by: str, spec: ForecastSpec, until: dt.date) -> Any:
    """The forecast for bucket `target` from the history buckets before `until` (a Suppressed when one is hidden)."""
    step = 7 if by == "day" else 1
    first = shift_bucket(until, by, -step * spec.history)
    used = [
        value
        for bucket, value in history.items()
        if first <= bucket < until and (spec.season == "none" or by != "day" or bucket.weekday() == target.weekday())
    ]
    if any(isinstance(value, Suppressed) for value in used):
        return next(value for value in used if isinstance(value, Suppressed))
    numbers = [value for value in used if isinstance(value, (int, float))]
    return round(sum(numbers) / len(numbers), 2) if numbers else None


def forecast(
    rows: Sequence[Mapping[str, Any]], time_key: str, by: str, spec: ForecastSpec, measure: str, today: dt.date
) -> tuple[list[tuple[dt.date, Any]], ForecastInfo]:
    """The next `spec.periods` buckets from today's, each with its forecast, and the method's backtest."""
    found = [row[time_key] for row in rows if row[time_key] is not None]
    start = bucket_of(today, by)
    if found and next_bucket(max(found), by) < start:
        start = next_bucket(max(found), by)  # a series that ends before today is continued right after its end
    history = {row[time_key]: row[measure] for row in rows if row[time_key] is not None and row[time_key] < start}
    future, bucket = [], start
    for _ in range(spec.periods):
        future.append((bucket, _predict(history, bucket, by, spec, start)))
        bucket = next_bucket(bucket, by)
    holdout = shift_bucket(start, by, -(7 if by == "day" else 1) * HOLDOUT_WEEKS)
    errors, shares, hidden = [], [], False
    bucket = holdout
    while bucket < start:
        actual, guess = history.get(bucket), _predict(history, bucket, by, spec, holdout)
        if isinstance(actual, Suppressed) or isinstance(guess, Suppressed):
            hidden = True
        elif isinstance(actual, (int, float)) and isinstance(guess, (int, float)):
            errors.append(abs(actual - guess))
            if actual:
                shares.append(abs(actual - guess) / actual)
        bucket = next_bucket(bucket, by)
    mae = None if hidden or not errors else round(sum(errors) / len(errors), 2)
    mape = None if hidden or not shares else round(sum(shares) / len(shares), 4)
    info = ForecastInfo(measure, spec.method, spec.season, spec.history, spec.periods, len(errors), mae, mape)
    return future, info


def describe(info: ForecastInfo, by: str) -> str:
    """The note a result carries: the method in words and its error."""
    unit = "day" if by == "day" else "week"
    how = (
        f"the average of the same weekday over the last {info.history_weeks} weeks"
        if info.season == "weekday" and by == "day"
        else f"the average {unit} over the last {info.history_weeks} weeks"
    )
    text = f"Forecast of {info.measure}: {how}, no trend."
    if info.mae is None:
        return text + " Its error on past weeks is not known (too little history, or hidden cells)."
    error = f" On the last {HOLDOUT_WEEKS} weeks held out it missed by {info.mae} a {unit} on average"
    return text + error + (f" (MAPE {info.mape:.0%})." if info.mape is not None else ".")
