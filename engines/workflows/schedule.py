"""Cron schedules in the app's timezone: is a line valid, and when is its next run."""

from __future__ import annotations

import datetime as dt

from croniter import CroniterBadCronError, croniter  # type: ignore[import-untyped]


def cron_problem(line: str) -> str | None:
    """Why `line` is not a valid five-field cron line, or None when it is."""
    if not isinstance(line, str) or len(line.split()) != 5:
        return "a schedule is five fields: minute hour day-of-month month day-of-week (e.g. `0 9 1 * *`)"
    try:
        croniter(line)
    except (CroniterBadCronError, ValueError, KeyError) as exc:
        return f"invalid cron line: {exc}"
    return None


def next_run(line: str, after: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The first moment after `after` that `line` names, read in `zone` (aware, in `zone`)."""
    local = after.astimezone(zone) if after.tzinfo else after.replace(tzinfo=zone)
    return croniter(line, local).get_next(dt.datetime)
