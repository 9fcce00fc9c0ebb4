"""The pydantic models of the `dashboards:` section: cards of reports, for some roles.

Only the models and their checks live here for now; the pages that draw a
dashboard (ECharts, a grid, global filters) come with the dashboards UI.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from engines.forms import LocalizedText
from engines.forms.models import Spec


class CardSpec(Spec):
    """One card: a report drawn as its chart, or one of its measures as a KPI."""

    report: str
    measure: str | None = None  # a KPI card shows this measure's total
    title: LocalizedText | None = None
    chart: Literal["line", "bar", "stacked_bar", "pie", "table", "kpi", "heatmap"] | None = None
    width: int = Field(default=6, ge=1, le=12)  # grid columns out of 12


class DashboardSpec(Spec):
    """A page of cards for some roles; `home_for` makes it their first page."""

    title: LocalizedText | None = None
    roles: list[str] = Field(min_length=1)
    home_for: list[str] = Field(default_factory=list)
    cards: list[CardSpec] = Field(min_length=1)
