"""Meaning checks of one dashboard: its roles, and the reports and measures its cards name."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from engines.forms import check_localized
from engines.rules import Loc, Problem

from .checks_reports import ReportContext, unknown_name
from .dashboard_spec import DashboardSpec
from .report_spec import ReportSpec


def check_dashboard(
    ctx: ReportContext, reports: Mapping[str, ReportSpec], name: str, spec: DashboardSpec
) -> Iterator[Problem]:
    """Every problem of dashboard `name`, located from the blueprint root."""
    loc: Loc = ("dashboards", name)
    if spec.title is not None:
        yield from check_localized(spec.title, loc + ("title",), ctx.locales)
    for key in ("roles", "home_for"):
        for index, role in enumerate(getattr(spec, key)):
            if role not in ctx.roles:
                yield unknown_name("role", role, ctx.roles, loc + (key, index), "dashboard.unknown_role")
    for index, role in enumerate(spec.home_for):
        if role in ctx.roles and role not in spec.roles:
            yield Problem(
                loc + ("home_for", index),
                "dashboard.home_not_shown",
                f"role `{role}` cannot see this dashboard, so it cannot be its home",
                "add the role to `roles:`",
            )
    for index, card in enumerate(spec.cards):
        at = loc + ("cards", index)
        report = reports.get(card.report)
        if report is None:
            yield unknown_name("report", card.report, reports, at + ("report",), "dashboard.unknown_report")
            continue
        if card.measure is not None and card.measure not in report.measures:
            yield unknown_name("measure", card.measure, report.measures, at + ("measure",), "dashboard.unknown_measure")
        if card.chart == "kpi" and card.measure is None:
            yield Problem(at, "dashboard.kpi_needs_measure", "a KPI card shows one measure", "add `measure:`")
