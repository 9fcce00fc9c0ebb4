"""The blueprint's navigation: the menu (`app.menu`) and each role's first page (`roles.ROLE.home`).

Both name entities, reports and dashboards, so `crm validate` checks them
(navigation_checks.py); the web app draws them (builder/web/menu.py, pages/home.py).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from engines.forms.models import LocalizedText, Spec

PAGES = ("home", "tasks", "inbox", "reports", "dashboards", "review", "audit", "outbox", "import")
Page = Literal["home", "tasks", "inbox", "reports", "dashboards", "review", "audit", "outbox", "import"]


class MenuItemSpec(Spec):
    """One entry: an entity's list, a report, a dashboard or one of the app's pages (exactly one)."""

    entity: str | None = None
    report: str | None = None
    dashboard: str | None = None
    page: Page | None = None
    label: LocalizedText | None = None  # default: the entity's, report's or dashboard's title

    @model_validator(mode="after")
    def _exactly_one(self) -> MenuItemSpec:
        named = [k for k in ("entity", "report", "dashboard", "page") if getattr(self, k) is not None]
        if len(named) != 1:
            raise ValueError("a menu entry names exactly one of entity, report, dashboard or page")
        return self


class MenuGroupSpec(Spec):
    """A titled group of entries, in order; a role sees the entries it may open."""

    label: LocalizedText | None = None
    items: list[MenuItemSpec] = Field(min_length=1)


class HomePanelSpec(Spec):
    """A short list on the home page: `filters` as on a list page, `today` for a date or time field."""

    entity: str
    title: LocalizedText | None = None
    filters: dict[str, Any] = Field(default_factory=dict)
    sort: str | None = None
    limit: int = Field(default=10, ge=1, le=50)
    group_by: str | None = None  # a link or select field: one group per value (appointments by doctor)
    columns: list[str] | None = None


class HomeSpec(Spec):
    """A role's first page: a dashboard (then `/` opens it) and/or panels."""

    dashboard: str | None = None
    panels: list[HomePanelSpec] = Field(default_factory=list)
