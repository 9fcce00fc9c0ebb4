"""Date and time functions: clinic rules are full of ages, intervals and deadlines.

today() and now() read the Evaluation's clock (the app timezone, or a pinned now).
Durations are Python timedeltas, except `months(n)` which is calendar-aware.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any

from .clock import Evaluation
from .errors import RuleError
from .functions import register_function

_DATES = ("date", "text")


@dataclass(frozen=True)
class Months:
    """A span of calendar months: Jan 31 + months(1) is Feb 28/29 (the day is clamped)."""

    count: int

    def shift(self, value: dt.date, sign: int = 1) -> dt.date:
        total = value.year * 12 + (value.month - 1) + sign * self.count
        year, month = divmod(total, 12)
        if not 1 <= year <= 9999:
            raise RuleError("the date would be out of range")
        day = min(value.day, calendar.monthrange(year, month + 1)[1])
        return value.replace(year=year, month=month + 1, day=day)

    def __radd__(self, other: Any) -> Any:
        if isinstance(other, dt.date):
            return self.shift(other)
        return NotImplemented

    def __rsub__(self, other: Any) -> Any:
        if isinstance(other, dt.date):
            return self.shift(other, -1)
        return NotImplemented

    def __neg__(self) -> Months:
        return Months(-self.count)


def as_date(value: Any) -> dt.date:
    """A date from a date, a datetime (its date) or an ISO text."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise RuleError(f"{value!r} is not a date")


@register_function(needs_env=True, returns="date", example="birth_date < today()")
def today(env: Evaluation) -> dt.date:
    """Today's date in the app timezone."""
    return env.today()


@register_function(needs_env=True, returns="datetime", example="starts_at > now()")
def now(env: Evaluation) -> dt.datetime:
    """The current date and time in the app timezone (timezone-aware)."""
    return env.current_time()


@register_function(params=("text",), returns="date", example="visit_date >= date('2024-01-01')")
def date(text: str) -> dt.date:
    """A date from an ISO text: the way to write a date literal."""
    return as_date(text)


def _span(unit: str, n: Any) -> dt.timedelta:
    if isinstance(n, bool) or not isinstance(n, (int, float)):
        raise RuleError(f"{unit}() needs a number, got {n!r}")
    try:
        return dt.timedelta(**{unit: n})
    except OverflowError as exc:
        raise RuleError(f"{unit}({n}) is out of range") from exc


@register_function(params=("number",), returns="duration", example="visit_date + days(3)")
def days(n: float) -> dt.timedelta:
    """A span of `n` days, to add to or subtract from a date."""
    return _span("days", n)


@register_function(params=("number",), returns="duration", example="starts_at - hours(24)")
def hours(n: float) -> dt.timedelta:
    """A span of `n` hours."""
    return _span("hours", n)


@register_function(params=("number",), returns="duration", example="starts_at + minutes(duration)")
def minutes(n: float) -> dt.timedelta:
    """A span of `n` minutes."""
    return _span("minutes", n)


@register_function(params=("integer",), returns="duration", example="last_visit + months(6)")
def months(n: int) -> Months:
    """A span of `n` calendar months (the day is clamped to the month's end)."""
    if isinstance(n, bool) or not isinstance(n, int) or abs(n) > 12 * 10_000:
        raise RuleError(f"months() needs a whole number, got {n!r}")
    return Months(n)


@register_function(params=(_DATES, _DATES), returns="integer", example="years_between(birth_date, today())")
def years_between(start: Any, end: Any) -> int:
    """Whole years from `start` to `end` (an age, from a birth date and today)."""
    a = start if type(start) is dt.date else as_date(start)
    b = end if type(end) is dt.date else as_date(end)
    return b.year - a.year - ((b.month, b.day) < (a.month, a.day))


@register_function(params=(_DATES, _DATES), returns="integer", example="days_between(admitted_on, discharged_on)")
def days_between(start: Any, end: Any) -> int:
    """Whole days from `start` to `end` (negative when `end` is earlier)."""
    return (as_date(end) - as_date(start)).days


@register_function(params=(_DATES,), needs_env=True, returns="integer", example="days_since(last_visit) > 365")
def days_since(env: Evaluation, value: Any) -> int:
    """Whole days from `value` to today."""
    return (env.today() - as_date(value)).days


@register_function(params=(_DATES,), returns="date", example="start_of_month(today())")
def start_of_month(value: Any) -> dt.date:
    """The first day of `value`'s month."""
    return as_date(value).replace(day=1)


@register_function(params=(_DATES,), returns="integer", example="weekday(starts_at) <= 5")
def weekday(value: Any) -> int:
    """The ISO day of the week: 1 is Monday, 7 is Sunday."""
    return as_date(value).isoweekday()
