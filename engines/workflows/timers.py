"""Date-relative timers (`at:`), planned again whenever their record changes, and when one fires.

Timers live in the database keyed by (automation, record id); this module only
decides what they should be. `plan_timers` compares the record before and after a
write: a moved appointment moves its reminder, a cancelled one (its `if:` no
longer holds) cancels it, and a moment that has already passed when it is planned
is skipped with a reason instead of firing late. `due_verdict` decides, for a
timer found due after downtime, whether it still fires or is recorded as missed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .automation import Automation

PLANNED, CANCELLED, SKIPPED, UNCHANGED = "planned", "cancelled", "skipped", "unchanged"
FIRE, MISSED, WAIT = "fire", "missed", "wait"


@dataclass(frozen=True)
class TimerPlan:
    """What the timer (automation, record_id) should be after a write.

    planned: store it with `due` (insert or move); cancelled: delete the pending one;
    skipped: its moment passed before it was planned (record `reason`, never fire);
    unchanged: before and after give the same answer, leave the stored timer alone
    (it may have fired already).
    """

    automation: str
    record_id: Any
    status: str
    due: dt.datetime | None = None
    reason: str | None = None

    @property
    def key(self) -> tuple[str, Any]:
        return (self.automation, self.record_id)


def as_moment(value: Any, zone: dt.tzinfo) -> dt.datetime | None:
    """An aware datetime from what an `at:` gives: naive values and dates are local to the app."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=zone)
    raise TypeError(f"not a date or time: {value!r}")


def _wanted(
    automation: Automation, values: Mapping[str, Any] | None, now: dt.datetime, zone: dt.tzinfo, related: Any
) -> tuple[dt.datetime | None, str | None]:
    """The due moment for a record with `values` (None, with the reason, when there should be no timer)."""
    if values is None:
        return None, "the record was deleted"
    if not automation.holds(values, now, related):
        return None, f"the condition `{automation.spec.if_}` no longer holds"
    assert automation.at is not None
    due = as_moment(automation.evaluate(automation.at, values, now, related), zone)
    if due is None:
        return None, f"`{automation.spec.at}` gives no moment (an empty date)"
    return due, None


def plan_timers(
    automations: Iterable[Automation],
    entity: str,
    record_id: Any,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    now: dt.datetime,
    zone: dt.tzinfo,
    related: Any = None,
) -> list[TimerPlan]:
    """The `at:` timers of one record after a write (before=None: created; after=None: deleted)."""
    plans = []
    for automation in automations:
        if automation.entity != entity or automation.at is None:
            continue
        due, reason = _wanted(automation, after, now, zone, related)
        if before is not None and after is not None:
            previous, _ = _wanted(automation, before, now, zone, related)
            if previous == due:
                plans.append(TimerPlan(automation.name, record_id, UNCHANGED, due))
                continue
        if due is None:
            plans.append(TimerPlan(automation.name, record_id, CANCELLED, None, reason))
        elif due <= now:
            plans.append(
                TimerPlan(
                    automation.name,
                    record_id,
                    SKIPPED,
                    due,
                    f"its moment ({due.isoformat()}) had already passed when it was planned "
                    f"({now.astimezone(due.tzinfo).isoformat()})",
                )
            )
        else:
            plans.append(TimerPlan(automation.name, record_id, PLANNED, due))
    return plans


def due_verdict(due: dt.datetime, now: dt.datetime, grace: dt.timedelta) -> str:
    """For a stored timer: `wait` before its moment, `fire` within its grace, `missed` after it.

    After downtime a timer fires once on restart, unless it is older than its grace.
    """
    if now < due:
        return WAIT
    return FIRE if now - due <= grace else MISSED
