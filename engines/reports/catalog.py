"""Check the `reports` and `dashboards` sections together, and keep them as one object.

`build_reports` runs every meaning check (all problems at once, located from the
blueprint root) and, when there are none, returns the `Reports` the builder keeps
and compiles per run (parameters, viewer and database differ per run).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from engines.forms import EntitySpec
from engines.rules import Problem

from .checks_dashboards import check_dashboard
from .checks_reports import ReportContext, check_report
from .checks_schedule import check_schedule
from .dashboard_spec import DashboardSpec
from .report_spec import ReportSpec


@dataclass
class Reports:
    """A blueprint's checked reports and dashboards, by name."""

    reports: Mapping[str, ReportSpec] = field(default_factory=dict)
    dashboards: Mapping[str, DashboardSpec] = field(default_factory=dict)

    def dashboards_for(self, role: str) -> list[str]:
        """The dashboards `role` may open, in blueprint order."""
        return [name for name, spec in self.dashboards.items() if role in spec.roles]


def build_reports(
    reports: Mapping[str, ReportSpec],
    dashboards: Mapping[str, DashboardSpec],
    entities: Mapping[str, EntitySpec],
    roles: Collection[str],
    *,
    locales: Collection[str] | None = None,
) -> tuple[Reports | None, list[Problem]]:
    """The checked Reports (None when there are problems) and every problem found."""
    ctx = ReportContext(entities, frozenset(roles), None if locales is None else frozenset(locales))
    problems: list[Problem] = []
    for name, spec in reports.items():
        problems.extend(check_report(ctx, name, spec))
        if spec.source in ctx.entities:
            problems.extend(check_schedule(ctx, spec, ("reports", name)))
    for name, dashboard in dashboards.items():
        problems.extend(check_dashboard(ctx, reports, name, dashboard))
    if problems:
        return None, problems
    return Reports(reports, dashboards), []
