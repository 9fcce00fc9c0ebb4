"""`crm validate` for the menu and the roles' home pages: every name they use must exist."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from engines.rules import Problem, did_you_mean

from .blueprint import Blueprint
from .navigation_spec import HomePanelSpec

SYSTEM_FIELDS = ("id", "created_at", "updated_at")


def check_navigation(blueprint: Blueprint) -> list[Problem]:
    """Problems of `app.menu` and of every `roles.ROLE.home`, located at the bad name."""
    return [*_check_menu(blueprint), *_check_homes(blueprint)]


def _check_menu(blueprint: Blueprint) -> Iterator[Problem]:
    known: dict[str, Mapping[str, Any]] = {
        "entity": blueprint.entities,
        "report": blueprint.reports,
        "dashboard": blueprint.dashboards,
    }
    for g, group in enumerate(blueprint.app.menu or []):
        for i, item in enumerate(group.items):
            for what, names in known.items():
                name = getattr(item, what)
                if name is not None and name not in names:
                    yield Problem(
                        ("app", "menu", g, "items", i, what),
                        f"menu.unknown_{what}",
                        f"there is no {what} `{name}`",
                        did_you_mean(name, names),
                    )


def _check_homes(blueprint: Blueprint) -> Iterator[Problem]:
    for role, spec in blueprint.roles.items():
        home = spec.home
        if home is None:
            continue
        loc = ("roles", role, "home")
        if home.dashboard is not None:
            board = blueprint.dashboards.get(home.dashboard)
            if board is None:
                yield Problem(
                    loc + ("dashboard",),
                    "home.unknown_dashboard",
                    f"there is no dashboard `{home.dashboard}`",
                    did_you_mean(home.dashboard, blueprint.dashboards),
                )
            elif role not in board.roles:
                yield Problem(
                    loc + ("dashboard",),
                    "home.dashboard_role",
                    f"dashboard `{home.dashboard}` is not shown to role `{role}`",
                    f"add `{role}` to its `roles:`",
                )
        for p, panel in enumerate(home.panels):
            yield from _check_panel(blueprint, panel, loc + ("panels", p))


def _check_panel(blueprint: Blueprint, panel: HomePanelSpec, loc: tuple) -> Iterator[Problem]:
    entity = blueprint.entities.get(panel.entity)
    if entity is None:
        yield Problem(
            loc + ("entity",),
            "home.unknown_entity",
            f"there is no entity `{panel.entity}`",
            did_you_mean(panel.entity, blueprint.entities),
        )
        return
    fields = entity.fields
    named = [("filters", key.partition("__")[0]) for key in panel.filters]
    named += [("columns", c) for c in panel.columns or []]
    named += [("sort", part.strip().lstrip("+-")) for part in (panel.sort or "").split(",") if part.strip()]
    if panel.group_by is not None:
        named.append(("group_by", panel.group_by))
    for key, name in named:
        if name not in fields and name not in SYSTEM_FIELDS:
            yield Problem(
                loc + (key,),
                "home.unknown_field",
                f"`{panel.entity}` has no field `{name}`",
                did_you_mean(name, fields),
            )
    if panel.group_by in fields and fields[panel.group_by].type not in ("link", "select", "state", "user"):
        yield Problem(loc + ("group_by",), "home.group_by", "group by a link, select, state or user field")
    for key, value in panel.filters.items():
        field = fields.get(key.partition("__")[0])
        if value == "today" and field is not None and field.type not in ("date", "datetime"):
            yield Problem(loc + ("filters", key), "home.today", "`today` filters a date or datetime field")
