"""Time buckets: a date or datetime cut to the first day of its day, week, month, quarter or year.

Stored datetimes are naive times in the app's own timezone (the datetime field
type converts on the way in), so a bucket is plain calendar arithmetic on the
stored value, with no timezone conversion in SQL. SQLite uses date() modifiers,
PostgreSQL date_trunc; both give the bucket's first day, a `date` in Python.
Weeks start on Monday (ISO 8601). Empty buckets are filled in Python afterwards:
that is work per bucket, never per source row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

WEEKDAYS = {
    1: {"en": "Monday", "zh-CN": "星期一"},
    2: {"en": "Tuesday", "zh-CN": "星期二"},
    3: {"en": "Wednesday", "zh-CN": "星期三"},
    4: {"en": "Thursday", "zh-CN": "星期四"},
    5: {"en": "Friday", "zh-CN": "星期五"},
    6: {"en": "Saturday", "zh-CN": "星期六"},
    7: {"en": "Sunday", "zh-CN": "星期日"},
}
CYCLES: dict[str, list[int]] = {"weekday": list(WEEKDAYS), "hour": list(range(24))}


def cycle_labels(by: str) -> dict[Any, Any] | None:
    """How each position of a cycle reads per locale (weekday names; hours as 09:00)."""
    if by == "weekday":
        return dict(WEEKDAYS)
    if by == "hour":
        return {hour: f"{hour:02d}:00" for hour in range(24)}
    return None


def cycle_sql(column: Any, by: str, dialect: str) -> Any:
    """The SQL giving `column`'s place in a cycle: ISO weekday 1 (Monday) to 7 (Sunday), or the hour 0 to 23."""
    if dialect == "postgresql":
        part = "isodow" if by == "weekday" else "hour"
        return sa.cast(sa.extract(part, sa.cast(column, sa.DateTime())), sa.Integer)
    if by == "weekday":  # strftime('%w') is 0 on Sunday
        return (sa.cast(sa.func.strftime("%w", column), sa.Integer) + 6) % 7 + 1
    return sa.cast(sa.func.strftime("%H", column), sa.Integer)


def bucket_sql(column: Any, by: str, dialect: str) -> Any:
    """The SQL giving the first day of `column`'s bucket (NULL stays NULL); a cycle's position for weekday, hour."""
    if by in CYCLES:
        return cycle_sql(column, by, dialect)
    if dialect == "postgresql":
        return sa.cast(sa.func.date_trunc(by, sa.cast(column, sa.DateTime())), sa.Date())
    if by == "day":
        return sa.func.date(column)
    if by == "week":  # on to the Sunday (itself on a Sunday), back to its Monday: two modifiers, no arithmetic
        return sa.func.date(column, "weekday 0", "-6 days")
    if by == "month":
        return sa.func.date(column, "start of month")
    if by == "quarter":
        back = (sa.cast(sa.func.strftime("%m", column), sa.Integer) - 1) % 3
        return sa.func.date(column, "start of month", sa.literal("-") + sa.cast(back, sa.Text) + sa.literal(" months"))
    if by == "year":
        return sa.func.date(column, "start of year")
    raise ValueError(f"unknown time bucket {by!r}")


def as_date(value: Any) -> dt.date | None:
    """A bucket value from either database as a date."""
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    return dt.date.fromisoformat(str(value)[:10])


def bucket_of(day: dt.date, by: str) -> dt.date:
    """The first day of `day`'s bucket, computed in Python (for filling and ranges)."""
    if by == "day":
        return day
    if by == "week":
        return day - dt.timedelta(days=day.weekday())
    if by == "month":
        return day.replace(day=1)
    if by == "quarter":
        return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return dt.date(day.year, 1, 1)


def shift_bucket(start: dt.date, by: str, steps: int) -> dt.date:
    """The first day of the bucket `steps` buckets after (negative: before) the one starting on `start`."""
    if by == "day":
        return start + dt.timedelta(days=steps)
    if by == "week":
        return start + dt.timedelta(days=7 * steps)
    months = {"month": 1, "quarter": 3, "year": 12}[by] * steps
    index = start.year * 12 + start.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def year_before(start: dt.date, by: str) -> dt.date:
    """The same bucket a year before: the same ISO week of the previous year for weeks, else 12 months back."""
    if by == "week":
        year, week, _ = start.isocalendar()
        try:
            return dt.date.fromisocalendar(year - 1, week, 1)
        except ValueError:  # week 53 in a year of 52
            return dt.date.fromisocalendar(year - 1, 52, 1)
    if by == "day":
        try:
            return start.replace(year=start.year - 1)
        except ValueError:  # 29 February
            return start.replace(year=start.year - 1, day=28)
    return shift_bucket(start, "month", -12)


def next_bucket(start: dt.date, by: str) -> dt.date:
    """The first day of the bucket after the one starting on `start`."""
    if by == "day":
        return start + dt.timedelta(days=1)
    if by == "week":
        return start + dt.timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[by]
    index = start.year * 12 + start.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def buckets_between(first: dt.date, last: dt.date, by: str) -> Iterator[dt.date]:
    """Every bucket start from `first`'s bucket to `last`'s, both included."""
    current, end = bucket_of(first, by), bucket_of(last, by)
    while current <= end:
        yield current
        current = next_bucket(current, by)


def bucket_label(start: dt.date, by: str) -> str:
    """How a bucket reads: 2026-03-02, 2026-W10, 2026-03, 2026-Q1, 2026."""
    if by == "day":
        return start.isoformat()
    if by == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if by == "month":
        return f"{start.year}-{start.month:02d}"
    if by == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return str(start.year)
