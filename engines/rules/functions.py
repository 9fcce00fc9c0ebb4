"""The whitelisted function library expressions may call.

A registry of small functions, like Starlette's convertors: each is named, documented
and null-safe (a None argument gives None rather than an exception).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

FUNCTIONS: dict[str, Callable[..., Any]] = {}


def register_function(name: str | None = None):
    """Add a function to the library under `name` (default: its own name)."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        FUNCTIONS[name or fn.__name__] = fn
        return fn

    return decorate


@register_function()
def today() -> dt.date:
    """Today's date."""
    return dt.date.today()


@register_function()
def now() -> dt.datetime:
    """The current date and time."""
    return dt.datetime.now().replace(microsecond=0)


@register_function()
def days(n: float) -> dt.timedelta | None:
    """A span of `n` days, to add to or subtract from a date."""
    return None if n is None else dt.timedelta(days=n)


@register_function()
def hours(n: float) -> dt.timedelta | None:
    """A span of `n` hours."""
    return None if n is None else dt.timedelta(hours=n)


@register_function()
def minutes(n: float) -> dt.timedelta | None:
    """A span of `n` minutes."""
    return None if n is None else dt.timedelta(minutes=n)


def _as_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


@register_function()
def years_between(start: Any, end: Any) -> int | None:
    """Whole years from `start` to `end` (an age, from a birth date and today)."""
    a, b = _as_date(start), _as_date(end)
    if a is None or b is None:
        return None
    return b.year - a.year - ((b.month, b.day) < (a.month, a.day))


@register_function()
def days_since(value: Any) -> int | None:
    """Whole days from `value` to today."""
    d = _as_date(value)
    return None if d is None else (dt.date.today() - d).days
