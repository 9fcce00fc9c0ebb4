"""Meaning checks of a report's `schedule:`: a valid cron line, known roles, known parameters."""

from __future__ import annotations

from collections.abc import Iterator

from croniter import croniter  # type: ignore[import-untyped]

from engines.rules import Loc, Problem

from .checks_reports import ReportContext, unknown_name
from .report_spec import ReportSpec


def check_schedule(ctx: ReportContext, spec: ReportSpec, loc: Loc) -> Iterator[Problem]:
    """Every problem of `spec.schedule` (none when the report has no schedule)."""
    schedule = spec.schedule
    if schedule is None:
        return
    at = loc + ("schedule",)
    if not croniter.is_valid(schedule.cron):
        yield Problem(
            at + ("cron",),
            "report.bad_schedule",
            f"`{schedule.cron}` is not a cron line",
            'five fields: minute hour day month weekday, e.g. "0 7 * * 1" (07:00 every Monday)',
        )
    for index, role in enumerate(schedule.to_roles):
        if role not in ctx.roles:
            yield unknown_name("role", role, ctx.roles, at + ("to_roles", index), "report.unknown_role")
    for param in schedule.params:
        if param not in spec.parameters:
            yield unknown_name("parameter", param, spec.parameters, at + ("params", param), "report.unknown_parameter")
