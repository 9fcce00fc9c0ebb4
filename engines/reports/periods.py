"""Date-range parameters: a named period (`last_12_months`) or `FROM..TO`, as a half-open range.

Periods are whole calendar units in the app's local time (stored datetimes are
naive local times already): `last_12_months` is the current month and the eleven
before it, `last_30_days` today and the 29 days before. The range is [start, end):
the end is the first day not included, so a datetime at 23:59 on the last day counts.
"""

from __future__ import annotations

import datetime as dt

from .report_spec import PERIODS


class PeriodError(ValueError):
    """A date-range value that is neither a known period nor `FROM..TO`."""


def _month_start(day: dt.date, back: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def period_range(value: str, today: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """[start, end) of `value` relative to `today`; (None, None) for `all`."""
    if ".." in value:
        first, _, last = value.partition("..")
        try:
            start = dt.date.fromisoformat(first.strip()) if first.strip() else None
            end = dt.date.fromisoformat(last.strip()) + dt.timedelta(days=1) if last.strip() else None
        except (ValueError, OverflowError):  # OverflowError: the day after 9999-12-31
            raise PeriodError(f"`{value}` is not a range of ISO dates (2026-01-01..2026-03-31)") from None
        if start and end and end <= start:
            raise PeriodError(f"`{value}` ends before it starts")
        return start, end
    quarter = _month_start(today, (today.month - 1) % 3)
    ranges = {
        "all": (None, None),
        "today": (today, today + dt.timedelta(days=1)),
        "last_7_days": (today - dt.timedelta(days=6), today + dt.timedelta(days=1)),
        "last_30_days": (today - dt.timedelta(days=29), today + dt.timedelta(days=1)),
        "this_month": (_month_start(today), _month_start(today, -1)),
        "last_month": (_month_start(today, 1), _month_start(today)),
        "last_3_months": (_month_start(today, 2), _month_start(today, -1)),
        "last_12_months": (_month_start(today, 11), _month_start(today, -1)),
        "this_quarter": (quarter, _month_start(quarter, -3)),
        "this_year": (dt.date(today.year, 1, 1), dt.date(today.year + 1, 1, 1)),
        "last_year": (dt.date(today.year - 1, 1, 1), dt.date(today.year, 1, 1)),
    }
    if value not in ranges:
        raise PeriodError(f"unknown period `{value}`; use one of {', '.join(PERIODS)} or FROM..TO")
    return ranges[value]
