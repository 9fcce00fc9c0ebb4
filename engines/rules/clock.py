"""The clock rules read: the app's timezone, and a "now" tests can pin.

`today()` in a clinic in Berlin must be Berlin's date, not the server's, so every
date function asks this module. The timezone and now can be set for the whole
process (`set_timezone`, `pin_now`) or for one evaluation (`now=`, `timezone=`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import RuleError, ScopeError

_timezone: dt.tzinfo = ZoneInfo("UTC")
_pinned_now: dt.datetime | None = None


def _zone(name: str | dt.tzinfo) -> dt.tzinfo:
    if isinstance(name, dt.tzinfo):
        return name
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScopeError(f"unknown timezone {name!r}") from exc


def set_timezone(name: str | dt.tzinfo) -> None:
    """Use `name` (e.g. "Europe/Berlin") for today() and now() from now on."""
    global _timezone
    _timezone = _zone(name)


def get_timezone() -> dt.tzinfo:
    """The app timezone today() and now() use by default."""
    return _timezone


def set_now(moment: dt.datetime | None) -> None:
    """Pin now() to `moment` (None un-pins). A naive moment is read in the app timezone."""
    global _pinned_now
    _pinned_now = moment


@contextlib.contextmanager
def pin_now(moment: dt.datetime | dt.date | str) -> Iterator[None]:
    """Within the block, now() is `moment` (tests, and `examples:` runs)."""
    previous = _pinned_now
    set_now(as_moment(moment))
    try:
        yield
    finally:
        set_now(previous)


def as_moment(value: dt.datetime | dt.date | str) -> dt.datetime:
    """A datetime from a datetime, a date (midnight) or an ISO text."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError as exc:
            raise RuleError(f"{value!r} is not an ISO date or time") from exc
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    raise RuleError(f"{value!r} is not a date or time")


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation may use beyond its context: the clock and the related-records port.

    Functions that need it (today, now, count, ...) receive it as first argument.
    """

    related: Any = None  # a RelatedRecords port, or None
    now: dt.datetime | None = None
    timezone: dt.tzinfo | None = None

    @property
    def zone(self) -> dt.tzinfo:
        return self.timezone or _timezone

    def today(self) -> dt.date:
        """Today's date in the evaluation's timezone."""
        if self.now is None and _pinned_now is None:
            return dt.datetime.now(self.timezone or _timezone).date()
        return self.current_time().date()

    def current_time(self) -> dt.datetime:
        """Now, aware, in the evaluation's timezone."""
        zone = self.zone
        moment = self.now or _pinned_now
        if moment is None:
            return dt.datetime.now(zone).replace(microsecond=0)
        if moment.tzinfo is None:
            return moment.replace(tzinfo=zone)
        return moment.astimezone(zone)


DEFAULT_EVALUATION = Evaluation()


def evaluation(related: Any = None, now: Any = None, timezone: Any = None) -> Evaluation:
    """An Evaluation from keyword options; the shared default when none are given (fast path)."""
    if related is None and now is None and timezone is None:
        return DEFAULT_EVALUATION
    return Evaluation(
        related=related,
        now=None if now is None else as_moment(now),
        timezone=None if timezone is None else _zone(timezone),
    )
